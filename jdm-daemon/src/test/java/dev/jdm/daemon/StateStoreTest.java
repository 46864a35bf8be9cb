package dev.jdm.daemon;

import dev.jdm.core.engine.DeviceInfo;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.TargetLine;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The state folder: what is written on each change, how writes survive a crash, how devices come back. */
class StateStoreTest {
    @TempDir
    Path dir;

    private Path image(String name, long bytes) throws IOException {
        Path p = dir.resolve(name);
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(bytes);
        }
        return p;
    }

    /** A daemon-less setup: an engine with the store listening, driven through the control service. */
    private record Setup(DeviceMapper dm, StateStore store, ControlService service) implements AutoCloseable {
        String call(String json) {
            return service.handle(json).toString();
        }

        @Override
        public void close() {
            dm.removeListener(store);
            dm.close();
        }
    }

    private Setup setup(Path state) throws IOException {
        DeviceMapper dm = DeviceMapper.create();
        StateStore store = new StateStore(state, dm);
        dm.addListener(store);
        return new Setup(dm, store, new ControlService(dm, "test"));
    }

    private static List<String> files(Path d) throws IOException {
        try (Stream<Path> s = Files.list(d)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /** The create, load and resume of a create with a table reach the folder as one write, after the last of them. */
    @Test
    void aCreateWithATableIsWrittenOnceWhole() throws Exception {
        Path a = image("a.img", 1 << 20);
        Path state = dir.resolve("state");
        try (Setup s = setup(state)) {
            List<String> seenDuringCreate = new java.util.ArrayList<>();
            // Told after the store (it listens first): what the folder holds once the engine has told the change.
            DeviceMapper.Listener spy = (device, change) -> {
                try {
                    seenDuringCreate.add(change + " " + files(state) + " " + device.liveTable());
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            };
            s.dm().addListener(spy);
            s.call("{\"op\":\"create\",\"name\":\"d\",\"table\":\"0 8 linear " + a + " 0\"}");
            s.dm().removeListener(spy);
            assertEquals(List.of("CREATED [dm-0.json] 0 8 linear " + a + " 0"), seenDuringCreate);
            assertEquals(new DeviceState("d", null, 0, "0 8 linear " + a + " 0", false, null, false, false),
                    Protocol.JSON.readValue(state.resolve("dm-0.json").toFile(), DeviceState.class));

            // A refused table: the device the create made is removed again and nothing was ever written for it.
            s.call("{\"op\":\"create\",\"name\":\"bad\",\"table\":\"0 8 linear /nonexistent 0\"}");
            assertEquals(List.of("dm-0.json"), files(state));
        }
    }

    @Test
    void everyChangeRewritesTheDeviceFileWithTheTableAsLoaded() throws Exception {
        Path a = image("a.img", 1 << 20);
        Path state = dir.resolve("state");
        try (Setup s = setup(state)) {
            // Extra spaces: the file keeps the text as given, not as `table` prints it.
            assertEquals("{\"ok\":true}", s.call("{\"op\":\"create\",\"name\":\"d\",\"uuid\":\"U\",\"table\":\"0  8 linear " + a + "  0\"}")
                    .replaceAll(",\"info\".*", "}"));
            assertEquals("""
                    {
                      "name" : "d",
                      "uuid" : "U",
                      "minor" : 0,
                      "table" : "0  8 linear %s  0",
                      "readOnly" : false,
                      "inactiveReadOnly" : false,
                      "suspended" : false
                    }""".formatted(a), Files.readString(state.resolve("dm-0.json")));
            s.call("{\"op\":\"load\",\"name\":\"d\",\"table\":\"0 16 zero\",\"readOnly\":true}");
            s.call("{\"op\":\"suspend\",\"name\":\"d\"}");
            s.call("{\"op\":\"rename\",\"name\":\"d\",\"newName\":\"e\"}");
            assertEquals(new DeviceState("e", "U", 0, "0  8 linear " + a + "  0", false, "0 16 zero", true, true),
                    Protocol.JSON.readValue(state.resolve("dm-0.json").toFile(), DeviceState.class));
            s.call("{\"op\":\"resume\",\"name\":\"e\"}");
            assertEquals(new DeviceState("e", "U", 0, "0 16 zero", true, null, false, false),
                    Protocol.JSON.readValue(state.resolve("dm-0.json").toFile(), DeviceState.class));
            assertEquals(List.of("dm-0.json"), files(state));
            s.call("{\"op\":\"remove\",\"name\":\"e\"}");
            assertEquals(List.of(), files(state));
        }
    }

    /**
     * A crash between writing the temporary file and renaming it leaves the old file whole and the
     * temporary one beside it; the next start restores the old state and removes the leftover.
     */
    @Test
    void aWriteCutShortLeavesTheOldStateWhole() throws Exception {
        Path state = dir.resolve("state");
        try (Setup s = setup(state)) {
            s.call("{\"op\":\"create\",\"name\":\"d\",\"table\":\"0 8 zero\"}");
        }
        Path file = state.resolve("dm-0.json");
        String before = Files.readString(file);
        byte[] half = "{\n  \"name\" : \"d\",\n  \"minor\" : 0,\n  \"tab".getBytes(StandardCharsets.UTF_8);
        AtomicFile.writeTemp(file, half);
        assertEquals(List.of(".dm-0.json.tmp", "dm-0.json"), files(state));
        assertEquals(before, Files.readString(file));
        try (Setup s = setup(state)) {
            StateStore.RestoreReport report = s.store().restore();
            assertEquals(new StateStore.RestoreReport(List.of("d"), List.of()), report);
            assertEquals(List.of("dm-0.json"), files(state));
            assertEquals(List.of(new TargetLine(0, 8, "zero", "")), s.dm().table("d", false));
        }
    }

    @Test
    void stackedDevicesComeBackInDependencyOrderWithTheirNumbers() throws Exception {
        Path a = image("a.img", 1 << 20);
        Path state = dir.resolve("state");
        try (Setup s = setup(state)) {
            // Lower minors on top, so restoring by minor alone would fail.
            s.call("{\"op\":\"create\",\"name\":\"top\",\"minor\":1,\"table\":\"0 8 linear /dev/mapper/middle 0\\n8 8 linear 253:3 8\"}");
            assertTrue(s.call("{\"op\":\"info\",\"name\":\"top\"}").contains("error"), "top needs middle first");
            s.call("{\"op\":\"create\",\"name\":\"base\",\"minor\":3,\"uuid\":\"B\",\"table\":\"0 32 linear " + a + " 0\"}");
            s.call("{\"op\":\"create\",\"name\":\"middle\",\"minor\":2,\"table\":\"0 16 linear 253:3 16\"}");
            s.call("{\"op\":\"create\",\"name\":\"top\",\"minor\":1,\"table\":\"0 8 linear /dev/mapper/middle 0\\n8 8 linear 253:3 8\"}");
            s.call("{\"op\":\"load\",\"name\":\"middle\",\"table\":\"0 16 linear 253:3 0\"}");
            s.call("{\"op\":\"suspend\",\"name\":\"middle\"}");
        }
        assertEquals(List.of("base", "middle", "top"), StateStore.dependencyOrder(
                List.of(read(state, 1), read(state, 2), read(state, 3))).stream().map(DeviceState::name).toList());
        try (Setup s = setup(state)) {
            assertEquals(new StateStore.RestoreReport(List.of("base", "middle", "top"), List.of()), s.store().restore());
            DeviceInfo middle = s.dm().info("middle");
            assertEquals(2, middle.minor());
            assertTrue(middle.suspended());
            assertTrue(middle.inactiveTable());
            assertEquals("B", s.dm().info("base").uuid());
            assertEquals(List.of("253:2", "253:3"), s.dm().deps("top", false));
            assertEquals(List.of(new TargetLine(0, 16, "linear", "253:3 0")), s.dm().table("middle", true));
            // Restoring wrote nothing: the files are what they were.
            assertEquals(read(state, 2), s.store().snapshot().get(2));
        }
    }

    @Test
    void aDeviceThatCannotBeRestoredIsReportedAndTheOthersComeBack() throws Exception {
        Path a = image("a.img", 1 << 20);
        Path state = dir.resolve("state");
        try (Setup s = setup(state)) {
            s.call("{\"op\":\"create\",\"name\":\"good\",\"table\":\"0 8 zero\"}");
            s.call("{\"op\":\"create\",\"name\":\"gone\",\"table\":\"0 8 linear " + a + " 0\"}");
            s.call("{\"op\":\"create\",\"name\":\"above\",\"table\":\"0 8 linear /dev/mapper/gone 0\"}");
        }
        Files.delete(a);
        Files.writeString(state.resolve("dm-7.json"), "{\"name\":");
        try (Setup s = setup(state)) {
            StateStore.RestoreReport r = s.store().restore();
            assertEquals(List.of("good"), r.restored());
            assertEquals(List.of(
                    "dm-7.json: unreadable state file: Unexpected end-of-input within/between Object entries (line 1, column 9)",
                    "gone: no such file or device: " + a,
                    "above: no mapped device named gone"),
                    r.failures().stream().map(f -> f.replaceAll("table line 1: linear: (argument 1 \\(\"[^\"]*\"\\): )?", "")).toList());
            assertEquals(List.of("good"), s.dm().names());
            assertEquals(List.of("dm-0.json", "dm-1.json", "dm-2.json", "dm-7.json"), files(state));
        }
    }

    /** The engine tells the table as loaded and its read-only flag, whoever loads it. */
    @Test
    void aTableLoadedInProcessIsKeptAsLoaded() throws Exception {
        Path state = dir.resolve("state");
        try (Setup s = setup(state)) {
            s.call("{\"op\":\"create\",\"name\":\"d\",\"table\":\"0 8 zero\"}");
            s.dm().load("d", "0  4 zero\n4 4 error", false);
            assertEquals(new DeviceState("d", null, 0, "0 8 zero", false, "0  4 zero\n4 4 error", false, false), read(state, 0));
            s.dm().load("d", "0  8 error", true);
            assertEquals(new DeviceState("d", null, 0, "0 8 zero", false, "0  8 error", true, false), read(state, 0));
        }
    }

    /** A device created transient (its table holds a key) never reaches the folder, through any change. */
    @Test
    void aTransientDeviceIsNeverWritten() throws Exception {
        Path state = dir.resolve("state");
        try (Setup s = setup(state)) {
            s.call("{\"op\":\"create\",\"name\":\"kept\",\"table\":\"0 8 zero\"}");
            assertTrue(s.call("{\"op\":\"create\",\"name\":\"keyed\",\"transient\":true,\"table\":\"0 8 zero\"}").startsWith("{\"ok\":true"));
            s.call("{\"op\":\"load\",\"name\":\"keyed\",\"table\":\"0 16 zero\"}");
            s.call("{\"op\":\"suspend\",\"name\":\"keyed\"}");
            s.call("{\"op\":\"resume\",\"name\":\"keyed\"}");
            s.call("{\"op\":\"rename\",\"name\":\"keyed\",\"newName\":\"keyed2\"}");
            assertEquals(List.of("dm-0.json"), files(state));
            assertEquals(List.of(0), List.copyOf(s.store().snapshot().keySet()));
            s.call("{\"op\":\"remove\",\"name\":\"keyed2\"}");
            assertEquals(List.of("dm-0.json"), files(state));
        }
    }

    @Test
    void renamingADeviceUnderAStackKeepsTheStackRestorable() throws Exception {
        Path state = dir.resolve("state");
        try (Setup s = setup(state)) {
            s.call("{\"op\":\"create\",\"name\":\"base\",\"table\":\"0 16 zero\"}");
            s.call("{\"op\":\"create\",\"name\":\"base2\",\"table\":\"0 16 zero\"}");
            s.call("{\"op\":\"create\",\"name\":\"top\",\"table\":\"0 8 linear /dev/mapper/base 0\\n8 8 linear /dev/mapper/base2 0\"}");
            s.call("{\"op\":\"rename\",\"name\":\"base\",\"newName\":\"lower\"}");
            assertEquals("0 8 linear /dev/mapper/lower 0\n8 8 linear /dev/mapper/base2 0", read(state, 2).table());
            // The engine's text follows the rename too, so later changes of top keep it.
            s.call("{\"op\":\"suspend\",\"name\":\"top\"}");
            s.call("{\"op\":\"resume\",\"name\":\"top\"}");
            assertEquals("0 8 linear /dev/mapper/lower 0\n8 8 linear /dev/mapper/base2 0", read(state, 2).table());
        }
        try (Setup s = setup(state)) {
            assertEquals(new StateStore.RestoreReport(List.of("lower", "base2", "top"), List.of()), s.store().restore());
            assertEquals(List.of("253:0", "253:1"), s.dm().deps("top", false));
        }
    }

    @Test
    void aMinorOutsideLinuxDeviceNumbersIsRefused() throws Exception {
        try (Setup s = setup(dir.resolve("state"))) {
            assertEquals("{\"ok\":false,\"errno\":\"EINVAL\",\"code\":22,\"error\":\"create: minor -1 is outside 0..1048575\"}",
                    s.call("{\"op\":\"create\",\"name\":\"d\",\"minor\":-1}"));
            assertEquals("{\"ok\":false,\"errno\":\"EINVAL\",\"code\":22,\"error\":\"create: minor 1048576 is outside 0..1048575\"}",
                    s.call("{\"op\":\"create\",\"name\":\"d\",\"minor\":1048576}"));
        }
    }

    /**
     * The stack lvm builds for a snapshot of a live volume: the volume keeps its (lowest) number and gets
     * snapshot-origin over its old table moved to a new -real device; each snapshot names -real and its own -cow.
     * The volume here is also suspended halfway through lvconvert --merge, its inactive table naming a later COW.
     */
    @Test
    void anLvmSnapshotStackComesBackWithRealAndCowsBeforeTheDevicesOverThem() {
        List<DeviceState> states = List.of(
                new DeviceState("vg-lv", null, 0, "0 2048 snapshot-origin /dev/mapper/vg-lv-real", false,
                        "0 2048 snapshot-merge /dev/mapper/vg-lv-real /dev/mapper/vg-snap2-cow P 8", false, true),
                new DeviceState("vg-lv-real", null, 1, "0 2048 linear /images/lv 0", false, null, false, false),
                new DeviceState("vg-snap-cow", null, 2, "0 4096 linear /images/snap 0", false, null, false, false),
                new DeviceState("vg-snap", null, 3, "0 2048 snapshot 253:1 /dev/mapper/vg-snap-cow P 8", false, null, false, false),
                new DeviceState("vg-snap2", null, 4, "0 2048 snapshot /dev/mapper/vg-lv-real 253:5 PO 16 1 discard_zeroes_cow", false,
                        null, false, false),
                new DeviceState("vg-snap2-cow", null, 5, "0 4096 linear /images/snap2 0", false, null, false, false));
        assertEquals(List.of("vg-lv-real", "vg-snap-cow", "vg-snap", "vg-snap2-cow", "vg-lv", "vg-snap2"),
                StateStore.dependencyOrder(states).stream().map(DeviceState::name).toList());
    }

    private static DeviceState read(Path state, int minor) throws IOException {
        return Protocol.JSON.readValue(state.resolve("dm-" + minor + ".json").toFile(), DeviceState.class);
    }
}
