package dev.jdm.targets.multipath;

import dev.jdm.core.DmException;
import dev.jdm.core.spi.TargetType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.EnumSet;

import static dev.jdm.targets.multipath.MultipathFixture.expected;
import static dev.jdm.targets.multipath.MultipathFixture.read;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Table lines in, table and status lines out, byte for byte as dm-mpath.c prints them; refusals in its words. */
class MultipathTableTest {
    @TempDir
    Path dir;
    MultipathFixture f;

    @BeforeEach
    void setUp() throws Exception {
        f = new MultipathFixture(dir, 3); // p1 = 253:0, p2 = 253:1, p3 = 253:2
    }

    @AfterEach
    void tearDown() {
        f.close();
    }

    private void assertLines(String args, String table, String status) throws Exception {
        f.create("mp", args);
        assertEquals("0 2048 multipath " + table, f.table("mp"));
        assertEquals("0 2048 multipath " + status, f.status("mp"));
        f.dm.remove("mp", false, false);
    }

    private String refusal(String args) {
        return assertThrows(DmException.class, () -> f.create("mp", args)).getMessage();
    }

    private void assertRefused(String args, String message) {
        assertEquals("table line 1: multipath: " + message, refusal(args));
    }

    @Test
    void theTypeIsTheKernelsVersionSingletonAndImmutable() {
        TargetType type = f.dm.targets().stream().filter(t -> t.name().equals("multipath")).findFirst().orElseThrow();
        assertEquals("v1.14.0", type.version().toString());
        assertEquals(EnumSet.of(TargetType.Feature.SINGLETON, TargetType.Feature.IMMUTABLE), type.features());
    }

    @Test
    void eachSelectorRoundTrips() throws Exception {
        assertLines("0 0 1 1 round-robin 0 2 1 /dev/mapper/p1 1 /dev/mapper/p2 1",
                "0 0 1 1 round-robin 0 2 1 253:0 1 253:1 1 ",
                "2 1 0 0 1 1 E 0 2 0 253:0 A 0 253:1 A 0 ");
        assertLines("0 0 1 1 round-robin 0 2 0 /dev/mapper/p1 /dev/mapper/p2",
                "0 0 1 1 round-robin 0 2 1 253:0 1 253:1 1 ",
                "2 1 0 0 1 1 E 0 2 0 253:0 A 0 253:1 A 0 ");
        assertLines("0 0 1 1 queue-length 0 1 0 /dev/mapper/p1",
                "0 0 1 1 queue-length 0 1 1 253:0 1 ",
                "2 1 0 0 1 1 E 0 1 1 253:0 A 0 0 ");
        assertLines("0 0 1 1 service-time 0 2 1 /dev/mapper/p1 0 /dev/mapper/p2 7",
                "0 0 1 1 service-time 0 2 2 253:0 0 1 253:1 1 1 ",
                "2 1 0 0 1 1 E 0 2 2 253:0 A 0 0 1 253:1 A 0 0 1 ");
        assertLines("0 0 1 1 historical-service-time 2 512 3 2 1 /dev/mapper/p1 0 /dev/mapper/p2 5",
                "0 0 1 1 historical-service-time 2 512 3 2 1 253:0 0 253:1 0 ",
                "2 1 0 0 1 1 E 2 512 3 2 3 253:0 A 0 1024 0 0 253:1 A 0 1024 0 0 ");
        assertLines("0 0 1 1 historical-service-time 0 1 0 /dev/mapper/p1",
                "0 0 1 1 historical-service-time 2 972 0 1 1 253:0 0 ",
                "2 1 0 0 1 1 E 2 972 0 1 3 253:0 A 0 1024 0 0 ");
    }

    /** dm-queue-length.rst and dm-service-time.rst, with 253:0 and 253:1 for 8:0 and 8:16. */
    @Test
    void theKernelDocExamples() throws Exception {
        f.create("mp", "0 0 1 1 queue-length 0 2 1 /dev/mapper/p1 128 /dev/mapper/p2 128");
        assertEquals("0 2048 multipath 0 0 1 1 queue-length 0 2 1 253:0 1 253:1 1 ", f.table("mp"));
        read(f.device("mp"), 0, 4096);
        f.message("mp", "disable_group", "1");
        f.message("mp", "enable_group", "1");
        // the doc's status: I/O has run (queue_io 0) and no group is current since the group was re-enabled
        assertEquals("0 2048 multipath 2 0 0 0 1 1 E 0 2 1 253:0 A 0 0 253:1 A 0 0 ", f.status("mp"));
        f.dm.remove("mp", false, false);
        assertLines("0 0 1 1 service-time 0 2 2 /dev/mapper/p1 128 1 /dev/mapper/p2 128 4",
                "0 0 1 1 service-time 0 2 2 253:0 1 1 253:1 1 4 ",
                "2 1 0 0 1 1 E 0 2 2 253:0 A 0 0 1 253:1 A 0 0 4 ");
    }

    @Test
    void everyFeatureRoundTrips() throws Exception {
        String group = " 0 1 1 round-robin 0 1 0 /dev/mapper/p1";
        String groupOut = "0 1 1 round-robin 0 1 1 253:0 1 ";
        String statusOut = "2 1 0 0 1 1 E 0 1 0 253:0 A 0 ";
        assertLines("1 queue_if_no_path" + group, "1 queue_if_no_path " + groupOut, statusOut);
        assertLines("2 pg_init_retries 5" + group, "2 pg_init_retries 5 " + groupOut, statusOut);
        assertLines("2 pg_init_delay_msecs 0" + group, "2 pg_init_delay_msecs 0 " + groupOut, statusOut);
        assertLines("1 retain_attached_hw_handler" + group, "1 retain_attached_hw_handler " + groupOut, statusOut);
        // bio mode implies retain_attached_hw_handler; rq and mq are the default and not printed
        assertLines("2 queue_mode bio" + group, "3 retain_attached_hw_handler queue_mode bio " + groupOut, statusOut);
        assertLines("2 queue_mode mq" + group, "0 " + groupOut, statusOut);
        assertLines("2 QUEUE_MODE RQ" + group, "0 " + groupOut, statusOut);
        assertLines("8 Queue_If_No_Path pg_init_retries 50 pg_init_delay_msecs 60000 retain_attached_hw_handler queue_mode Bio"
                        + group,
                "8 queue_if_no_path pg_init_retries 50 pg_init_delay_msecs 60000 retain_attached_hw_handler queue_mode bio "
                        + groupOut, statusOut);
        // bio mode ignores hardware handlers, as the kernel does
        assertLines("2 queue_mode bio 2 alua 1 1 1 round-robin 0 1 0 /dev/mapper/p1",
                "3 retain_attached_hw_handler queue_mode bio " + groupOut, statusOut);
    }

    @Test
    void groupsAreNumberedAndTheInitialGroupIsTakenFirst() throws Exception {
        f.create("mp", "0 0 2 2 round-robin 0 1 0 /dev/mapper/p1 queue-length 0 2 0 /dev/mapper/p2 /dev/mapper/p3");
        assertEquals("0 2048 multipath 0 0 2 2 round-robin 0 1 1 253:0 1 queue-length 0 2 1 253:1 1 253:2 1 ", f.table("mp"));
        assertEquals("0 2048 multipath 2 1 0 0 2 2 E 0 1 0 253:0 A 0 E 0 2 1 253:1 A 0 0 253:2 A 0 0 ", f.status("mp"));
        assertArrayEquals(expected(8192, 4096), read(f.device("mp"), 8192, 4096));
        assertEquals("0 2048 multipath 2 0 0 0 2 2 E 0 1 0 253:0 A 0 A 0 2 1 253:1 A 0 0 253:2 A 0 0 ", f.status("mp"));
    }

    @Test
    void noGroupsAtAll() throws Exception {
        assertLines("0 0 0 0", "0 0 0 0 ", "2 1 0 0 0 0 ");
        // the kernel takes an initial group past the last as none
        assertLines("0 0 1 2 round-robin 0 1 0 /dev/mapper/p1", "0 0 1 1 round-robin 0 1 1 253:0 1 ",
                "2 1 0 0 1 1 E 0 1 0 253:0 A 0 ");
    }

    @Test
    void badCountsAndFeatures() {
        assertRefused("", "argument 1 is missing: invalid number of feature args");
        assertRefused("x 0 0 0", "argument 1 (\"x\"): invalid number of feature args");
        assertRefused("9 0 0 0", "argument 1 (\"9\"): invalid number of feature args");
        assertRefused("2 queue_if_no_path", "argument 1 (\"2\"): invalid number of feature args");
        String known = ": known are queue_if_no_path, retain_attached_hw_handler, pg_init_retries <n>,"
                + " pg_init_delay_msecs <ms>, queue_mode <mode>";
        assertRefused("1 queue_if_no_paths 0 0 0", "argument 2 (\"queue_if_no_paths\"): Unrecognised multipath feature request" + known);
        assertRefused("1 pg_init_retries 0 0 0", "argument 2 (\"pg_init_retries\"): Unrecognised multipath feature request" + known);
        assertRefused("2 pg_init_retries 0 0 0 0", "argument 3 (\"0\"): pg_init_retries must be between 1 and 50");
        assertRefused("2 pg_init_retries 51 0 0 0", "argument 3 (\"51\"): pg_init_retries must be between 1 and 50");
        assertRefused("2 pg_init_delay_msecs 60001 0 0 0", "argument 3 (\"60001\"): pg_init_delay_msecs must be between 0 and 60000");
        assertRefused("2 queue_mode nvme 0 0 0", "argument 3 (\"nvme\"): Unknown 'queue_mode' requested: bio, rq or mq");
        assertRefused("0 1025 0 0", "argument 2 (\"1025\"): invalid number of hardware handler args");
        assertRefused("0 2 alua", "argument 2 (\"2\"): invalid number of hardware handler args");
        assertRefused("0 1 alua 1 1 round-robin 0 1 0 /dev/mapper/p1", "argument 3 (\"alua\"): error attaching hardware"
                + " handler: hardware handlers are SCSI-specific and jdm paths are not SCSI devices (give 0)");
        assertRefused("0 0 1025 1", "argument 3 (\"1025\"): invalid number of priority groups");
        assertRefused("0 0 1", "argument 4 is missing: invalid initial priority group number");
        assertRefused("0 0 1 1025", "argument 4 (\"1025\"): invalid initial priority group number");
        assertRefused("0 0 1 0 round-robin 0 1 0 /dev/mapper/p1",
                "argument 4 (\"0\"): invalid initial priority group: groups are numbered from 1");
        assertRefused("0 0 0 1", "argument 4 (\"1\"): invalid initial priority group: 0 when there are no groups");
        assertRefused("0 0 2 1 round-robin 0 1 0 /dev/mapper/p1",
                "priority group count mismatch: the table says 2 and gives 1");
        assertRefused("0 0 0 0 round-robin 0 1 0 /dev/mapper/p1",
                "priority group count mismatch: the table says 0 and gives 1");
    }

    @Test
    void badGroupsAndPaths() throws Exception {
        assertRefused("0 0 1 1 round-robin", "argument 5 (\"round-robin\"): not enough priority group arguments:"
                + " <selector> <#sel_args> ... <#paths> <#path_args> <dev>...");
        assertRefused("0 0 1 1 Round-Robin 0 1 0 /dev/mapper/p1", "argument 5 (\"Round-Robin\"): unknown path selector"
                + " type: known are round-robin, queue-length, service-time, historical-service-time");
        assertRefused("0 0 1 1 round-robin 1025 1 0 /dev/mapper/p1", "argument 6 (\"1025\"): invalid number of path selector args");
        assertRefused("0 0 1 1 round-robin 0 0 0 /dev/mapper/p1", "argument 7 (\"0\"): invalid number of paths");
        assertRefused("0 0 1 1 round-robin 0 1025 0 /dev/mapper/p1", "argument 7 (\"1025\"): invalid number of paths");
        assertRefused("0 0 1 1 round-robin 0 1 1025 /dev/mapper/p1", "argument 8 (\"1025\"): invalid number of selector args");
        assertRefused("0 0 1 1 round-robin 0 2 1 /dev/mapper/p1 1 /dev/mapper/p2", "argument 11 (\"/dev/mapper/p2\"):"
                + " not enough path parameters: each path is a device and 1 selector argument");
        assertRefused("0 0 1 1 round-robin 0 1 1 /dev/mapper/p1 x", "argument 10 (\"x\"): round-robin ps: invalid repeat count");
        assertRefused("0 0 1 1 service-time 0 1 2 /dev/mapper/p1 1 101",
                "argument 11 (\"101\"): service-time ps: invalid relative_throughput value: 0 to 100");
        assertRefused("0 0 1 1 historical-service-time 1 1024 1 0 /dev/mapper/p1", "argument 7 (\"1024\"): path selector"
                + " constructor failed: historical-service-time takes [base_weight [threshold_multiplier]], base_weight below 1024");
        String missing = refusal("0 0 1 1 round-robin 0 1 0 /dev/mapper/nothing");
        assertTrue(missing.startsWith("table line 1: multipath: error getting device: argument 9 (\"/dev/mapper/nothing\"): "), missing);
        // the kernel's round-robin, queue-length and service-time ignore selector arguments
        assertEquals("0 2048 multipath 0 0 1 1 round-robin 0 1 1 253:0 1 ", assertDoesNotThrowTable(
                "0 0 1 1 round-robin 2 any thing 1 0 /dev/mapper/p1"));
    }

    private String assertDoesNotThrowTable(String args) throws DmException {
        f.create("mp", args);
        return f.table("mp");
    }
}
