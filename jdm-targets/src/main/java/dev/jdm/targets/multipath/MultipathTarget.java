package dev.jdm.targets.multipath;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.RequeueException;
import dev.jdm.core.spi.Target;
import dev.jdm.core.spi.TargetContext;
import dev.jdm.core.spi.TargetException;
import dev.jdm.core.spi.TargetType;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;

/**
 * {@code multipath} (dm-mpath.c 1.14.0): several paths to the same storage in priority groups; each I/O goes
 * down one path, chosen by the group's {@link PathSelector}, and an I/O that fails the way a path fails
 * ({@link BlockIoException#isPathError}) fails that path and goes again down another. With no usable path left
 * I/O waits when {@code queue_if_no_path} is set (until a path comes back, the mode is switched off,
 * {@link MultipathQueueTimeout} runs out, or a suspend), else fails with EIO. The table syntax is in
 * {@link MultipathTable}; docs/targets.md has the status fields and messages.
 * <p>
 * Which group: a group named by switch_group (or the initial group) first, then the current one, then every
 * group not bypassed in table order, then the bypassed ones (the kernel's choose_pgpath). A suspend with flush
 * switches queue_if_no_path off until resume, so the waiting I/O fails and the suspend completes; a noflush
 * suspend hands the waiting and newly arriving pathless I/O back to the mapped device ({@link RequeueException}),
 * which submits it again after the resume, through a reloaded table if one was loaded meanwhile.
 */
public final class MultipathTarget implements Target {

    public static final class Type implements TargetType {
        @Override
        public String name() {
            return "multipath";
        }

        @Override
        public Version version() {
            return new Version(1, 14, 0);
        }

        @Override
        public Set<Feature> features() {
            return EnumSet.of(Feature.SINGLETON, Feature.IMMUTABLE);
        }

        @Override
        public Target construct(TargetContext ctx, Args args) throws TargetException {
            return new MultipathTarget(ctx, MultipathTable.parse(ctx, args, PathSelectors.CLOCK), PathSelectors.CLOCK);
        }
    }

    private static final long NO_DEADLINE = Long.MAX_VALUE;

    private final TargetContext ctx;
    private final MultipathTable.Features features;
    private final List<PriorityGroup> groups;
    private final LongSupplier clock;

    private final ReentrantLock lock = new ReentrantLock();
    /** Signalled whenever waiting I/O may have somewhere to go, or must stop waiting. */
    private final Condition pathsChanged = lock.newCondition();
    // All below guarded by lock.
    private boolean queueIfNoPath;
    /** queue_if_no_path as it was before a suspend, restored by resume (MPATHF_SAVED_QUEUE_IF_NO_PATH). */
    private boolean savedQueueIfNoPath;
    /** MPATHF_QUEUE_IO, shown in the status: set until the first I/O picks a group (no hardware handler to wait for). */
    private boolean queueIo = true;
    private boolean noflushSuspending;
    private boolean suspended;
    private PriorityGroup currentGroup;
    private PriorityGroup nextGroup;
    private int validPaths;
    /** When waiting with no path gives up (System.nanoTime), or NO_DEADLINE. */
    private long noPathDeadline = NO_DEADLINE;

    private MultipathTarget(TargetContext ctx, MultipathTable table, LongSupplier clock) {
        this.ctx = ctx;
        this.features = table.features();
        this.groups = table.groups();
        this.clock = clock;
        this.queueIfNoPath = features.queueIfNoPath();
        if (table.initialGroup() >= 1 && table.initialGroup() <= groups.size()) {
            nextGroup = groups.get(table.initialGroup() - 1);
        }
        validPaths = groups.stream().mapToInt(g -> g.paths.size()).sum();
        locked(this::armNoPathTimeout);
    }

    private void locked(Runnable action) {
        lock.lock();
        try {
            action.run();
        } finally {
            lock.unlock();
        }
    }

    // ---- path choice ----------------------------------------------------------------------------------

    /** The kernel's choose_pgpath: a path and its group, or null; under lock. */
    private PriorityGroup.Path choosePath(long bytes) {
        if (validPaths == 0) {
            queueIo = false;
            currentGroup = null;
            return null;
        }
        if (nextGroup != null) {
            PriorityGroup next = nextGroup;
            nextGroup = null;
            PriorityGroup.Path p = choosePathIn(next, bytes);
            if (p != null) {
                return p;
            }
        }
        if (currentGroup != null) {
            PriorityGroup.Path p = choosePathIn(currentGroup, bytes);
            if (p != null) {
                return p;
            }
        }
        for (boolean bypassed : new boolean[] {false, true}) {
            for (PriorityGroup g : groups) {
                if (g.bypassed == bypassed) {
                    PriorityGroup.Path p = choosePathIn(g, bytes);
                    if (p != null) {
                        return p;
                    }
                }
            }
        }
        currentGroup = null;
        return null;
    }

    private PriorityGroup.Path choosePathIn(PriorityGroup g, long bytes) {
        int index = g.selector.selectPath(bytes);
        if (index < 0) {
            return null;
        }
        if (currentGroup != g) {
            currentGroup = g;
            queueIo = false; // no hardware handler to initialise the group first
        }
        return g.paths.get(index);
    }

    /**
     * A path for an I/O of {@code bytes}, its start counted by the selector. With none: waits while
     * queue_if_no_path, requeues during a noflush suspend, else EIO ({@code cause}: the last path's error).
     */
    private PriorityGroup.Path startIo(long bytes, IOException cause) throws IOException {
        lock.lock();
        try {
            while (true) {
                expireNoPathTimeout();
                PriorityGroup.Path p = choosePath(bytes);
                if (p != null) {
                    p.group.selector.startIo(p.index, bytes);
                    return p;
                }
                if (queueIfNoPath) {
                    awaitPath();
                } else if (noflushSuspending) {
                    throw new RequeueException();
                } else {
                    throw new BlockIoException(Errno.EIO, "multipath device " + ctx.deviceName() + " has no usable path"
                            + (cause != null ? " (the last failed: " + cause.getMessage() + ")" : ""), cause);
                }
            }
        } finally {
            lock.unlock();
        }
    }

    private void awaitPath() throws BlockIoException {
        try {
            if (noPathDeadline == NO_DEADLINE) {
                pathsChanged.await();
            } else {
                pathsChanged.awaitNanos(noPathDeadline - System.nanoTime());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BlockIoException(Errno.EIO, "interrupted while waiting for a multipath path", e);
        }
    }

    /** One transfer on a device; a failed try is rewound before the next path gets it. */
    private interface PathIo {
        void run(BlockDevice device) throws IOException;
    }

    /** Sends an I/O down a path, failing paths and trying others on path errors (multipath_end_io_bio). */
    private void onPath(long bytes, PathIo io, Runnable rewind) throws IOException {
        IOException lastPathError = null;
        while (true) {
            PriorityGroup.Path p = startIo(bytes, lastPathError);
            long start = clock.getAsLong();
            try {
                io.run(p.device);
                return;
            } catch (IOException e) {
                if (!BlockIoException.isPathError(e)) {
                    throw e;
                }
                failPath(p);
                lastPathError = e;
                rewind.run();
            } finally {
                p.group.selector.endIo(p.index, bytes, start);
            }
        }
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        int position = dst.position();
        onPath(dst.remaining(), d -> d.read(offset, dst), () -> dst.position(position));
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        int position = src.position();
        onPath(src.remaining(), d -> d.write(offset, src, fua), () -> src.position(position));
    }

    /** One flush, down the path the selector picks, as the kernel's single flush bio (num_flush_bios = 1). */
    @Override
    public void flush() throws IOException {
        onPath(0, BlockDevice::flush, () -> { });
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        onPath(length, d -> d.discard(offset, length), () -> { });
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayUnmap) throws IOException {
        onPath(length, d -> d.writeZeroes(offset, length, mayUnmap), () -> { });
    }

    @Override
    public boolean supportsDiscard() {
        return devices().stream().allMatch(BlockDevice::supportsDiscard);
    }

    @Override
    public List<BlockDevice> devices() {
        List<BlockDevice> devices = new ArrayList<>();
        groups.forEach(g -> g.paths.forEach(p -> devices.add(p.device)));
        return devices;
    }

    // ---- path and mode changes --------------------------------------------------------------------------

    /** The kernel's fail_path: out of the selector's choice, fail_count up, an event. */
    private void failPath(PriorityGroup.Path p) {
        lock.lock();
        try {
            if (!p.active) {
                return;
            }
            p.group.selector.failPath(p.index);
            p.active = false;
            p.failCount++;
            validPaths--;
            armNoPathTimeout();
        } finally {
            lock.unlock();
        }
        ctx.raiseEvent();
    }

    private void reinstatePath(PriorityGroup.Path p) {
        lock.lock();
        try {
            if (p.active) {
                noPathDeadline = NO_DEADLINE;
                return;
            }
            p.group.selector.reinstatePath(p.index);
            p.active = true;
            validPaths++;
            noPathDeadline = NO_DEADLINE;
            pathsChanged.signalAll();
        } finally {
            lock.unlock();
        }
        ctx.raiseEvent();
    }

    /** The kernel's queue_if_no_path(): {@code saveOld} from presuspend keeps the mode for resume. Under lock. */
    private void setQueueIfNoPath(boolean queue, boolean saveOld) {
        if (saveOld) {
            if (queueIfNoPath || !savedQueueIfNoPath) { // saving "off" over a saved "on" would lose it
                savedQueueIfNoPath = queueIfNoPath;
            }
        } else if (!queue) {
            savedQueueIfNoPath = false; // fail_if_no_path holds past the resume too
        }
        queueIfNoPath = queue;
        if (!queue) {
            pathsChanged.signalAll();
        }
    }

    /** The kernel's enable_nopath_timeout: with no path and queueing, waiting ends after the module parameter. */
    private void armNoPathTimeout() {
        int seconds = MultipathQueueTimeout.seconds();
        if (seconds > 0 && validPaths == 0 && queueIfNoPath) {
            noPathDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            pathsChanged.signalAll(); // waiters take the new deadline
        }
    }

    /**
     * The kernel's nopath timer fires on its own; here whoever looks first after the deadline (a waiting I/O,
     * a status, a message) applies it: queueing switched off, as the kernel's queue_if_no_path_timeout_work.
     */
    private void expireNoPathTimeout() {
        if (noPathDeadline != NO_DEADLINE && System.nanoTime() - noPathDeadline >= 0) {
            noPathDeadline = NO_DEADLINE;
            setQueueIfNoPath(false, false);
        }
    }

    @Override
    public void presuspend(boolean noflush) {
        locked(() -> {
            setQueueIfNoPath(false, true);
            noflushSuspending = noflush;
            pathsChanged.signalAll();
        });
    }

    @Override
    public void postsuspend() {
        locked(() -> suspended = true);
    }

    @Override
    public void resume() {
        locked(() -> {
            if (savedQueueIfNoPath) {
                queueIfNoPath = true;
                savedQueueIfNoPath = false;
            }
            noflushSuspending = false;
            suspended = false;
        });
    }

    // ---- messages -----------------------------------------------------------------------------------------

    /**
     * The kernel's multipath_message: {@code queue_if_no_path}, {@code fail_if_no_path}, {@code disable_group N},
     * {@code enable_group N}, {@code switch_group N}, {@code fail_path DEV}, {@code reinstate_path DEV}; EBUSY
     * while suspended.
     */
    @Override
    public String message(Args argv) throws DmException {
        String command = Args.lowerCase(argv.get(0));
        boolean event;
        lock.lock();
        try {
            if (suspended) {
                throw new DmException(Errno.EBUSY, "multipath device " + ctx.deviceName()
                        + " is suspended: messages wait for the resume");
            }
            expireNoPathTimeout();
            if (argv.count() == 1 && command.equals("queue_if_no_path")) {
                setQueueIfNoPath(true, false);
                armNoPathTimeout();
                return null;
            }
            if (argv.count() == 1 && command.equals("fail_if_no_path")) {
                setQueueIfNoPath(false, false);
                noPathDeadline = NO_DEADLINE;
                return null;
            }
            if (argv.count() != 2) {
                throw new DmException(Errno.EINVAL, "Invalid multipath message arguments. Expected 2 arguments, got "
                        + argv.count() + ".");
            }
            String operand = argv.get(1);
            event = switch (command) {
                case "disable_group" -> bypass(group(operand, "bypass_pg"), true);
                case "enable_group" -> bypass(group(operand, "bypass_pg"), false);
                case "switch_group" -> switchGroup(group(operand, "switch_pg_num"));
                case "fail_path", "reinstate_path" -> false;
                default -> throw new DmException(Errno.EINVAL, "Unrecognised multipath message received: " + argv.get(0));
            };
        } finally {
            lock.unlock();
        }
        if (event) {
            ctx.raiseEvent();
            return null;
        }
        List<PriorityGroup.Path> named = pathsNamed(argv.get(1));
        for (PriorityGroup.Path p : named) {
            if (command.equals("fail_path")) {
                failPath(p);
            } else {
                reinstatePath(p);
            }
        }
        return null;
    }

    /** A group number as the kernel reads it ({@code %u}, 1 to the number of groups); {@code function} names the check. */
    private PriorityGroup group(String text, String function) throws DmException {
        OptionalLong n = Args.Rule.SCANF_U32.parse(text);
        if (n.isEmpty() || n.getAsLong() == 0 || n.getAsLong() > groups.size()) {
            throw new DmException(Errno.EINVAL, "invalid PG number supplied to " + function + ": " + text
                    + (groups.isEmpty() ? " (the map has no groups)" : " (groups are 1 to " + groups.size() + ")"));
        }
        return groups.get((int) n.getAsLong() - 1);
    }

    private boolean bypass(PriorityGroup g, boolean bypassed) {
        g.bypassed = bypassed;
        currentGroup = null;
        pathsChanged.signalAll();
        return true;
    }

    /** From the next I/O on, this group; every group's bypass is cleared. */
    private boolean switchGroup(PriorityGroup g) {
        groups.forEach(other -> other.bypassed = false);
        currentGroup = null;
        nextGroup = g;
        pathsChanged.signalAll();
        return true;
    }

    /** Paths by the name the table prints, the spec the table line gave, or major:minor (which is what it prints). */
    private List<PriorityGroup.Path> pathsNamed(String name) throws DmException {
        List<PriorityGroup.Path> named = new ArrayList<>();
        groups.forEach(g -> g.paths.stream().filter(p -> p.isNamed(name)).forEach(named::add));
        if (named.isEmpty()) {
            throw new DmException(Errno.EINVAL, "message: error getting device " + name + ": no path of this map is "
                    + name + " (name it as the table prints it or as the table line gave it)");
        }
        return named;
    }

    // ---- status -------------------------------------------------------------------------------------------

    /**
     * {@code 2 <queue_io> <pg_init_count> 0 <#groups> <group>} then per group {@code <A|D|E> <selector status>
     * <#paths> <#path info args>} and per path {@code <dev> <A|F> <fail_count> <selector path info>}.
     */
    @Override
    public String status() {
        lock.lock();
        try {
            expireNoPathTimeout();
            StringBuilder sb = new StringBuilder("2 ").append(queueIo ? 1 : 0).append(" 0 0 ");
            appendGroupCount(sb);
            for (PriorityGroup g : groups) {
                char state = g.bypassed ? 'D' : g == currentGroup ? 'A' : 'E';
                sb.append(state).append(' ').append(g.selector.groupStatus())
                        .append(g.paths.size()).append(' ').append(g.type.infoArgs()).append(' ');
                for (PriorityGroup.Path p : g.paths) {
                    sb.append(p.id()).append(' ').append(p.active ? 'A' : 'F').append(' ').append(p.failCount).append(' ')
                            .append(g.selector.pathStatus(p.index, false));
                }
            }
            return sb.toString();
        } finally {
            lock.unlock();
        }
    }

    /** The line as the kernel prints it back: queue_if_no_path as it is now, repeat counts as taken. */
    @Override
    public String table() {
        lock.lock();
        try {
            expireNoPathTimeout();
            StringBuilder sb = new StringBuilder(features.table(queueIfNoPath)).append("0 ");
            appendGroupCount(sb);
            for (PriorityGroup g : groups) {
                sb.append(g.type.name()).append(' ').append(g.selector.groupStatus())
                        .append(g.paths.size()).append(' ').append(g.type.tableArgs()).append(' ');
                for (PriorityGroup.Path p : g.paths) {
                    sb.append(p.id()).append(' ').append(g.selector.pathStatus(p.index, true));
                }
            }
            return sb.toString();
        } finally {
            lock.unlock();
        }
    }

    /** {@code <#groups> <group>}: the group to switch to, else the current one, else 1 (0 without groups). */
    private void appendGroupCount(StringBuilder sb) {
        PriorityGroup shown = nextGroup != null ? nextGroup : currentGroup;
        int number = shown != null ? shown.number : groups.isEmpty() ? 0 : 1;
        sb.append(groups.size()).append(' ').append(number).append(' ');
    }

    @Override
    public void close() {
        locked(() -> setQueueIfNoPath(false, false));
    }
}
