package dev.jdm.targets.multipath;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.core.testing.TestPattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static dev.jdm.targets.multipath.MultipathFixture.expected;
import static dev.jdm.targets.multipath.MultipathFixture.read;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Failover through a real engine: the paths are /dev/mapper/p1 and p2 over one file; a path breaks when an
 * error table is loaded into its device.
 */
class MultipathFailoverTest {
    private static final String TWO_PATHS = "0 0 1 1 round-robin 0 2 0 /dev/mapper/p1 /dev/mapper/p2";

    @TempDir
    Path dir;
    MultipathFixture f;
    MappedDevice mp;

    @BeforeEach
    void setUp() throws Exception {
        f = new MultipathFixture(dir, 2);
        f.create("mp", TWO_PATHS);
        mp = f.device("mp");
    }

    @AfterEach
    void tearDown() {
        f.close();
    }

    @Test
    void aReadThatFailsOnAPathFailsThePathAndSucceedsOnTheOther() throws Exception {
        f.breakPath(1);
        long events = f.events("mp");
        assertArrayEquals(expected(4096, 8192), read(mp, 4096, 8192));
        assertEquals("0 2048 multipath 2 0 0 0 1 1 A 0 2 0 253:0 F 1 253:1 A 0 ", f.status("mp"));
        assertEquals(events + 1, f.events("mp"));
        // every later I/O goes to the path left, without touching the failed one again
        for (int i = 0; i < 4; i++) {
            assertArrayEquals(expected(i * 512L, 512), read(mp, i * 512L, 512));
        }
        assertEquals("0 2048 multipath 2 0 0 0 1 1 A 0 2 0 253:0 F 1 253:1 A 0 ", f.status("mp"));
    }

    @Test
    void writesFailOverTooAndLandOnTheStorage() throws Exception {
        f.breakPath(1);
        byte[] data = TestPattern.pattern(4096, 99);
        mp.write(65536, ByteBuffer.wrap(data), false);
        mp.flush();
        assertArrayEquals(data, Arrays.copyOfRange(Files.readAllBytes(f.file), 65536, 65536 + 4096));
        assertEquals("0 2048 multipath 2 0 0 0 1 1 A 0 2 0 253:0 F 1 253:1 A 0 ", f.status("mp"));
    }

    @Test
    void reinstatePathBringsItBackAndRoundRobinTakesItNext() throws Exception {
        f.breakPath(1);
        read(mp, 0, 512);
        f.repairPath(1);
        long events = f.events("mp");
        assertNull(f.message("mp", "reinstate_path", "253:0"));
        assertEquals(events + 1, f.events("mp"));
        assertEquals("0 2048 multipath 2 0 0 0 1 1 A 0 2 0 253:0 A 1 253:1 A 0 ", f.status("mp"));
        // the reinstated path is first in line: break it again and the next read fails it a second time
        f.breakPath(1);
        assertArrayEquals(expected(0, 512), read(mp, 0, 512));
        assertEquals("0 2048 multipath 2 0 0 0 1 1 A 0 2 0 253:0 F 2 253:1 A 0 ", f.status("mp"));
    }

    @Test
    void withEveryPathBrokenTheReadFailsWithEioAndBothPathsAreFailed() throws Exception {
        f.breakPath(1);
        f.breakPath(2);
        BlockIoException e = assertThrows(BlockIoException.class, () -> read(mp, 0, 512));
        assertEquals(Errno.EIO, e.errno());
        assertEquals("0 2048 multipath 2 0 0 0 1 1 E 0 2 0 253:0 F 1 253:1 F 1 ", f.status("mp"));
    }

    @Test
    void failPathAndReinstatePathMessagesByEveryName() throws Exception {
        assertNull(f.message("mp", "FAIL_PATH", "/dev/mapper/p1"));
        assertEquals("0 2048 multipath 2 1 0 0 1 1 E 0 2 0 253:0 F 1 253:1 A 0 ", f.status("mp"));
        long events = f.events("mp");
        f.message("mp", "fail_path", "253:0"); // already failed: nothing happens
        assertEquals(events, f.events("mp"));
        f.message("mp", "reinstate_path", "/dev/mapper/p1");
        f.message("mp", "fail_path", "253:1");
        assertEquals("0 2048 multipath 2 1 0 0 1 1 E 0 2 0 253:0 A 1 253:1 F 1 ", f.status("mp"));
        assertArrayEquals(expected(0, 512), read(mp, 0, 512));
        assertEquals("0 2048 multipath 2 0 0 0 1 1 A 0 2 0 253:0 A 1 253:1 F 1 ", f.status("mp"));
    }

    private String messageRefusal(Errno errno, String... words) {
        DmException e = assertThrows(DmException.class, () -> f.message("mp", words));
        assertEquals(errno, e.errno());
        return e.getMessage();
    }

    @Test
    void badMessagesInTheKernelsWords() {
        assertEquals("Unrecognised multipath message received: fail_paths", messageRefusal(Errno.EINVAL, "fail_paths", "x"));
        assertEquals("Invalid multipath message arguments. Expected 2 arguments, got 1.", messageRefusal(Errno.EINVAL, "fail_path"));
        assertEquals("Invalid multipath message arguments. Expected 2 arguments, got 3.",
                messageRefusal(Errno.EINVAL, "switch_group", "1", "2"));
        assertEquals("invalid PG number supplied to switch_pg_num: 2 (groups are 1 to 1)", messageRefusal(Errno.EINVAL, "switch_group", "2"));
        assertEquals("invalid PG number supplied to switch_pg_num: 0 (groups are 1 to 1)", messageRefusal(Errno.EINVAL, "switch_group", "0"));
        assertEquals("invalid PG number supplied to bypass_pg: 1x (groups are 1 to 1)", messageRefusal(Errno.EINVAL, "disable_group", "1x"));
        assertEquals("invalid PG number supplied to bypass_pg: -1 (groups are 1 to 1)", messageRefusal(Errno.EINVAL, "enable_group", "-1"));
        assertEquals("message: error getting device 253:7: no path of this map is 253:7 (name it as the table prints it"
                + " or as the table line gave it)", messageRefusal(Errno.EINVAL, "reinstate_path", "253:7"));
    }

    @Test
    void queueIfNoPathWithAnArgumentIsAnUnknownMessage() {
        assertEquals("Unrecognised multipath message received: queue_if_no_path", messageRefusal(Errno.EINVAL, "queue_if_no_path", "1"));
    }

    @Test
    void messagesAreRefusedWithEbusyWhileSuspended() throws Exception {
        f.dm.suspend("mp", false);
        assertEquals("multipath device mp is suspended: messages wait for the resume",
                messageRefusal(Errno.EBUSY, "fail_path", "253:0"));
        f.dm.resume("mp");
        assertNull(f.message("mp", "fail_path", "253:0"));
    }

    @Test
    void disableEnableAndSwitchGroup() throws Exception {
        f.dm.remove("mp", false, false);
        f.create("mp", "0 0 2 1 round-robin 0 1 0 /dev/mapper/p1 round-robin 0 1 0 /dev/mapper/p2");
        mp = f.device("mp");
        read(mp, 0, 512);
        assertEquals("0 2048 multipath 2 0 0 0 2 1 A 0 1 0 253:0 A 0 E 0 1 0 253:1 A 0 ", f.status("mp"));
        long events = f.events("mp");
        f.message("mp", "disable_group", "1");
        assertEquals(events + 1, f.events("mp"));
        assertEquals("0 2048 multipath 2 0 0 0 2 1 D 0 1 0 253:0 A 0 E 0 1 0 253:1 A 0 ", f.status("mp"));
        read(mp, 0, 512);
        assertEquals("0 2048 multipath 2 0 0 0 2 2 D 0 1 0 253:0 A 0 A 0 1 0 253:1 A 0 ", f.status("mp"));
        // a bypassed group still serves when no other group can
        f.message("mp", "fail_path", "253:1");
        read(mp, 0, 512);
        assertEquals("0 2048 multipath 2 0 0 0 2 1 D 0 1 0 253:0 A 0 E 0 1 0 253:1 F 1 ", f.status("mp"));
        f.message("mp", "reinstate_path", "253:1");
        f.message("mp", "enable_group", "1");
        f.message("mp", "disable_group", "2");
        f.message("mp", "switch_group", "2"); // clears every bypass, and group 2 takes the next I/O
        assertEquals("0 2048 multipath 2 0 0 0 2 2 E 0 1 0 253:0 A 0 E 0 1 0 253:1 A 1 ", f.status("mp"));
        read(mp, 0, 512);
        assertEquals("0 2048 multipath 2 0 0 0 2 2 E 0 1 0 253:0 A 0 A 0 1 0 253:1 A 1 ", f.status("mp"));
        assertEquals("0 2048 multipath 0 0 2 2 round-robin 0 1 1 253:0 1 round-robin 0 1 1 253:1 1 ", f.table("mp"));
    }

    @Test
    void anErrorThatIsNotAPathErrorReachesTheCallerAndFailsNoPath() throws Exception {
        f.dm.remove("mp", false, false);
        f.create("mp", "0 0 1 1 round-robin 0 1 0 /dev/mapper/p1");
        mp = f.device("mp");
        f.dm.load("p1", "0 2048 linear " + f.file + " 0", true); // read-only path: writes fail with EROFS
        f.dm.resume("p1");
        BlockIoException e = assertThrows(BlockIoException.class, () -> mp.write(0, ByteBuffer.allocate(512), false));
        assertEquals(Errno.EROFS, e.errno());
        assertEquals("0 2048 multipath 2 0 0 0 1 1 A 0 1 0 253:0 A 0 ", f.status("mp"));
    }
}
