package dev.jdm.core.engine;

import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The order in which targets get their hooks on load, suspend, resume, swap and remove (MappedDevice's class comment). */
class HookOrderTest {
    private final List<String> log = new ArrayList<>();
    private DeviceMapper dm;

    @BeforeEach
    void engine() {
        dm = TestTargets.engine(TestTargets.hooks(log));
    }

    @AfterEach
    void close() {
        dm.close();
    }

    /** The hooks logged since the last call. */
    private List<String> taken() {
        List<String> l = List.copyOf(log);
        log.clear();
        return l;
    }

    @Test
    void createLoadSuspendResumeSwapRemove() throws Exception {
        dm.create("d", null, "0 8 hooks a\n8 8 hooks b", false);
        assertEquals(List.of("a ctr", "b ctr", "a preresume", "b preresume", "a resume", "b resume"), taken());

        dm.suspend("d", true);
        assertEquals(List.of("a presuspend noflush", "b presuspend noflush", "a postsuspend", "b postsuspend"), taken());

        // Loaded while suspended: the live table keeps its targets until the resume swaps.
        dm.load("d", "0 16 hooks c", false);
        assertEquals(List.of("c ctr"), taken());
        dm.resume("d");
        assertEquals(List.of("c preresume", "a dtr", "b dtr", "c resume"), taken());

        // Loaded while running: the resume suspends the old table first.
        dm.load("d", "0 16 hooks d", false);
        dm.load("d", "0 16 hooks e", false);
        assertEquals(List.of("d ctr", "e ctr", "d dtr"), taken());
        dm.resume("d");
        assertEquals(List.of("e preresume", "c presuspend", "c postsuspend", "c dtr", "e resume"), taken());

        // A resume with nothing loaded resumes the live table.
        dm.suspend("d", false);
        dm.resume("d");
        assertEquals(List.of("e presuspend", "e postsuspend", "e preresume", "e resume"), taken());

        dm.remove("d", false, false);
        assertEquals(List.of("e dtr"), taken());
    }

    @Test
    void aRefusedPreresumeChangesNothing() throws Exception {
        dm.create("d", null, "0 8 hooks a", false);
        dm.load("d", "0 8 hooks refuse", false);
        taken();
        DmException e = assertThrows(DmException.class, () -> dm.resume("d"));
        assertEquals(Errno.EAGAIN, e.errno());
        assertEquals("refuse: not now", e.getMessage());
        assertEquals(List.of("refuse preresume"), taken());
        DeviceInfo info = dm.info("d");
        assertEquals("LIVE & INACTIVE", info.tablesPresent());
        assertEquals("ACTIVE", info.state());
        dm.clear("d");
        assertEquals(List.of("refuse dtr"), taken());
    }

    /** remove --force of an open device: its table is wiped (an error table swapped in), the device stays. */
    @Test
    void aForcedRemoveOfAnOpenDeviceSwapsInAnErrorTable() throws Exception {
        dm.create("d", null, "0 8 hooks a", false);
        taken();
        try (MappedDevice.Opener held = dm.device("d").open("holder", false, null)) {
            assertThrows(DmException.class, () -> dm.remove("d", true, false));
            assertEquals(List.of("a presuspend", "a postsuspend", "a dtr"), taken());
            assertEquals(List.of("0 8 error "), dm.table("d", false).stream().map(TargetLine::format).toList());
            assertTrue(dm.info("d").liveTable());
        }
    }
}
