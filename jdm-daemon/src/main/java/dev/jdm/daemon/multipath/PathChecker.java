package dev.jdm.daemon.multipath;

import dev.jdm.core.DmException;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.TargetLine;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The multipathd role: every interval it probes each path of every multipath device the way multipath's
 * {@code directio} checker does (open the path's device, read its first 4 KiB within the checker timeout, close;
 * the engine hands it the very device the table holds, so an NBD path's probe goes through the target's own client
 * and succeeds only once that client is connected again),
 * fails in the target the paths that stop answering, reinstates the ones that answer again, and switches back to the
 * first group as the failback policy says. It works from the target's table and status text and acts with its
 * messages only, as multipathd does with the kernel. Probes of different paths run at the same time, each on its own
 * virtual thread; a path gets its next probe only once the last one returned.
 */
public final class PathChecker implements AutoCloseable {
    /** The largest probe: multipath's directio reads one block of at most 4 KiB. */
    private static final int PROBE_BYTES = 4096;

    /**
     * @param interval how often every path is probed (multipath.conf's polling_interval)
     * @param timeout  how long a probe may take before it counts as failed (checker_timeout)
     */
    public record Settings(Duration interval, Duration timeout, Failback failback) {
        public static final Settings DEFAULT = new Settings(Duration.ofSeconds(5), Duration.ofSeconds(30), Failback.MANUAL);
    }

    /** What the checker found on a path, in multipath's words. */
    public enum State {
        UNCHECKED("undef"), PENDING("i/o pending"), READY("ready"), FAULTY("faulty"), TIMEOUT("i/o timeout");

        public final String word;

        State(String word) {
            this.word = word;
        }
    }

    /** Whether the path's device could be opened by the last probe, in multipath's words for a device's state. */
    public enum Online {
        UNKNOWN("unknown"), RUNNING("running"), OFFLINE("offline");

        public final String word;

        Online(String word) {
            this.word = word;
        }
    }

    /** A path's checker state and when it last changed. */
    public record PathReport(State state, Online online, Instant since) {
        static final PathReport UNCHECKED = new PathReport(State.UNCHECKED, Online.UNKNOWN, null);
    }

    private record Probe(State state, Online online) {
    }

    private static final class CheckedPath {
        final String dev;
        State state = State.UNCHECKED;
        Online online = Online.UNKNOWN;
        Instant since = Instant.now();
        boolean probing;

        CheckedPath(String dev) {
            this.dev = dev;
        }
    }

    /** One multipath device: its paths' records, and a deferred failback that waits. */
    private static final class Watched {
        final String name;
        final ReentrantLock lock = new ReentrantLock();
        final Map<String, CheckedPath> paths = new LinkedHashMap<>();
        ScheduledFuture<?> failback;

        Watched(String name) {
            this.name = name;
        }
    }

    private final DeviceMapper dm;
    private final Settings settings;
    private final PrintStream log;
    private final Map<String, Watched> watched = new ConcurrentHashMap<>();
    private final ScheduledExecutorService timer;
    private volatile boolean closed;

    private PathChecker(DeviceMapper dm, Settings settings, PrintStream log) {
        this.dm = dm;
        this.settings = settings;
        this.log = log;
        this.timer = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("jdm-path-checker").daemon().factory());
    }

    /** Starts checking at once and then every {@code settings.interval()}. */
    public static PathChecker start(DeviceMapper dm, Settings settings, PrintStream log) {
        PathChecker c = new PathChecker(dm, settings, log);
        c.timer.scheduleWithFixedDelay(c::checkAll, 0, settings.interval().toNanos(), TimeUnit.NANOSECONDS);
        return c;
    }

    public Settings settings() {
        return settings;
    }

    /** The checker's record of each path of a device, by the path's device text; empty for a device it has not seen. */
    public Map<String, PathReport> report(String name) {
        Watched w = watched.get(name);
        if (w == null) {
            return Map.of();
        }
        w.lock.lock();
        try {
            Map<String, PathReport> out = new LinkedHashMap<>();
            w.paths.forEach((dev, p) -> out.put(dev, new PathReport(p.state, p.online, p.since)));
            return out;
        } finally {
            w.lock.unlock();
        }
    }

    /** The device's map, or null when it is not (or no longer) a multipath device. */
    private MultipathMap read(String name) {
        try {
            List<TargetLine> table = dm.table(name, false);
            List<TargetLine> status = dm.status(name, false);
            if (!isMultipath(table) || !isMultipath(status)) {
                return null;
            }
            return MultipathMap.parse(table.getFirst().params(), status.getFirst().params());
        } catch (DmException e) {
            return null; // removed meanwhile: nothing to check
        } catch (MultipathMap.ParseException e) {
            // A table swapped between the two reads; the next round sees one of them whole.
            return null;
        }
    }

    private static boolean isMultipath(List<TargetLine> lines) {
        return lines.size() == 1 && lines.getFirst().type().equals("multipath");
    }

    private boolean suspended(String name) {
        try {
            return dm.info(name).suspended();
        } catch (DmException e) {
            return true; // removed: leave it alone like a suspended one
        }
    }

    private void checkAll() {
        try {
            Set<String> seen = new HashSet<>();
            for (String name : dm.names()) {
                MultipathMap map = read(name);
                if (map == null) {
                    continue;
                }
                seen.add(name);
                if (suspended(name)) {
                    continue; // its messages would be refused; it is checked again once resumed
                }
                Watched w = watched.computeIfAbsent(name, Watched::new);
                w.lock.lock();
                try {
                    Set<String> devs = new LinkedHashSet<>(); // table order, for the report
                    map.groups().forEach(g -> g.paths().forEach(p -> devs.add(p.dev())));
                    w.paths.keySet().retainAll(devs);
                    devs.forEach(d -> w.paths.computeIfAbsent(d, CheckedPath::new));
                    w.paths.values().stream().filter(p -> !p.probing).forEach(p -> startProbe(w, p));
                } finally {
                    w.lock.unlock();
                }
            }
            watched.keySet().retainAll(seen);
        } catch (RuntimeException e) {
            // The next round tries again; a dead timer would stop checking for good.
            log.println("jdm daemon: path checker: " + e);
        }
    }

    /** Called with the device's lock held. */
    private void startProbe(Watched w, CheckedPath p) {
        p.probing = true;
        if (p.state == State.UNCHECKED) {
            p.state = State.PENDING;
        }
        CompletableFuture<Probe> result = new CompletableFuture<>();
        Thread.ofVirtual().name("jdm-path-probe " + p.dev).start(() -> {
            Probe r = probe(p.dev);
            w.lock.lock();
            try {
                p.probing = false;
            } finally {
                w.lock.unlock();
            }
            result.complete(r);
        });
        // A probe still reading at the timeout counts as failed; the late answer is dropped.
        result.completeOnTimeout(new Probe(State.TIMEOUT, Online.RUNNING), settings.timeout().toNanos(), TimeUnit.NANOSECONDS)
                .thenAcceptAsync(r -> settle(w, p, r), PathChecker::runVirtual);
    }

    private static void runVirtual(Runnable r) {
        Thread.ofVirtual().name("jdm-path-settle").start(r);
    }

    /** multipath's directio check: open the path's own device, read its first block, close it. */
    private Probe probe(String dev) {
        DeviceMapper.OpenedDevice opened;
        try {
            opened = dm.openDevice(dev);
        } catch (DmException | RuntimeException e) {
            return new Probe(State.FAULTY, Online.OFFLINE);
        }
        try (opened) {
            int bytes = (int) Math.min(PROBE_BYTES, opened.device().size());
            opened.device().read(0, ByteBuffer.allocate(bytes));
            return new Probe(State.READY, Online.RUNNING);
        } catch (IOException | RuntimeException e) {
            return new Probe(State.FAULTY, Online.RUNNING);
        }
    }

    /** Records a probe's result and makes the target agree with it. */
    private void settle(Watched w, CheckedPath p, Probe r) {
        if (closed) {
            return;
        }
        w.lock.lock();
        try {
            if (w.paths.get(p.dev) != p) {
                return; // the path left the table meanwhile
            }
            if (r.state() != p.state) {
                p.state = r.state();
                p.since = Instant.now();
            }
            p.online = r.online();
            MultipathMap map = read(w.name);
            if (map == null || suspended(w.name)) {
                return;
            }
            for (MultipathMap.Group g : map.groups()) {
                for (MultipathMap.Path path : g.paths()) {
                    if (path.dev().equals(p.dev)) {
                        agree(w, p, path);
                        return;
                    }
                }
            }
        } finally {
            w.lock.unlock();
        }
    }

    private void agree(Watched w, CheckedPath p, MultipathMap.Path path) {
        boolean up = p.state == State.READY;
        if (up && !path.active()) {
            if (send(w, "reinstate_path", p.dev)) {
                failback(w, p);
            }
        } else if (!up && path.active()) {
            if (send(w, "fail_path", p.dev)) {
                cancelFailback(w); // as multipathd: a failing path calls off a failback that waits
            }
        }
    }

    /** After a path came back: switch to the first group with a usable path if the failback policy says so. */
    private void failback(Watched w, CheckedPath cameBack) {
        MultipathMap map = read(w.name);
        if (map == null) {
            return;
        }
        MultipathMap.Group best = map.groups().stream().filter(MultipathMap.Group::hasActivePath).findFirst().orElse(null);
        if (best == null || best.number() == map.groupNumber()) {
            return;
        }
        switch (settings.failback().kind()) {
            case MANUAL -> {
            }
            case IMMEDIATE -> send(w, "switch_group", Integer.toString(best.number()));
            case FOLLOWOVER -> {
                if (firstToComeBack(w, best, cameBack)) {
                    send(w, "switch_group", Integer.toString(best.number()));
                }
            }
            case DEFERRED -> {
                if (w.failback == null) {
                    w.failback = timer.schedule(() -> deferredFailback(w), settings.failback().delay().toNanos(), TimeUnit.NANOSECONDS);
                }
            }
        }
    }

    /** followover: the path is in the group and every other path of it is down, so the group just came back. */
    private static boolean firstToComeBack(Watched w, MultipathMap.Group group, CheckedPath cameBack) {
        boolean inGroup = false;
        for (MultipathMap.Path path : group.paths()) {
            if (path.dev().equals(cameBack.dev)) {
                inGroup = true;
                continue;
            }
            CheckedPath other = w.paths.get(path.dev());
            if (other == null || (other.state != State.FAULTY && other.state != State.TIMEOUT)) {
                return false;
            }
        }
        return inGroup;
    }

    private void deferredFailback(Watched w) {
        w.lock.lock();
        try {
            w.failback = null;
            if (closed || suspended(w.name)) {
                return;
            }
            MultipathMap map = read(w.name);
            if (map == null) {
                return;
            }
            map.groups().stream().filter(MultipathMap.Group::hasActivePath).findFirst()
                    .filter(best -> best.number() != map.groupNumber())
                    .ifPresent(best -> send(w, "switch_group", Integer.toString(best.number())));
        } finally {
            w.lock.unlock();
        }
    }

    private static void cancelFailback(Watched w) {
        if (w.failback != null) {
            w.failback.cancel(false);
            w.failback = null;
        }
    }

    /** Sends a message to the device; false when it was refused (removed, suspended meanwhile). */
    private boolean send(Watched w, String message, String arg) {
        try {
            dm.message(w.name, 0, List.of(message, arg));
            log.println("jdm daemon: " + w.name + ": " + message + " " + arg);
            return true;
        } catch (DmException e) {
            log.println("jdm daemon: " + w.name + ": " + message + " " + arg + " refused: " + e.getMessage());
            return false;
        }
    }

    @Override
    public void close() {
        closed = true;
        timer.shutdownNow();
    }
}
