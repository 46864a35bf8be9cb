package dev.jdm.core.engine;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.spi.TargetType.Feature;
import dev.jdm.core.engine.RegistryState.Refusal;
import dev.jdm.core.testing.TestFiles;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Malformed tables and refused commands: each one fails with its exact message and errno and leaves
 * the registry exactly as it was (devices, tables, status, open counts, open backing files). Over the
 * test targets; the real targets' argument refusals are in jdm-targets' TargetArgumentRefusalsTest.
 */
class RefusedCommandsTest {
    @TempDir
    Path dir;

    private DeviceMapper dm;
    private Path a;
    private Path b;
    private Path c;
    private Path missing;

    @BeforeEach
    void registry() throws Exception {
        a = TestFiles.sparse(dir, "a.img", 1 << 20);
        b = TestFiles.sparse(dir, "b.img", 1 << 20);
        c = TestFiles.sparse(dir, "c.img", 1 << 20);
        missing = dir.resolve("missing.img");
        dm = TestTargets.engine();
        dm.targetTypes().register(new FeatureTestType("solo", Set.of(Feature.SINGLETON)));
        dm.targetTypes().register(new FeatureTestType("fixed", Set.of(Feature.IMMUTABLE)));
        dm.targetTypes().register(new FeatureTestType("fixed2", Set.of(Feature.IMMUTABLE)));
        dm.targetTypes().register(new FeatureTestType("writer", Set.of(Feature.ALWAYS_WRITEABLE)));
        dm.create("base", "uuid-base", "0 1024 remap " + a + " 0\n1024 1024 remap " + b + " 0", false);
        dm.create("top", null, "0 2048 remap /dev/mapper/base 0", false);
        dm.create("pending", null);
        dm.load("pending", "0 100 zero", false);
        dm.create("locked", null, "0 64 fixed", false);
        dm.create("empty", null);
    }

    @AfterEach
    void closeRegistry() {
        dm.close();
    }

    private List<Refusal> cases() {
        String line = "table line 1: ";
        return List.of(
                // ---- table layout ----
                new Refusal("gap between targets", Errno.EINVAL, "table line 2: gap in table: target starts at sector 200, expected 100",
                        () -> dm.load("base", "0 100 zero\n200 100 zero", false)),
                new Refusal("overlapping targets", Errno.EINVAL, "table line 2: overlaps the previous target: target starts at sector 50, expected 100",
                        () -> dm.load("base", "0 100 zero\n50 100 zero", false)),
                new Refusal("first target not at 0", Errno.EINVAL, line + "gap in table: target starts at sector 8, expected 0",
                        () -> dm.load("base", "8 100 zero", false)),
                new Refusal("zero length", Errno.EINVAL, line + "zero-length target",
                        () -> dm.load("base", "0 0 zero", false)),
                new Refusal("non-numeric start", Errno.EINVAL, line + "invalid start sector \"x\" (a decimal number of 512-byte sectors)",
                        () -> dm.load("base", "x 100 zero", false)),
                new Refusal("negative length", Errno.EINVAL, line + "invalid length \"-5\" (a decimal number of 512-byte sectors)",
                        () -> dm.load("base", "0 -5 zero", false)),
                new Refusal("hexadecimal length", Errno.EINVAL, line + "invalid length \"0x10\" (a decimal number of 512-byte sectors)",
                        () -> dm.load("base", "0 0x10 zero", false)),
                new Refusal("start overflowing 64 bits", Errno.EINVAL,
                        line + "invalid start sector \"18446744073709551616\" (a decimal number of 512-byte sectors)",
                        () -> dm.load("base", "18446744073709551616 1 zero", false)),
                new Refusal("length too large for bytes", Errno.EINVAL, line + "length 9223372036854775807 makes the device too large",
                        () -> dm.load("base", "0 9223372036854775807 zero", false)),
                new Refusal("end overflowing", Errno.EINVAL, "table line 2: length 18014398509481983 makes the device too large",
                        () -> dm.load("base", "0 1 zero\n1 18014398509481983 zero", false)),
                new Refusal("unknown target type", Errno.EINVAL, line + "unknown target type \"frobnicate\" (jdm targets lists the known ones)",
                        () -> dm.load("base", "0 100 frobnicate", false)),
                new Refusal("line without a type", Errno.EINVAL, line + "expected <start> <length> <target type> [arguments...], got \"0 100\"",
                        () -> dm.load("base", "0 100", false)),
                new Refusal("empty table", Errno.EINVAL, "table has no targets",
                        () -> dm.load("base", "\n# only a comment\n", false)),
                new Refusal("backslash at the end", Errno.EINVAL, line + "backslash at the end of the line",
                        () -> dm.load("base", "0 100 remap " + a + "\\", false)),
                // ---- remap ----
                new Refusal("device too small", Errno.EINVAL,
                        line + "remap: argument 1 (\"" + a + "\"): device too small for target: it has 2048 sectors, the target needs sectors 0 to 4096",
                        () -> dm.load("base", "0 4096 remap " + a + " 0", false)),
                new Refusal("offset at the end of the device", Errno.EINVAL,
                        line + "remap: argument 1 (\"" + a + "\"): device too small for target: it has 2048 sectors, the target needs sectors 2048 to 2049",
                        () -> dm.load("base", "0 1 remap " + a + " 2048", false)),
                new Refusal("missing backing file", Errno.ENXIO,
                        "table line 2: remap: argument 1 (\"" + missing + "\"): no such file or device: " + missing,
                        () -> dm.load("base", "0 100 remap " + c + " 0\n100 100 remap " + missing + " 0", false)),
                new Refusal("unknown major:minor", Errno.ENXIO, line + "remap: argument 1 (\"4095:4095\"): no block device with number 4095:4095",
                        () -> dm.load("base", "0 100 remap 4095:4095 0", false)),
                new Refusal("table naming its own device", Errno.EINVAL,
                        line + "remap: argument 1 (\"/dev/mapper/base\"): a table cannot use its own device base",
                        () -> dm.load("base", "0 100 remap /dev/mapper/base 0", false)),
                new Refusal("cycle through another mapped device", Errno.EINVAL,
                        line + "remap: argument 1 (\"/dev/mapper/top\"): using top would make a loop: it already depends on base",
                        () -> dm.load("base", "0 100 remap /dev/mapper/top 0", false)),
                new Refusal("cycle by major:minor", Errno.EINVAL,
                        line + "remap: argument 1 (\"253:1\"): using top would make a loop: it already depends on base",
                        () -> dm.load("base", "0 100 remap 253:1 0", false)),
                new Refusal("unknown mapped device", Errno.ENXIO, line + "remap: argument 1 (\"/dev/mapper/nope\"): no mapped device named nope",
                        () -> dm.load("base", "0 100 remap /dev/mapper/nope 0", false)),
                // ---- type properties ----
                new Refusal("singleton with a neighbour", Errno.EINVAL, line + "solo must be the only target in its table",
                        () -> dm.load("base", "0 100 solo\n100 100 zero", false)),
                new Refusal("immutable mixed with another type", Errno.EINVAL,
                        "table mixes fixed, which must not be mixed with other target types, with other types",
                        () -> dm.load("base", "0 100 fixed\n100 100 zero", false)),
                new Refusal("immutable live table replaced by another type", Errno.EINVAL,
                        "the live table is fixed, which can only be replaced by fixed or error",
                        () -> dm.load("locked", "0 64 zero", false)),
                new Refusal("immutable live table replaced by another immutable type", Errno.EINVAL,
                        "the live table is fixed, which can only be replaced by fixed or error",
                        () -> dm.load("locked", "0 64 fixed2", false)),
                new Refusal("always-writeable type in a read-only table", Errno.EINVAL, line + "writer cannot be used in a read-only table",
                        () -> dm.load("base", "0 100 writer", true)),
                new Refusal("failed create with a table leaves no device", Errno.EINVAL, line + "remap: expected <dev> <offset>",
                        () -> dm.create("fresh", "uuid-fresh", "0 100 remap " + c, false)),
                // ---- names and uuids ----
                new Refusal("empty name", Errno.EINVAL, "device name is empty", () -> dm.create("", null)),
                new Refusal("name with a slash", Errno.EINVAL, "device name \"a/b\" contains '/'", () -> dm.create("a/b", null)),
                new Refusal("name of 128 bytes", Errno.EINVAL, "device name is longer than 127 bytes", () -> dm.create("n".repeat(128), null)),
                new Refusal("name control", Errno.EINVAL, "device name \"control\" is reserved", () -> dm.create("control", null)),
                new Refusal("name ..", Errno.EINVAL, "device name \"..\" is reserved", () -> dm.create("..", null)),
                new Refusal("duplicate name", Errno.EBUSY, "device base already exists", () -> dm.create("base", null)),
                new Refusal("duplicate uuid", Errno.EBUSY, "uuid uuid-base is already in use", () -> dm.create("other", "uuid-base")),
                new Refusal("uuid of 129 bytes", Errno.EINVAL, "uuid is longer than 128 bytes", () -> dm.create("other", "u".repeat(129))),
                new Refusal("minor in use", Errno.EBUSY, "minor 0 is already in use", () -> dm.create("other", null, 0)),
                new Refusal("uuid set twice", Errno.EINVAL, "device base already has uuid uuid-base; a uuid cannot be changed",
                        () -> dm.setUuid("base", "uuid-new")),
                new Refusal("uuid set to one in use", Errno.EBUSY, "uuid uuid-base is already in use", () -> dm.setUuid("top", "uuid-base")),
                new Refusal("rename onto an existing name", Errno.EBUSY, "device top already exists", () -> dm.rename("base", "top")),
                new Refusal("rename to a reserved name", Errno.EINVAL, "device name \"control\" is reserved", () -> dm.rename("base", "control")),
                new Refusal("rename of an unknown device", Errno.ENXIO, "device nope does not exist", () -> dm.rename("nope", "nope2")),
                // ---- unknown devices ----
                new Refusal("load into an unknown device", Errno.ENXIO, "device nope does not exist", () -> dm.load("nope", "0 1 zero", false)),
                new Refusal("suspend an unknown device", Errno.ENXIO, "device nope does not exist", () -> dm.suspend("nope", false)),
                new Refusal("remove an unknown device", Errno.ENXIO, "device nope does not exist", () -> dm.remove("nope", false, false)),
                // ---- remove ----
                new Refusal("remove a device another table holds", Errno.EBUSY, "device base is still open (open count 1: table of top)",
                        () -> dm.remove("base", false, false)),
                // ---- messages ----
                new Refusal("message to a target without messages", Errno.EINVAL, "target does not accept messages",
                        () -> dm.message("base", 0, List.of("hello"))),
                new Refusal("message to a sector past the end", Errno.EINVAL, "sector 2048 is outside the device (2048 sectors)",
                        () -> dm.message("base", 2048, List.of("hello"))),
                new Refusal("message to a negative sector", Errno.EINVAL, "sector -1 is outside the device (2048 sectors)",
                        () -> dm.message("base", -1, List.of("hello"))),
                new Refusal("empty message", Errno.EINVAL, "message is empty", () -> dm.message("base", 0, List.of())),
                new Refusal("message of an empty word", Errno.EINVAL, "message is empty", () -> dm.message("base", 0, List.of(""))),
                new Refusal("message to a device without a live table", Errno.EINVAL, "device pending has no live table to send a message to",
                        () -> dm.message("pending", 0, List.of("hello"))),
                new Refusal("unknown core message", Errno.EINVAL, "unknown core message \"@frob now\"",
                        () -> dm.message("base", 0, List.of("@frob", "now"))),
                new Refusal("cancel a deferred remove that was not asked for", Errno.ENXIO, "device base is not marked for deferred remove",
                        () -> dm.message("base", 0, List.of("@cancel_deferred_remove"))));
    }

    @TestFactory
    Stream<DynamicTest> everyRefusalHasItsMessageAndErrnoAndChangesNothing() throws Exception {
        RegistryState before = RegistryState.of(dm);
        assertEquals(2, before.openBackingDevices());
        List<Refusal> cases = cases();
        assertTrue(cases.size() >= 30);
        return RegistryState.refusals(dm, cases);
    }

    @Test
    void resumeWithNothingLoadedChangesNothing() throws Exception {
        RegistryState before = RegistryState.of(dm);
        dm.resume("empty");
        dm.resume("base");
        assertEquals(before, RegistryState.of(dm));
        assertEquals("ACTIVE", dm.info("empty").state());
        assertEquals("None", dm.info("empty").tablesPresent());
    }

    @Test
    void forcedRemoveOfAHeldDeviceWipesItsTableButKeepsIt() throws Exception {
        DmException e = assertThrows(DmException.class, () -> dm.remove("base", true, false));
        assertEquals(Errno.EBUSY, e.errno());
        assertEquals("device base is still open (open count 1: table of top)", e.getMessage());
        // dmsetup remove --force replaces the table with error before trying, and that stays.
        assertEquals(List.of("0 2048 error "), dm.table("base", false).stream().map(TargetLine::format).toList());
        assertEquals(List.of("253:0"), dm.deps("top", false));
        assertEquals(0, dm.deps("base", false).size());
        assertEquals(0, dm.openBackingDevices(), "a.img and b.img are released with base's old table");
    }

    @Test
    void forcedRemoveOfAnOpenDeviceEvictsTheOpenerAndIoFailsAfterwards() throws Exception {
        MappedDevice top = dm.device("top");
        List<String> evicted = new ArrayList<>();
        MappedDevice.Opener handle = top.open("nbd export", false, () -> evicted.add("nbd export"));
        DmException busy = assertThrows(DmException.class, () -> dm.remove("top", false, false));
        assertEquals("device top is still open (open count 1: nbd export)", busy.getMessage());
        assertEquals(Errno.EBUSY, busy.errno());
        handle.close();
        MappedDevice.Opener again = top.open("nbd export", false, () -> evicted.add("evicted"));
        // Forced: the opener is told, its open is released by the removal itself, and the device goes.
        dm.remove("top", true, false);
        assertEquals(List.of("evicted"), evicted);
        again.close(); // the opener's own late close changes nothing
        var io = assertThrows(BlockIoException.class, () -> top.read(0, ByteBuffer.allocate(512)));
        assertEquals(Errno.ENXIO, io.errno());
        assertEquals("device top has been removed", io.getMessage());
        assertEquals(List.of("base", "empty", "locked", "pending"), names());
        assertEquals(0, dm.info("base").openCount());
    }

    @Test
    void exclusiveOpensAreRefusedWithEbusy() throws Exception {
        MappedDevice empty = dm.device("empty");
        try (MappedDevice.Opener first = empty.open("first", true, null)) {
            DmException e = assertThrows(DmException.class, () -> empty.open("second", false, null));
            assertEquals(Errno.EBUSY, e.errno());
            assertEquals("device empty is held exclusively by first", e.getMessage());
        }
        try (MappedDevice.Opener shared = empty.open("shared", false, null)) {
            DmException e = assertThrows(DmException.class, () -> empty.open("claim", true, null));
            assertEquals("device empty is open (1) and cannot be claimed exclusively", e.getMessage());
        }
    }

    @Test
    void deferredRemoveHappensOnLastCloseAndCanBeCancelled() throws Exception {
        MappedDevice empty = dm.device("empty");
        MappedDevice.Opener handle = empty.open("holder", false, null);
        dm.remove("empty", false, true);
        assertEquals("ACTIVE (DEFERRED REMOVE)", dm.info("empty").state());
        dm.message("empty", 0, List.of("@cancel_deferred_remove"));
        assertEquals("ACTIVE", dm.info("empty").state());
        dm.remove("empty", false, true);
        handle.close();
        assertEquals(List.of("base", "locked", "pending", "top"), names());
    }

    @Test
    void immutableTableMayBeReplacedByItsOwnTypeOrError() throws Exception {
        dm.load("locked", "0 32 fixed", false);
        dm.resume("locked");
        dm.load("locked", "0 32 error", false);
        dm.resume("locked");
        assertEquals(List.of("0 32 error "), dm.table("locked", false).stream().map(TargetLine::format).toList());
    }

    @Test
    void devicesOfFailedTablesAreAllReleased() throws Exception {
        int before = dm.openBackingDevices();
        assertThrows(DmException.class, () -> dm.load("pending", "0 100 remap " + c + " 0\n100 28 remap " + missing + " 0", false));
        assertEquals(before, dm.openBackingDevices());
        assertThrows(DmException.class, () -> dm.load("pending", "0 100 remap /dev/mapper/empty 0", false));
        assertEquals(0, dm.info("empty").openCount());
    }

    private List<String> names() {
        return dm.list().stream().map(DeviceInfo::name).toList();
    }
}
