package dev.jdm.targets.multipath;

import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.TargetException;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The four selectors through their SPI, over scripted sequences, as the kernel's dm-ps-*.c choose. */
class PathSelectorTest {
    private final AtomicLong clock = new AtomicLong(1000);

    private PathSelector selector(String name, String... selectorArgs) throws TargetException {
        return PathSelectors.find(name).orElseThrow().create(new Args(List.of(selectorArgs)), clock::get);
    }

    private static void addPaths(PathSelector s, int n, String... pathArgs) throws TargetException {
        for (int i = 0; i < n; i++) {
            s.addPath(new Args(List.of(pathArgs)));
        }
    }

    /** Selects {@code n} times, starting an I/O of {@code bytes} on each choice and never ending it. */
    private static List<Integer> selectAndStart(PathSelector s, int n, long bytes) {
        List<Integer> chosen = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int p = s.selectPath(bytes);
            s.startIo(p, bytes);
            chosen.add(p);
        }
        return chosen;
    }

    private static String refusal(PathSelector s, String... pathArgs) {
        return assertThrows(TargetException.class, () -> s.addPath(new Args(List.of(pathArgs)))).getMessage();
    }

    @Test
    void roundRobinTurnsThroughTheValidPathsAndAReinstatedPathIsNext() throws Exception {
        PathSelector rr = selector("round-robin");
        addPaths(rr, 3);
        assertEquals(List.of(0, 1, 2, 0, 1), selectAndStart(rr, 5, 4096));
        rr.failPath(0);
        assertEquals(List.of(2, 1, 2), selectAndStart(rr, 3, 4096));
        rr.reinstatePath(0);
        assertEquals(List.of(0, 1, 2, 0), selectAndStart(rr, 4, 4096));
        rr.failPath(0);
        rr.failPath(1);
        rr.failPath(2);
        assertEquals(-1, rr.selectPath(512));
    }

    @Test
    void repeatCountsAboveOneAreTakenAsOneExceptByHistoricalServiceTime() throws Exception {
        for (String name : List.of("round-robin", "queue-length", "service-time")) {
            PathSelector s = selector(name);
            s.addPath(new Args(List.of("1000")));
            s.addPath(new Args(List.of("0")));
            s.addPath(new Args(List.of()));
            assertEquals(List.of("1", "0", "1"), List.of(s.pathStatus(0, true).split(" ")[0],
                    s.pathStatus(1, true).split(" ")[0], s.pathStatus(2, true).split(" ")[0]), name);
        }
        PathSelector hst = selector("historical-service-time");
        hst.addPath(new Args(List.of("1000")));
        assertEquals("0 ", hst.pathStatus(0, true));
    }

    @Test
    void roundRobinStatusIsEmptyPerPathAndTheRepeatCountInTheTable() throws Exception {
        PathSelector rr = selector("round-robin", "ignored", "args");
        addPaths(rr, 1);
        assertEquals("0 ", rr.groupStatus());
        assertEquals("", rr.pathStatus(0, false));
        assertEquals("1 ", rr.pathStatus(0, true));
    }

    @Test
    void pathArgumentsAreRefusedInTheKernelsWords() throws Exception {
        assertEquals("argument 2 (\"1\"): round-robin ps: incorrect number of arguments: at most 1 per path",
                refusal(selector("round-robin"), "1", "1"));
        assertEquals("argument 1 (\"x\"): round-robin ps: invalid repeat count", refusal(selector("round-robin"), "x"));
        assertEquals("argument 1 (\"-1\"): queue-length ps: invalid repeat count", refusal(selector("queue-length"), "-1"));
        assertEquals("argument 2 (\"1\"): queue-length ps: incorrect number of arguments: at most 1 per path",
                refusal(selector("queue-length"), "1", "1"));
        assertEquals("argument 3 (\"1\"): service-time ps: incorrect number of arguments: at most 2 per path",
                refusal(selector("service-time"), "1", "1", "1"));
        assertEquals("argument 2 (\"101\"): service-time ps: invalid relative_throughput value: 0 to 100",
                refusal(selector("service-time"), "1", "101"));
        assertEquals("argument 2 (\"1x\"): service-time ps: invalid relative_throughput value",
                refusal(selector("service-time"), "1", "1x"));
        assertEquals("argument 1 (\"1.5\"): historical-service-time ps: invalid repeat count",
                refusal(selector("historical-service-time"), "1.5"));
        assertEquals("argument 2 (\"2\"): historical-service-time ps: incorrect number of arguments: at most 1 per path",
                refusal(selector("historical-service-time"), "1", "2"));
    }

    @Test
    void queueLengthPrefersFewestInFlightThenListOrder() throws Exception {
        PathSelector ql = selector("queue-length");
        addPaths(ql, 3);
        // idle paths in list order, then all at 1: the first of the list (0), then 1 and 2 with fewer than 0
        assertEquals(List.of(0, 1, 2, 0, 1), selectAndStart(ql, 5, 512));
        assertEquals(List.of("2 ", "2 ", "1 "), List.of(ql.pathStatus(0, false), ql.pathStatus(1, false), ql.pathStatus(2, false)));
        ql.endIo(0, 512, 0);
        ql.endIo(0, 512, 0);
        // list 2,0,1 with 1,0,2 in flight: 0 (idle) at once; then 2,1,0 with 1,2,1: 2; then 1,0,2 with 2,1,2: 0
        assertEquals(List.of(0, 2, 0), selectAndStart(ql, 3, 512));
        ql.failPath(2);
        assertEquals(List.of(1), selectAndStart(ql, 1, 512)); // 0 has 2, 1 has 2: 1 comes first in the list now
    }

    @Test
    void serviceTimePrefersLessInFlightPerThroughput() throws Exception {
        PathSelector st = selector("service-time");
        st.addPath(new Args(List.of("1", "1")));
        st.addPath(new Args(List.of("1", "4")));
        // equal load: the faster; then (in flight + 4096) x other's throughput decides; a tie goes to the faster
        assertEquals(List.of(1, 1, 1, 1, 0), selectAndStart(st, 5, 4096));
        assertEquals("4096 1 ", st.pathStatus(0, false));
        assertEquals("16384 4 ", st.pathStatus(1, false));
        assertEquals("1 4 ", st.pathStatus(1, true));
    }

    @Test
    void serviceTimeWithEqualThroughputIsTheLessLoadedAndZeroThroughputIsALastResort() throws Exception {
        PathSelector same = selector("service-time");
        addPaths(same, 2, "1", "3");
        assertEquals(List.of(0, 1, 0, 1), selectAndStart(same, 4, 1024));
        PathSelector zero = selector("service-time");
        zero.addPath(new Args(List.of("1", "0")));
        zero.addPath(new Args(List.of("1", "1")));
        assertEquals(List.of(1, 1, 1), selectAndStart(zero, 3, 1 << 20));
        zero.failPath(1);
        assertEquals(List.of(0), selectAndStart(zero, 1, 512));
    }

    @Test
    void historicalServiceTimeTracksTheKernelsFixedPointAverage() throws Exception {
        PathSelector hst = selector("historical-service-time");
        assertEquals("2 972 0 ", hst.groupStatus());
        addPaths(hst, 2);
        assertEquals("1024 0 0 ", hst.pathStatus(0, false));
        int first = hst.selectPath(4096);
        assertEquals(0, first);
        hst.startIo(0, 4096);
        clock.set(2000);
        hst.endIo(0, 4096, 1000);
        // 1000 ns: (1024 x 972 + 1000 x 1024 x 52 + 512) >> 10 = 52972; stale after 2000 + 2 paths x (52972 >> 10)
        assertEquals("52972 0 2102 ", hst.pathStatus(0, false));
        clock.set(2050);
        // both idle: the one stale the longest (path 1 never finished anything)
        assertEquals(1, hst.selectPath(4096));
        hst.startIo(1, 4096);
        clock.set(2060);
        // path 1 is loaded and stale: 0, idle and fresh, is taken though slower
        assertEquals(0, hst.selectPath(4096));
        hst.startIo(0, 4096);
        clock.set(5000);
        hst.endIo(1, 4096, 2050);
        // 2950 ns: (1024 x 972 + 2950 x 1024 x 52 + 512) >> 10 = 154372
        assertEquals("154372 0 5300 ", hst.pathStatus(1, false));
        assertEquals("52972 1 2102 ", hst.pathStatus(0, false));
    }

    @Test
    void historicalServiceTimeSelectorArguments() throws Exception {
        assertEquals("2 512 3 ", selector("historical-service-time", "512", "3").groupStatus());
        assertEquals("2 0 0 ", selector("historical-service-time", "0").groupStatus());
        assertEquals(923, HistoricalServiceTimeSelector.fixedPower(972, 2));
        assertEquals("argument 1 (\"1024\"): path selector constructor failed: historical-service-time takes"
                + " [base_weight [threshold_multiplier]], base_weight below 1024",
                assertThrows(TargetException.class, () -> selector("historical-service-time", "1024")).getMessage());
        assertEquals("argument 3 (\"3\"): path selector constructor failed: historical-service-time takes"
                + " [base_weight [threshold_multiplier]]",
                assertThrows(TargetException.class, () -> selector("historical-service-time", "1", "2", "3")).getMessage());
        assertEquals("argument 2 (\"x\"): path selector constructor failed: historical-service-time takes"
                + " [base_weight [threshold_multiplier]]",
                assertThrows(TargetException.class, () -> selector("historical-service-time", "1", "x")).getMessage());
    }
}
