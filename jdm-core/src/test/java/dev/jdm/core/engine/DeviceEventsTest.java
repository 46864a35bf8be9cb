package dev.jdm.core.engine;

import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.engine.DeviceMapper.Change;
import dev.jdm.core.engine.DeviceMapper.NewDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** What listeners are told: each change with the snapshot of the device it left, tables as loaded. */
class DeviceEventsTest {
    private record Event(Change change, DeviceSnapshot device) {
    }

    private final List<Event> events = new ArrayList<>();
    private DeviceMapper dm;

    @BeforeEach
    void engine() {
        dm = TestTargets.engine();
        dm.addListener((device, change) -> events.add(new Event(change, device)));
    }

    @AfterEach
    void close() {
        dm.close();
    }

    private static DeviceSnapshot device(String name, String uuid, int minor, boolean suspended,
                                         String live, boolean liveRo, String inactive, boolean inactiveRo) {
        return new DeviceSnapshot(name, uuid, minor, false, suspended, live, liveRo, inactive, inactiveRo);
    }

    @Test
    void everyChangeCarriesTheDeviceItLeftWithTheTablesAsLoaded() throws Exception {
        dm.create("d", "U");
        dm.load("d", "0  8 zero", true);
        dm.resume("d");
        dm.load("d", "0 4 zero\n4  4 error", false);
        dm.suspend("d", false);
        dm.suspend("d", false); // already suspended: no change, nothing told
        dm.clear("d");
        dm.load("d", "0 16 error", false);
        dm.resume("d");
        dm.rename("d", "e");
        dm.remove("e", false, false);
        assertEquals(List.of(
                new Event(Change.CREATED, device("d", "U", 0, false, null, false, null, false)),
                new Event(Change.LOADED, device("d", "U", 0, false, null, false, "0  8 zero", true)),
                new Event(Change.RESUMED, device("d", "U", 0, false, "0  8 zero", true, null, false)),
                new Event(Change.LOADED, device("d", "U", 0, false, "0  8 zero", true, "0 4 zero\n4  4 error", false)),
                new Event(Change.SUSPENDED, device("d", "U", 0, true, "0  8 zero", true, "0 4 zero\n4  4 error", false)),
                new Event(Change.CLEARED, device("d", "U", 0, true, "0  8 zero", true, null, false)),
                new Event(Change.LOADED, device("d", "U", 0, true, "0  8 zero", true, "0 16 error", false)),
                new Event(Change.RESUMED, device("d", "U", 0, false, "0 16 error", false, null, false)),
                new Event(Change.RENAMED, device("e", "U", 0, false, "0 16 error", false, null, false)),
                new Event(Change.REMOVED, device("e", "U", 0, true, null, false, null, false))), events);
    }

    /** A kill -9 between the steps of a create must not leave a device without its table: one change, after the resume. */
    @Test
    void aCreateWithATableIsOneChangeAndARefusedOneNone() throws Exception {
        dm.create(NewDevice.named("d").withMinor(5).withTable("0 8 zero", true).asEphemeral(true));
        assertEquals(List.of(new Event(Change.CREATED, new DeviceSnapshot("d", null, 5, true, false, "0 8 zero", true, null, false))),
                events);
        events.clear();
        DmException e = assertThrows(DmException.class, () -> dm.create(NewDevice.named("bad").withTable("0 8 remap", false)));
        assertEquals("table line 1: remap: expected <dev> <offset>", e.getMessage());
        assertEquals(Errno.EINVAL, e.errno());
        assertEquals(List.of(), events);
        assertEquals(List.of("d"), dm.names());
    }

    /** Tables that name a renamed device by its /dev/mapper path follow it, so they reload to the same table. */
    @Test
    void aRenameUnderAStackRewritesTheTablesThatNameIt() throws Exception {
        dm.create("base", null, "0 16 zero", false);
        dm.create("other", null, "0 16 zero", false);
        dm.create("top", null, "0 8 remap /dev/mapper/base 0\n8 8 remap /dev/mapper/other 8", false);
        dm.load("top", "0 8 remap /dev/mapper/base 8", false);
        events.clear();
        dm.rename("base", "lower");
        assertEquals(List.of(
                new Event(Change.RENAMED, device("lower", null, 0, false, "0 16 zero", false, null, false)),
                new Event(Change.REFERENCE_RENAMED, device("top", null, 2, false,
                        "0 8 remap /dev/mapper/lower 0\n8 8 remap /dev/mapper/other 8", false, "0 8 remap /dev/mapper/lower 8", false))),
                events);
        events.clear();
        dm.rename("other", "other2");
        dm.rename("other2", "other");
        assertEquals(List.of(Change.RENAMED, Change.REFERENCE_RENAMED, Change.RENAMED, Change.REFERENCE_RENAMED),
                events.stream().map(Event::change).toList());
        assertEquals("0 8 remap /dev/mapper/lower 0\n8 8 remap /dev/mapper/other 8", events.getLast().device().liveTable());
        // What the snapshot says reloads to the same table.
        dm.create("copy", null, events.getLast().device().liveTable(), false);
        assertEquals(dm.table("top", false), dm.table("copy", false));
    }
}
