package dev.jdm.core.engine;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.ExtentSink;
import dev.jdm.core.io.IoSplit;
import dev.jdm.core.spi.RequeueException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A device-mapper device: a name, a live and an inactive table, a suspend gate and an event counter.
 * It is itself a {@link BlockDevice}, so it can be exported, or be the backing device of another
 * table. An I/O is split at target boundaries and each piece goes to its target.
 * <p>
 * It owns its state transitions, as dm.c's dm_suspend, dm_resume and dm_swap_table do;
 * {@link DeviceMapper} keeps the registry and calls them. What a target sees, in order:
 * <ul>
 * <li><b>load</b>: the new table's targets are constructed (the live table keeps serving); the
 *     inactive table it replaces, if any, is closed.</li>
 * <li><b>suspend</b>: {@code presuspend(noflush)} on each live target in table order; then no new
 *     I/O is admitted and in-flight I/O drains; then {@code postsuspend()} on each live target.
 *     Suspending a suspended device does nothing.</li>
 * <li><b>resume</b>: {@code preresume()} on each target of the table about to serve (the inactive
 *     one if loaded, else the live one); one that throws fails the resume with nothing changed.
 *     With an inactive table: the device is suspended first if it is not (the hooks above, on the
 *     old live table), the tables are swapped and the old live table is closed. Then
 *     {@code resume()} on each target of the live table, and I/O flows again.</li>
 * <li><b>remove</b>: in-flight I/O drains, then the live and inactive tables are closed, without
 *     suspend hooks. A forced remove of an open device first wipes its table: a table of
 *     {@code error} is loaded and resumed as above.</li>
 * </ul>
 */
public final class MappedDevice implements BlockDevice {
    /** The major number jdm reports for mapped devices (the one device-mapper usually gets). */
    public static final int MAJOR = 253;

    private final int minor;
    private volatile String name;
    private volatile String uuid;
    private volatile Table live;
    private volatile Table inactive;
    private volatile boolean deferredRemove;
    private volatile boolean removed;
    private final boolean ephemeral;
    private final IoGate gate = new IoGate();
    /** Serialises load/suspend/resume/remove of this device; never held while waiting on another device's lock. */
    final ReentrantLock control = new ReentrantLock();

    private final ReentrantLock eventLock = new ReentrantLock();
    private final Condition eventChanged = eventLock.newCondition();
    private long eventNr;

    private final ReentrantLock openLock = new ReentrantLock();
    private int openCount;
    private boolean exclusivelyOpen;
    private final List<Opener> openers = new CopyOnWriteArrayList<>();

    MappedDevice(String name, String uuid, int minor, boolean ephemeral) {
        this.name = name;
        this.uuid = uuid;
        this.minor = minor;
        this.ephemeral = ephemeral;
    }

    public String name() {
        return name;
    }

    void rename(String newName) {
        this.name = newName;
    }

    public String uuid() {
        return uuid;
    }

    void setUuid(String uuid) {
        this.uuid = uuid;
    }

    public int minor() {
        return minor;
    }

    @Override
    public String id() {
        return MAJOR + ":" + minor;
    }

    Table live() {
        return live;
    }

    Table inactive() {
        return inactive;
    }

    boolean isSuspended() {
        return gate.isSuspended();
    }

    /** The device as it is now; taken under the control lock so that it is one change's result. */
    DeviceSnapshot snapshot() {
        control.lock();
        try {
            Table l = live;
            Table i = inactive;
            return new DeviceSnapshot(name, uuid, minor, ephemeral, isSuspended(), l == null ? null : l.text(),
                    l != null && l.readOnly(), i == null ? null : i.text(), i != null && i.readOnly());
        } finally {
            control.unlock();
        }
    }

    /** Whether either of its tables uses {@code other} directly. */
    boolean uses(MappedDevice other) {
        Table l = live;
        Table i = inactive;
        return (l != null && l.devices().contains(other)) || (i != null && i.devices().contains(other));
    }

    /** A device its tables name as {@code /dev/mapper/OLD} was renamed; whether the text of either changed. */
    boolean followRename(String oldName, String newName) {
        control.lock();
        try {
            boolean liveChanged = live != null && live.followRename(oldName, newName);
            boolean inactiveChanged = inactive != null && inactive.followRename(oldName, newName);
            return liveChanged || inactiveChanged;
        } finally {
            control.unlock();
        }
    }

    // ---- state transitions: load, suspend, resume, swap, remove (the hook order is in the class comment) ----

    /** Puts a built table in the inactive slot (table_load), closing the one it replaces. */
    void load(Table t) {
        control.lock();
        try {
            Table old = inactive;
            inactive = t;
            if (old != null) {
                old.destroy();
            }
        } finally {
            control.unlock();
        }
    }

    /** Empties the inactive slot (table_clear). */
    void clearInactive() {
        load(null);
    }

    /** Stops new I/O and waits for in-flight I/O; false, doing nothing, on a suspended device. */
    boolean suspend(boolean noflush) {
        control.lock();
        try {
            if (isSuspended()) {
                return false;
            }
            suspendLive(noflush);
            return true;
        } finally {
            control.unlock();
        }
    }

    private void suspendLive(boolean noflush) {
        Table t = live;
        if (t != null) {
            t.entries().forEach(e -> e.target().presuspend(noflush));
        }
        gate.suspendAndDrain();
        if (t != null) {
            t.entries().forEach(e -> e.target().postsuspend());
        }
    }

    /** Swaps in the inactive table if there is one (suspending first), then lets I/O flow. */
    void resume() throws DmException {
        control.lock();
        try {
            Table next = inactive != null ? inactive : live;
            if (next == null) {
                gate.resume();
                return;
            }
            for (Table.Entry e : next.entries()) {
                e.target().preresume();
            }
            if (inactive != null) {
                swapTable();
            }
            next.entries().forEach(e -> e.target().resume());
            gate.resume();
        } finally {
            control.unlock();
        }
    }

    /** dm_swap_table: the inactive table goes live on a suspended device; the old live table is closed. */
    private void swapTable() {
        if (!isSuspended()) {
            suspendLive(false);
        }
        Table old = live;
        live = inactive;
        inactive = null;
        if (old != null) {
            old.destroy();
        }
    }

    /**
     * Removal: no more I/O, waiters of events woken, both tables closed. Its I/O fails with ENXIO
     * from here on.
     */
    void destroy() {
        control.lock();
        try {
            gate.suspendAndDrain();
            raiseEvent();
            markRemoved();
            Table l = live;
            Table i = inactive;
            live = null;
            inactive = null;
            if (l != null) {
                l.destroy();
            }
            if (i != null) {
                i.destroy();
            }
        } finally {
            control.unlock();
        }
    }

    boolean isDeferredRemove() {
        return deferredRemove;
    }

    void setDeferredRemove(boolean deferred) {
        deferredRemove = deferred;
    }

    /** Whether the device has been removed (its I/O then fails with ENXIO). */
    public boolean isRemoved() {
        return removed;
    }

    private void markRemoved() {
        removed = true;
        gate.close();
        eventLock.lock();
        try {
            eventChanged.signalAll();
        } finally {
            eventLock.unlock();
        }
    }

    // ---- events -------------------------------------------------------------------------------

    public long eventNumber() {
        eventLock.lock();
        try {
            return eventNr;
        } finally {
            eventLock.unlock();
        }
    }

    void raiseEvent() {
        eventLock.lock();
        try {
            eventNr++;
            eventChanged.signalAll();
        } finally {
            eventLock.unlock();
        }
    }

    /** Waits until the event number differs from {@code seen}; returns the current one. */
    long awaitEvent(long seen, long timeoutMillis) throws InterruptedException {
        eventLock.lock();
        try {
            long nanos = TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
            while (eventNr == seen && !removed) {
                if (timeoutMillis >= 0) {
                    if (nanos <= 0) {
                        break;
                    }
                    nanos = eventChanged.awaitNanos(nanos);
                } else {
                    eventChanged.await();
                }
            }
            return eventNr;
        } finally {
            eventLock.unlock();
        }
    }

    // ---- opens and claims ----------------------------------------------------------------------

    /** Someone holding the device open; closing the handle gives it back. */
    public final class Opener implements AutoCloseable {
        private final String holder;
        private final boolean exclusive;
        private final Runnable onForcedRemove;
        private boolean closed;

        private Opener(String holder, boolean exclusive, Runnable onForcedRemove) {
            this.holder = holder;
            this.exclusive = exclusive;
            this.onForcedRemove = onForcedRemove;
        }

        public String holder() {
            return holder;
        }

        public MappedDevice device() {
            return MappedDevice.this;
        }

        @Override
        public void close() {
            release(this);
        }
    }

    /**
     * Opens the device. An exclusive open is refused with EBUSY while anyone else has it open, and
     * nobody may open it while it is held exclusively. {@code onForcedRemove} runs if the device is
     * removed with force while open (an NBD export closes its connections there).
     */
    public Opener open(String holder, boolean exclusive, Runnable onForcedRemove) throws DmException {
        openLock.lock();
        try {
            if (removed) {
                throw new DmException(Errno.ENXIO, "device " + name + " has been removed");
            }
            if (exclusivelyOpen) {
                throw new DmException(Errno.EBUSY, "device " + name + " is held exclusively by " + openers.getFirst().holder);
            }
            if (exclusive && openCount > 0) {
                throw new DmException(Errno.EBUSY, "device " + name + " is open (" + openCount + ") and cannot be claimed exclusively");
            }
            Opener o = new Opener(holder, exclusive, onForcedRemove);
            openers.add(o);
            openCount++;
            exclusivelyOpen = exclusive;
            return o;
        } finally {
            openLock.unlock();
        }
    }

    private void release(Opener o) {
        boolean last;
        openLock.lock();
        try {
            if (o.closed) {
                return;
            }
            o.closed = true;
            openers.remove(o);
            openCount--;
            if (o.exclusive) {
                exclusivelyOpen = false;
            }
            last = openCount == 0;
        } finally {
            openLock.unlock();
        }
        if (last && deferredRemove && onLastClose != null) {
            onLastClose.run();
        }
    }

    private volatile Runnable onLastClose;

    void onLastClose(Runnable r) {
        onLastClose = r;
    }

    public int openCount() {
        openLock.lock();
        try {
            return openCount;
        } finally {
            openLock.unlock();
        }
    }

    List<Opener> openers() {
        return List.copyOf(openers);
    }

    /**
     * Removal by force: every opener that said how to let go (an NBD connection, an attachment) is told
     * and its open is released here, so the removal does not race the opener's own clean-up. Openers
     * without that callback (tables of other devices) keep the device open.
     */
    void evictOpeners() {
        for (Opener o : openers) {
            if (o.onForcedRemove != null) {
                o.onForcedRemove.run();
                release(o);
            }
        }
    }

    // ---- I/O ------------------------------------------------------------------------------------

    @Override
    public long size() {
        Table t = live;
        return t == null ? 0 : t.sizeBytes();
    }

    @Override
    public int logicalBlockSize() {
        Table t = live;
        return t == null ? 512 : t.logicalBlockSize();
    }

    @Override
    public boolean isReadOnly() {
        Table t = live;
        return t != null && t.readOnly();
    }

    @Override
    public boolean supportsDiscard() {
        Table t = live;
        return t != null && t.supportsDiscard();
    }

    private Table admit() throws BlockIoException {
        if (!gate.enter()) {
            throw new BlockIoException(Errno.ENXIO, "device " + name + " has been removed");
        }
        Table t = live;
        if (t == null) {
            gate.exit();
            throw new BlockIoException(Errno.EIO, "device " + name + " has no live table");
        }
        return t;
    }

    private static void checkRange(Table t, long offset, long length) throws BlockIoException {
        if (offset < 0 || length < 0 || offset > t.sizeBytes() - length) {
            throw new BlockIoException(Errno.EIO, "I/O of " + length + " bytes at " + offset
                    + " is beyond the end of the device (" + t.sizeBytes() + " bytes)");
        }
    }

    private static void checkWritable(Table t, String name) throws BlockIoException {
        if (t.readOnly()) {
            throw new BlockIoException(Errno.EROFS, "device " + name + " is read-only");
        }
    }

    // An I/O inside one target calls it straight; only one that crosses goes through IoSplit (see there).

    // A target that throws RequeueException (a noflush suspend caught the I/O waiting for a path) gives
    // the whole I/O back: it leaves the gate, so the suspend can drain, and goes again, buffer rewound,
    // through the table that is live once the device resumes.

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        int start = dst.position();
        while (true) {
            Table t = admit();
            try {
                int length = dst.remaining();
                checkRange(t, offset, length);
                Table.Entry e = t.pieceAt(offset, length);
                if (offset + length <= e.endByte()) {
                    e.target().read(offset - e.startByte(), dst);
                } else {
                    IoSplit.forEach(offset, dst, t, (p, off, piece) -> p.target().read(off - p.startByte(), piece));
                }
                return;
            } catch (RequeueException requeued) {
                dst.position(start);
            } finally {
                gate.exit();
            }
            awaitSuspend();
        }
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        int start = src.position();
        while (true) {
            Table t = admit();
            try {
                checkWritable(t, name);
                int length = src.remaining();
                checkRange(t, offset, length);
                Table.Entry e = t.pieceAt(offset, length);
                if (offset + length <= e.endByte()) {
                    e.target().write(offset - e.startByte(), src, fua);
                } else {
                    IoSplit.forEach(offset, src, t, (p, off, piece) -> p.target().write(off - p.startByte(), piece, fua));
                }
                return;
            } catch (RequeueException requeued) {
                src.position(start);
            } finally {
                gate.exit();
            }
            awaitSuspend();
        }
    }

    /**
     * A target requeues from its presuspend on, a moment before the gate closes: until then the I/O it
     * gave back comes straight back to it, so it lets the suspending thread run. (Waiting here for the
     * gate to close would hang an I/O that missed a suspend and resume done in between.)
     */
    private static void awaitSuspend() {
        Thread.yield();
    }

    /**
     * Within one table entry only. A suspended device sends nothing rather than wait: its caller may
     * hold a lock of its own (a connection's reply lock), and its ordinary read waits without it. A
     * removed device or a range past the end also reads the ordinary way, which reports it.
     */
    @Override
    public boolean sendCached(long offset, long length, ByteBuffer prefix, WritableByteChannel out) throws IOException {
        if (!gate.tryEnter()) {
            return false;
        }
        try {
            Table t = live;
            if (t == null || length <= 0 || offset < 0 || offset > t.sizeBytes() - length) {
                return false;
            }
            Table.Entry e = t.entry(t.find(offset));
            return offset + length <= e.endByte() && e.target().sendCached(offset - e.startByte(), length, prefix, out);
        } finally {
            gate.exit();
        }
    }

    @Override
    public void flush() throws IOException {
        requeueable(Table::flush);
    }

    private interface TableOp {
        void apply(Table t) throws IOException;
    }

    /**
     * An operation on the live table that goes again once resumed if a target requeues it (see read, which
     * with write keeps its loop by hand: no lambda on the data path); a range operation may so repeat, as
     * the kernel's does.
     */
    private void requeueable(TableOp op) throws IOException {
        while (true) {
            Table t = admit();
            try {
                op.apply(t);
                return;
            } catch (RequeueException requeued) {
                // Round again below, outside the gate.
            } finally {
                gate.exit();
            }
            awaitSuspend();
        }
    }

    /** A byte-range operation on the part of one target it covers, in that target's offsets. */
    private interface TargetRangeOp {
        void apply(Table.Entry e, long targetOffset, long length) throws IOException;
    }

    private void splitRange(long offset, long length, boolean write, TargetRangeOp op) throws IOException {
        requeueable(t -> {
            if (write) {
                checkWritable(t, name);
            }
            checkRange(t, offset, length);
            IoSplit.forEach(offset, length, t, (e, off, len) -> op.apply(e, off - e.startByte(), len));
        });
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        splitRange(offset, length, true, (e, off, len) -> e.target().discard(off, len));
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayUnmap) throws IOException {
        splitRange(offset, length, true, (e, off, len) -> e.target().writeZeroes(off, len, mayUnmap));
    }

    @Override
    public void allocation(long offset, long length, ExtentSink sink) throws IOException {
        splitRange(offset, length, false, (e, off, len) -> e.target().allocation(off, len, sink));
    }

    /** Devices stay open for as long as they are registered; {@link DeviceMapper#remove} tears them down. */
    @Override
    public void close() {
    }

    @Override
    public String toString() {
        return "MappedDevice[" + name + " " + id() + "]";
    }
}
