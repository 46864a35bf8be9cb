package dev.jdm.daemon.multipath;

import dev.jdm.core.DmException;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.testing.TestFiles;
import dev.jdm.nbd.NbdServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The checker against a real engine and the real multipath target: paths are mapped devices over one file, broken by
 * an {@code error} table and mended by their linear table again, as a path server dies and comes back.
 */
class PathCheckerTest {
    private static final Duration INTERVAL = Duration.ofMillis(200);
    private static final Duration TIMEOUT = Duration.ofSeconds(1);
    /** Scheduling slack on a busy 2-core machine on top of what the checker promises. */
    private static final Duration SLACK = Duration.ofSeconds(2);

    @TempDir
    Path dir;
    private DeviceMapper dm;
    private Path image;
    private PathChecker checker;
    private final ByteArrayOutputStream logged = new ByteArrayOutputStream();

    @BeforeEach
    void engine() throws Exception {
        dm = DeviceMapper.create();
        image = TestFiles.sparse(dir, "lun.img", 1 << 20);
        for (String p : List.of("p1", "p2", "p3")) {
            dm.create(p, null, linear(), false);
        }
    }

    @AfterEach
    void close() {
        if (checker != null) {
            checker.close();
        }
        dm.close();
    }

    private String linear() {
        return "0 2048 linear " + image + " 0";
    }

    private void start(Failback failback) {
        checker = PathChecker.start(dm, new PathChecker.Settings(INTERVAL, TIMEOUT, failback),
                new PrintStream(logged, true, StandardCharsets.UTF_8));
    }

    /** A multipath device over the groups given, each a list of path devices, round-robin, initial group 1. */
    private void multipath(String name, String features, List<List<String>> groups) throws DmException {
        StringBuilder t = new StringBuilder("0 2048 multipath " + features + " 0 " + groups.size() + " 1");
        for (List<String> g : groups) {
            t.append(" round-robin 0 ").append(g.size()).append(" 1");
            g.forEach(p -> t.append(" /dev/mapper/").append(p).append(" 1"));
        }
        dm.create(name, null, t.toString(), false);
    }

    private String dev(String path) throws DmException {
        return "253:" + dm.info(path).minor();
    }

    private MultipathMap map(String name) throws Exception {
        return MultipathMap.parse(dm.table(name, false).getFirst().params(), dm.status(name, false).getFirst().params());
    }

    private MultipathMap.Path path(String name, String pathDevice) throws Exception {
        String dev = dev(pathDevice);
        return map(name).groups().stream().flatMap(g -> g.paths().stream()).filter(p -> p.dev().equals(dev)).findFirst().orElseThrow();
    }

    private void swapTable(String device, String table) throws DmException {
        dm.load(device, table, false);
        dm.suspend(device, false);
        dm.resume(device);
    }

    private static long awaitTrue(String what, Duration within, BooleanSupplier condition) throws InterruptedException {
        long start = System.nanoTime();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - start > within.toNanos()) {
                fail(what + " did not happen within " + within);
            }
            Thread.sleep(10);
        }
        return System.nanoTime() - start;
    }

    private interface Check {
        boolean holds() throws Exception;
    }

    private static BooleanSupplier quietly(Check c) {
        return () -> {
            try {
                return c.holds();
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        };
    }

    private PathChecker.State checked(String name, String pathDevice) throws DmException {
        return checker.report(name).getOrDefault(dev(pathDevice), PathChecker.PathReport.UNCHECKED).state();
    }

    private void awaitAllReady(String name, String... paths) throws Exception {
        awaitTrue("first checks of " + name, INTERVAL.plus(SLACK), quietly(() -> {
            for (String p : paths) {
                if (checked(name, p) != PathChecker.State.READY) {
                    return false;
                }
            }
            return true;
        }));
    }

    private void readThrough(String name) throws Exception {
        dm.device(name).read(0, ByteBuffer.allocate(4096));
    }

    @Test
    void aPathThatStopsAnsweringIsFailedAndOneThatAnswersAgainIsReinstated() throws Exception {
        multipath("mp", "0", List.of(List.of("p1", "p2")));
        start(Failback.MANUAL);
        awaitAllReady("mp", "p1", "p2");
        long events = dm.info("mp").eventNumber();

        swapTable("p1", "0 2048 error");
        awaitTrue("fail_path of p1", INTERVAL.plus(SLACK), quietly(() -> !path("mp", "p1").active()));
        assertEquals(new MultipathMap.Path(dev("p1"), List.of("1"), false, 1, List.of()), path("mp", "p1"));
        assertEquals(PathChecker.State.FAULTY, checked("mp", "p1"));
        assertEquals(true, path("mp", "p2").active());
        assertTrue(dm.info("mp").eventNumber() > events, "fail_path raises an event");

        swapTable("p1", linear());
        awaitTrue("reinstate_path of p1", INTERVAL.plus(SLACK), quietly(() -> path("mp", "p1").active()));
        assertEquals(new MultipathMap.Path(dev("p1"), List.of("1"), true, 1, List.of()), path("mp", "p1"));
        assertEquals(PathChecker.State.READY, checked("mp", "p1"));
        String log = logged.toString(StandardCharsets.UTF_8);
        assertTrue(log.contains("jdm daemon: mp: fail_path " + dev("p1") + "\n"), log);
        assertTrue(log.contains("jdm daemon: mp: reinstate_path " + dev("p1") + "\n"), log);
    }

    @Test
    void pathsAreOpenedAsTablesNameThemNbdExportsAndFilesToo() throws Exception {
        // The path server: another engine exporting the same file over NBD.
        try (DeviceMapper server = DeviceMapper.create()) {
            server.create("lun", null, linear(), false);
            Path socket = dir.resolve("server.sock");
            NbdServer nbd = new NbdServer(server, NbdServer.Config.unix(socket));
            nbd.start();
            String uri = "nbd+unix:///lun?socket=" + socket;
            dm.create("mp", null, "0 2048 multipath 0 0 1 1 round-robin 0 3 1 " + uri + " 1 /dev/mapper/p1 1 " + image + " 1", false);
            start(Failback.MANUAL);
            awaitTrue("first checks", INTERVAL.plus(SLACK), quietly(() -> checker.report("mp").values().stream()
                    .filter(r -> r.state() == PathChecker.State.READY && r.online() == PathChecker.Online.RUNNING).count() == 3));
            assertEquals(List.of(uri, dev("p1"), image.toString()), List.copyOf(checker.report("mp").keySet()));

            // The server dies: the probe, through the same client as the target's I/O (the engine shares it), fails.
            nbd.close();
            awaitTrue("fail_path of the NBD path", INTERVAL.plus(SLACK), quietly(() -> !map("mp").group(1).paths().getFirst().active()));
            assertEquals(new PathChecker.PathReport(PathChecker.State.FAULTY, PathChecker.Online.RUNNING, checker.report("mp").get(uri).since()),
                    checker.report("mp").get(uri));
            assertEquals(List.of(false, true, true), map("mp").group(1).paths().stream().map(MultipathMap.Path::active).toList());

            // It comes back on the same socket.
            nbd = new NbdServer(server, NbdServer.Config.unix(socket));
            nbd.start();
            awaitTrue("reinstate_path of the NBD path", INTERVAL.plus(SLACK), quietly(() -> map("mp").group(1).paths().getFirst().active()));
            assertEquals(PathChecker.Online.RUNNING, checker.report("mp").get(uri).online());
            nbd.close();
        }
    }

    /** Group 1 = p1, group 2 = p2: p1 fails, I/O moves to group 2, p1 comes back. */
    private long failOverToTheSecondGroupAndMendTheFirst() throws Exception {
        multipath("mp", "0", List.of(List.of("p1"), List.of("p2")));
        awaitAllReady("mp", "p1", "p2");
        assertEquals(1, map("mp").groupNumber());
        swapTable("p1", "0 2048 error");
        awaitTrue("fail_path of p1", INTERVAL.plus(SLACK), quietly(() -> !path("mp", "p1").active()));
        readThrough("mp");
        assertEquals(2, map("mp").groupNumber(), "I/O went to the second group");
        swapTable("p1", linear());
        return awaitTrue("reinstate_path of p1", INTERVAL.plus(SLACK), quietly(() -> path("mp", "p1").active()));
    }

    @Test
    void immediateFailbackSwitchesToTheFirstGroupAsSoonAsItHasAPath() throws Exception {
        start(new Failback(Failback.Kind.IMMEDIATE, Duration.ZERO));
        failOverToTheSecondGroupAndMendTheFirst();
        // The switch follows the reinstate under the same lock: a status read after the reinstate may still be between.
        awaitTrue("switch_group 1", Duration.ofMillis(500), quietly(() -> map("mp").groupNumber() == 1));
        assertTrue(logged.toString(StandardCharsets.UTF_8).contains("jdm daemon: mp: switch_group 1\n"));
    }

    @Test
    void manualFailbackStaysOnTheGroupInUse() throws Exception {
        start(Failback.MANUAL);
        failOverToTheSecondGroupAndMendTheFirst();
        Thread.sleep(INTERVAL.multipliedBy(5).toMillis());
        assertEquals(2, map("mp").groupNumber());
        assertTrue(!logged.toString(StandardCharsets.UTF_8).contains("switch_group"));
    }

    @Test
    void deferredFailbackWaitsItsSecondsAfterThePathCameBack() throws Exception {
        Duration delay = Duration.ofMillis(1500);
        start(new Failback(Failback.Kind.DEFERRED, delay));
        failOverToTheSecondGroupAndMendTheFirst();
        long reinstated = System.nanoTime();
        long waited = awaitTrue("deferred switch_group 1", delay.plus(SLACK), quietly(() -> map("mp").groupNumber() == 1));
        // The reinstate was seen up to one poll after it happened; the switch may not come before the delay.
        assertTrue(System.nanoTime() - reinstated >= delay.minusMillis(100).toNanos(), "switched after " + waited / 1_000_000 + " ms");
    }

    @Test
    void followoverSwitchesOnlyWhenTheFirstPathOfTheGroupComesBack() throws Exception {
        start(new Failback(Failback.Kind.FOLLOWOVER, Duration.ZERO));
        multipath("mp", "0", List.of(List.of("p1", "p3"), List.of("p2")));
        awaitAllReady("mp", "p1", "p2", "p3");
        // Another node's choice: group 2 while group 1 is whole. A path of group 1 that blinks does not undo it.
        dm.message("mp", 0, List.of("switch_group", "2"));
        swapTable("p1", "0 2048 error");
        awaitTrue("fail_path of p1", INTERVAL.plus(SLACK), quietly(() -> !path("mp", "p1").active()));
        swapTable("p1", linear());
        awaitTrue("reinstate_path of p1", INTERVAL.plus(SLACK), quietly(() -> path("mp", "p1").active()));
        Thread.sleep(INTERVAL.multipliedBy(3).toMillis());
        assertEquals(2, map("mp").groupNumber(), "p3 was up all along: no failback");

        // The whole group goes and comes back: its first path back switches to it.
        swapTable("p1", "0 2048 error");
        swapTable("p3", "0 2048 error");
        awaitTrue("fail_path of p1 and p3", INTERVAL.plus(SLACK), quietly(() -> !path("mp", "p1").active() && !path("mp", "p3").active()));
        swapTable("p3", linear());
        awaitTrue("switch_group 1", INTERVAL.plus(SLACK), quietly(() -> map("mp").groupNumber() == 1));
        assertEquals(false, path("mp", "p1").active());
        assertEquals(true, path("mp", "p3").active());
    }

    @Test
    void aProbeThatHangsCountsAsATimeoutWithinTheCheckerTimeout() throws Exception {
        // p3's reads wait 4 s, longer than the checker's timeout of 1 s.
        swapTable("p3", "0 2048 delay " + image + " 0 4000");
        multipath("mp", "0", List.of(List.of("p1", "p3")));
        start(Failback.MANUAL);
        long took = awaitTrue("fail_path of the slow p3", TIMEOUT.plus(INTERVAL).plus(SLACK), quietly(() -> !path("mp", "p3").active()));
        assertEquals(PathChecker.State.TIMEOUT, checked("mp", "p3"));
        assertEquals(PathChecker.State.READY, checked("mp", "p1"));
        assertTrue(took >= TIMEOUT.minusMillis(50).toNanos(), "not before the timeout: " + took / 1_000_000 + " ms");

        // Removed while that probe still waits: no error, and the checker forgets it.
        dm.remove("mp", false, false);
        awaitTrue("forgetting mp", INTERVAL.plus(SLACK), () -> checker.report("mp").isEmpty());
        Thread.sleep(4000); // the held probe returns into a device that is gone
        assertEquals(Map.of(), checker.report("mp"));
        assertTrue(!logged.toString(StandardCharsets.UTF_8).contains("path checker:"), logged.toString(StandardCharsets.UTF_8));
    }

    @Test
    void aSuspendedDeviceIsLeftAloneUntilItsResume() throws Exception {
        multipath("mp", "0", List.of(List.of("p1", "p2")));
        start(Failback.MANUAL);
        awaitAllReady("mp", "p1", "p2");
        dm.suspend("mp", false);
        swapTable("p1", "0 2048 error");
        Thread.sleep(INTERVAL.multipliedBy(4).toMillis());
        assertEquals(true, path("mp", "p1").active(), "no fail_path while suspended");
        assertTrue(!logged.toString(StandardCharsets.UTF_8).contains("refused"), logged.toString(StandardCharsets.UTF_8));
        dm.resume("mp");
        awaitTrue("fail_path of p1 after the resume", INTERVAL.plus(SLACK), quietly(() -> !path("mp", "p1").active()));
    }
}
