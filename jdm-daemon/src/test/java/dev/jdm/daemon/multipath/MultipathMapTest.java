package dev.jdm.daemon.multipath;

import dev.jdm.daemon.multipath.MultipathMap.Group;
import dev.jdm.daemon.multipath.MultipathMap.GroupState;
import dev.jdm.daemon.multipath.MultipathMap.Path;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class MultipathMapTest {

    @Test
    void theKernelsQueueLengthExample() throws Exception {
        // targets-basic §12.3: table 0 10 multipath 0 0 1 1 queue-length 0 2 1 8:0 128 8:16 128, read back with repeat 1.
        MultipathMap m = MultipathMap.parse("0 0 1 1 queue-length 0 2 1 8:0 1 8:16 1 ", "2 0 0 0 1 1 E 0 2 1 8:0 A 0 0 8:16 A 0 0 ");
        assertEquals(new MultipathMap(List.of(), List.of(), false, 0, 1, List.of(
                new Group(1, "queue-length", List.of(), GroupState.ENABLED, List.of(
                        new Path("8:0", List.of("1"), true, 0, List.of("0")),
                        new Path("8:16", List.of("1"), true, 0, List.of("0")))))), m);
        assertEquals("0", m.featuresText());
        assertEquals("0", m.hwHandlerText());
        assertEquals("queue-length 0", m.group(1).policy());
    }

    @Test
    void twoGroupsWithFailedPathsAndQueueing() throws Exception {
        String table = "1 queue_if_no_path 0 2 1 service-time 0 2 2 nbd://10.0.0.2/disk 1 1 nbd://10.0.0.3/disk 1 4 "
                + "round-robin 0 1 1 253:3 1 ";
        String status = "2 1 0 0 2 2 D 0 2 2 nbd://10.0.0.2/disk F 3 0 1 nbd://10.0.0.3/disk F 1 0 4 "
                + "A 0 1 0 253:3 A 0 ";
        MultipathMap m = MultipathMap.parse(table, status);
        assertEquals(List.of("queue_if_no_path"), m.features());
        assertEquals("1 queue_if_no_path", m.featuresText());
        assertEquals(true, m.queueIo());
        assertEquals(2, m.groupNumber());
        Group first = m.group(1);
        assertEquals(GroupState.DISABLED, first.state());
        assertEquals("service-time 0", first.policy());
        assertEquals(List.of(new Path("nbd://10.0.0.2/disk", List.of("1", "1"), false, 3, List.of("0", "1")),
                new Path("nbd://10.0.0.3/disk", List.of("1", "4"), false, 1, List.of("0", "4"))), first.paths());
        assertEquals(false, first.hasActivePath());
        Group second = m.group(2);
        assertEquals(GroupState.ACTIVE, second.state());
        assertEquals(List.of(new Path("253:3", List.of("1"), true, 0, List.of())), second.paths());
        assertEquals(true, second.hasActivePath());
    }

    @Test
    void historicalServiceTimeCarriesGroupArgumentsAndThreeInfoWords() throws Exception {
        MultipathMap m = MultipathMap.parse("2 pg_init_retries 50 1 alua 1 1 historical-service-time 2 972 0 1 1 8:16 0 ",
                "2 0 7 0 1 1 A 2 972 0 1 3 8:16 A 0 12000 1 400000 ");
        assertEquals(List.of("pg_init_retries", "50"), m.features());
        assertEquals(List.of("alua"), m.hwHandler());
        assertEquals("1 alua", m.hwHandlerText());
        assertEquals(7, m.pgInitCount());
        assertEquals("historical-service-time 2 972 0", m.group(1).policy());
        assertEquals(new Path("8:16", List.of("0"), true, 0, List.of("12000", "1", "400000")), m.group(1).paths().getFirst());
    }

    @Test
    void noGroups() throws Exception {
        MultipathMap m = MultipathMap.parse("0 0 0 0 ", "2 0 0 0 0 0 ");
        assertEquals(List.of(), m.groups());
        assertEquals(0, m.groupNumber());
    }

    @Test
    void textThatDoesNotFitIsRefusedWithTheField() {
        String table = "0 0 1 1 round-robin 0 1 1 8:0 1 ";
        assertEquals("status: the device of path 1 of group 1 is 8:16, the table says 8:0",
                assertThrows(MultipathMap.ParseException.class, () -> MultipathMap.parse(table, "2 0 0 0 1 1 A 0 1 0 8:16 A 0 ")).getMessage());
        assertEquals("status: group 1 state must be A, E or D",
                assertThrows(MultipathMap.ParseException.class, () -> MultipathMap.parse(table, "2 0 0 0 1 1 X 0 1 0 8:0 A 0 ")).getMessage());
        assertEquals("status: path 1 of group 1 state must be A or F",
                assertThrows(MultipathMap.ParseException.class, () -> MultipathMap.parse(table, "2 0 0 0 1 1 A 0 1 0 8:0 Z 0 ")).getMessage());
        assertEquals("status: the group count is 2, the table says 1",
                assertThrows(MultipathMap.ParseException.class, () -> MultipathMap.parse(table, "2 0 0 0 2 1 A 0 1 0 8:0 A 0 ")).getMessage());
        assertEquals("status: unexpected \"9\" after the last path",
                assertThrows(MultipathMap.ParseException.class, () -> MultipathMap.parse(table, "2 0 0 0 1 1 A 0 1 0 8:0 A 0 9 ")).getMessage());
        assertEquals("table: ends before the device of path 1 of group 1",
                assertThrows(MultipathMap.ParseException.class, () -> MultipathMap.parse("0 0 1 1 round-robin 0 1 1", "2 0 0 0 1 1 A 0 1 0 8:0 A 0 ")).getMessage());
        assertEquals("table: the features must be a number, not \"x\"",
                assertThrows(MultipathMap.ParseException.class, () -> MultipathMap.parse("x", "")).getMessage());
        assertEquals("status: expected 2 feature values (queue_io, pg_init_count), got 1",
                assertThrows(MultipathMap.ParseException.class, () -> MultipathMap.parse(table, "1 0 0 1 1 A 0 1 0 8:0 A 0 ")).getMessage());
    }

    @Test
    void failbackPolicies() {
        assertEquals(Failback.MANUAL, Failback.parse("manual"));
        assertEquals(Failback.Kind.IMMEDIATE, Failback.parse("Immediate").kind());
        assertEquals(Failback.Kind.FOLLOWOVER, Failback.parse("followover").kind());
        assertEquals(new Failback(Failback.Kind.DEFERRED, java.time.Duration.ofSeconds(15)), Failback.parse("15"));
        assertEquals("15", Failback.parse("15").toString());
        assertEquals(Failback.MANUAL, Failback.parse("0"));
        assertEquals("failback must be immediate, manual, followover or a number of seconds, not \"-3\"",
                assertThrows(IllegalArgumentException.class, () -> Failback.parse("-3")).getMessage());
        assertEquals("failback must be immediate, manual, followover or a number of seconds, not \"soon\"",
                assertThrows(IllegalArgumentException.class, () -> Failback.parse("soon")).getMessage());
    }
}
