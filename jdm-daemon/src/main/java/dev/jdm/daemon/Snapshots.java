package dev.jdm.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jdm.core.Sectors;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.core.io.FileBlockDevice;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.LongConsumer;
import java.util.stream.Stream;

/**
 * Classic snapshots of a live device the way LVM2 builds them (docs/snapshot.md), as a sequence of
 * ordinary control operations, so every step shows in {@code jdm table}/{@code status}:
 * ORIGIN keeps its name and gets {@code snapshot-origin ORIGIN-real}, ORIGIN-real holds ORIGIN's
 * former table, NAME-cow is a linear device over the COW file and NAME is the {@code snapshot}.
 * Nothing is remembered outside the tables: each operation reads them again, so a daemon restarted
 * from its state folder (or a merge interrupted by kill -9) is picked up where it stands.
 */
public final class Snapshots {
    /** How often at least a merge's progress is read from the origin's status. */
    private static final long MERGE_POLL_MILLIS = 100;
    /** How much of the COW create zeroes, as lvcreate does: the header and more. */
    private static final long HEADER_WIPE_BYTES = 4096;

    private final ControlClient daemon;

    public Snapshots(ControlClient daemon) {
        this.daemon = daemon;
    }

    /** One snapshot as {@link #list} reports it; the sector counts are -1 where the status has none. */
    public record Snapshot(String name, String origin, String cow, String store, long chunkSectors, String state,
                           long allocatedSectors, long totalSectors, long metadataSectors) {
    }

    /**
     * A merge that was started (or found running): the snapshot it came from, the origin that merges,
     * and the sectors of data there were to merge (-1 for a merge found running: then the first look counts).
     */
    public record Merge(String name, String origin, long sectorsToMerge) {
    }

    /** One device as the daemon lists it, with its live table. */
    private record Device(String name, int minor, long sizeSectors, List<Line> table) {
        boolean isSingle(String type) {
            return table.size() == 1 && table.getFirst().type().equals(type);
        }

        String[] words() {
            return table.getFirst().params().split(" ");
        }

        String number() {
            return MappedDevice.MAJOR + ":" + minor;
        }

        String tableText() {
            StringBuilder s = new StringBuilder();
            for (Line l : table) {
                s.append(l.start()).append(' ').append(l.length()).append(' ').append(l.type());
                if (!l.params().isEmpty()) {
                    s.append(' ').append(l.params());
                }
                s.append('\n');
            }
            return s.toString();
        }
    }

    private record Line(long start, long length, String type, String params) {
    }

    /** What a {@code snapshot} or {@code snapshot-merge} table names: origin, COW, store and chunk size. */
    private record SnapshotTable(String origin, String cow, String store, long chunkSectors) {
        static SnapshotTable of(Device d) {
            String[] w = d.words();
            return new SnapshotTable(w[0], w[1], w[2], Long.parseLong(w[3]));
        }
    }

    /** All devices with their tables, read once per operation. */
    private final class Devices {
        final List<Device> all = new ArrayList<>();

        Devices() throws IOException, ControlException {
            for (JsonNode d : daemon.call(ControlClient.request("list")).path("devices")) {
                String name = d.path("name").asText();
                List<Line> lines = new ArrayList<>();
                if (d.path("liveTable").asBoolean(false)) {
                    for (JsonNode l : call("table", name).path("targets")) {
                        lines.add(new Line(l.path("start").asLong(), l.path("length").asLong(), l.path("type").asText(),
                                l.path("params").asText()));
                    }
                }
                all.add(new Device(name, d.path("minor").asInt(), d.path("sizeSectors").asLong(), List.copyOf(lines)));
            }
        }

        Optional<Device> named(String name) {
            return all.stream().filter(d -> d.name().equals(name)).findFirst();
        }

        Device require(String name) throws ControlException {
            return named(name).orElseThrow(() -> refusal("ENXIO", 6, "no device " + name));
        }

        /** The device a table names as {@code 253:N}. */
        Optional<Device> numbered(String number) {
            return all.stream().filter(d -> d.number().equals(number)).findFirst();
        }

        /** The device whose single target of {@code type} has {@code number} as its first argument. */
        Optional<Device> over(String type, String number) {
            return all.stream().filter(d -> d.isSingle(type) && d.words()[0].equals(number)).findFirst();
        }

        /**
         * The device whose table names this file or block device, however it is spelt: tables print a file by
         * its absolute path (another path, a symlink or a hard link to it is the same file) and a block device
         * by {@code major:minor}.
         */
        Optional<Device> using(Path file) throws IOException {
            String number = FileBlockDevice.isBlockDevice(file) ? FileBlockDevice.majorMinor(file) : null;
            return all.stream().filter(d -> d.table().stream().flatMap(l -> Stream.of(l.params().split(" ")))
                    .anyMatch(word -> word.equals(number) || sameFile(file, word))).findFirst();
        }

        List<Device> snapshotsOf(String realNumber) {
            return all.stream().filter(d -> d.isSingle("snapshot") && d.words()[0].equals(realNumber)).toList();
        }
    }

    private static boolean sameFile(Path file, String word) {
        if (!word.startsWith("/")) {
            return false;
        }
        try {
            return Files.isSameFile(file, Path.of(word));
        } catch (IOException | InvalidPathException e) {
            return false; // a word that names no file here is not this one
        }
    }

    /**
     * Takes snapshot NAME of the live device ORIGIN with its COW on {@code cow} (a file or block
     * device, used whole): LVM's order, so no origin write slips past the snapshot. On any failure
     * everything made is removed again and ORIGIN is left serving its old table.
     *
     * @param store {@code P} (persistent) or {@code N} (transient)
     */
    public void create(String origin, String name, Path cow, long chunkSectors, String store)
            throws IOException, ControlException {
        Devices devices = new Devices();
        Device o = devices.require(origin);
        if (o.isSingle("snapshot-merge")) {
            throw refusal("EBUSY", 16, origin + " is merging a snapshot: wait for it with jdm snapshot merge");
        }
        for (String taken : List.of(name, name + "-cow")) {
            if (devices.named(taken).isPresent()) {
                throw refusal("EEXIST", 17, "device " + taken + " already exists");
            }
        }
        boolean first = !o.isSingle("snapshot-origin");
        String realName = origin + "-real";
        if (first && devices.named(realName).isPresent()) {
            throw refusal("EEXIST", 17, "device " + realName + " already exists");
        }
        long cowSectors = sectorsOf(cow);
        Optional<Device> user = devices.using(cow);
        if (user.isPresent()) {
            // Zeroing its header would destroy what that device holds (another snapshot's COW, say).
            throw refusal("EBUSY", 16, cow + " is in use by device " + user.get().name());
        }
        long size = o.sizeSectors();
        wipeHeader(cow);

        List<String> made = new ArrayList<>();
        boolean originLoaded = false;
        boolean originSuspended = false;
        try {
            String real = first ? create(realName, o.tableText(), made) : o.words()[0];
            String cowNumber = create(name + "-cow", "0 " + cowSectors + " linear " + cow + " 0", made);
            create(name, null, made);
            load(name, "0 " + size + " snapshot " + real + " " + cowNumber + " " + store + " " + chunkSectors);
            if (first) {
                load(origin, "0 " + size + " snapshot-origin " + real);
                originLoaded = true;
            }
            // Suspending drains the origin's writes; from the resume on each one copies to the new snapshot first.
            call("suspend", origin);
            originSuspended = true;
            call("resume", name);
            call("resume", origin);
        } catch (IOException | ControlException | RuntimeException failure) {
            rollBack(origin, originLoaded, originSuspended, made, failure);
            throw failure;
        }
    }

    /** Undoes a create that failed: the origin back on its own table, the devices made removed (newest first). */
    private void rollBack(String origin, boolean originLoaded, boolean originSuspended, List<String> made,
                          Exception failure) {
        if (originLoaded) {
            quietly(failure, "clear", origin);
        }
        if (originSuspended) {
            quietly(failure, "resume", origin);
        }
        for (String m : made.reversed()) {
            quietly(failure, "remove", m);
        }
    }

    private void quietly(Exception failure, String op, String name) {
        try {
            call(op, name);
        } catch (IOException | ControlException e) {
            failure.addSuppressed(e);
        }
    }

    /**
     * Starts merging snapshot NAME back into its origin (LVM's lvconvert --merge): the origin gets
     * {@code snapshot-merge} over the same ORIGIN-real and COW, and the snapshot device goes away
     * (its COW now belongs to the merge). A merge already running from NAME's COW is returned as it is.
     */
    public Merge startMerge(String name) throws IOException, ControlException {
        Devices devices = new Devices();
        Optional<Merge> running = runningMerge(devices, name);
        if (running.isPresent()) {
            // A start that stopped after the merge ran left the suspended snapshot device behind.
            if (devices.named(name).filter(d -> d.isSingle("snapshot")).isPresent()) {
                call("remove", name);
            }
            return running.get();
        }
        Device snap = devices.named(name).filter(d -> d.isSingle("snapshot"))
                .orElseThrow(() -> refusal("ENXIO", 6, "no snapshot " + name));
        SnapshotTable t = SnapshotTable.of(snap);
        if (!t.store().toUpperCase(Locale.ROOT).startsWith("P")) {
            throw refusal("EINVAL", 22, name + " has a transient COW (" + t.store() + "): only a persistent snapshot can be merged");
        }
        Device origin = originOf(devices, t.origin(), name);
        // Read before the merge starts: a small merge is over before the first look at its progress.
        long[] usage = usageOf(name);
        if (devices.over("snapshot-merge", t.origin()).isPresent()) {
            throw refusal("EBUSY", 16, origin.name() + " is already merging a snapshot");
        }
        load(origin.name(), "0 " + origin.sizeSectors() + " snapshot-merge " + t.origin() + " " + t.cow() + " P " + t.chunkSectors());
        boolean originSuspended = false;
        boolean snapshotSuspended = false;
        try {
            call("suspend", origin.name());
            originSuspended = true;
            // The merge takes the COW over from the snapshot, which must be quiet by then (the kernel's handover rule).
            call("suspend", name);
            snapshotSuspended = true;
            call("resume", origin.name());
        } catch (IOException | ControlException | RuntimeException failure) {
            quietly(failure, "clear", origin.name());
            if (snapshotSuspended) {
                quietly(failure, "resume", name);
            }
            if (originSuspended) {
                quietly(failure, "resume", origin.name());
            }
            throw failure;
        }
        call("remove", name);
        return new Merge(name, origin.name(), usage == null ? -1 : usage[0] - usage[2]);
    }

    /** A merge from NAME's COW (found by the name NAME-cow) that an earlier command started. */
    private Optional<Merge> runningMerge(Devices devices, String name) {
        return devices.named(name + "-cow")
                .flatMap(cow -> devices.all.stream()
                        .filter(d -> d.isSingle("snapshot-merge") && d.words()[1].equals(cow.number())).findFirst())
                .map(origin -> new Merge(name, origin.name(), -1));
    }

    private static Device originOf(Devices devices, String realNumber, String snapshot) throws ControlException {
        return devices.over("snapshot-origin", realNumber)
                .orElseThrow(() -> refusal("ENXIO", 6, "no snapshot-origin device over " + realNumber + ", the origin of " + snapshot));
    }

    /**
     * Waits for a merge to copy everything back, reporting the sectors merged so far out of those
     * there were to merge when the wait began, then puts the origin back on its own table (or on
     * {@code snapshot-origin} while other snapshots remain) and removes NAME-cow and, when unused,
     * ORIGIN-real.
     */
    public void finishMerge(Merge merge, LongConsumer totalSectors, LongConsumer mergedSectors)
            throws IOException, ControlException {
        long startedWith = merge.sectorsToMerge();
        if (startedWith >= 0) {
            totalSectors.accept(startedWith);
        }
        long events = eventNumberOf(merge.origin());
        while (true) {
            long[] usage = usageOf(merge.origin());
            if (usage == null) {
                throw refusal("EIO", 5, "merging " + merge.name() + " into " + merge.origin() + ": " + statusOf(merge.origin()));
            }
            long left = usage[0] - usage[2];
            if (startedWith < 0) {
                startedWith = left;
                totalSectors.accept(left);
            }
            mergedSectors.accept(startedWith - left);
            if (left <= 0) {
                break;
            }
            // The target raises an event when the merge ends; the timeout keeps the progress moving meanwhile.
            events = step(ControlClient.request("wait").put("name", merge.origin()).put("eventNr", events)
                    .put("timeout", MERGE_POLL_MILLIS), "wait " + merge.origin()).path("info").path("eventNumber").asLong();
        }
        Devices devices = new Devices();
        Device origin = devices.require(merge.origin());
        SnapshotTable t = SnapshotTable.of(origin);
        Device real = devices.numbered(t.origin()).orElseThrow(() -> refusal("ENXIO", 6, "no device " + t.origin()));
        boolean last = devices.snapshotsOf(t.origin()).isEmpty();
        load(origin.name(), last ? real.tableText() : "0 " + origin.sizeSectors() + " snapshot-origin " + t.origin());
        call("suspend", origin.name());
        call("resume", origin.name());
        removeLayer(devices, t.cow(), merge.name() + "-cow");
        if (last) {
            removeLayer(devices, t.origin(), merge.origin() + "-real");
        }
    }

    /**
     * Drops snapshot NAME and its NAME-cow; the last snapshot of an origin also puts ORIGIN-real's
     * table back on the origin and removes ORIGIN-real. The origin is suspended (its writes drained)
     * while the snapshot goes, so no write is lost or half copied.
     */
    public void remove(String name) throws IOException, ControlException {
        Devices devices = new Devices();
        Device snap = devices.named(name).filter(d -> d.isSingle("snapshot"))
                .orElseThrow(() -> refusal("ENXIO", 6, "no snapshot " + name));
        SnapshotTable t = SnapshotTable.of(snap);
        Optional<Device> origin = devices.over("snapshot-origin", t.origin());
        boolean last = devices.snapshotsOf(t.origin()).size() == 1;
        if (origin.isEmpty()) {
            call("remove", name);
            removeLayer(devices, t.cow(), name + "-cow");
            return;
        }
        String o = origin.get().name();
        Device real = devices.numbered(t.origin()).orElseThrow(() -> refusal("ENXIO", 6, "no device " + t.origin()));
        if (last) {
            load(o, real.tableText());
        }
        call("suspend", o);
        try {
            call("remove", name);
        } catch (IOException | ControlException | RuntimeException failure) {
            if (last) {
                quietly(failure, "clear", o);
            }
            quietly(failure, "resume", o);
            throw failure;
        }
        call("resume", o);
        removeLayer(devices, t.cow(), name + "-cow");
        if (last) {
            removeLayer(devices, t.origin(), o + "-real");
        }
    }

    /** Removes the layer device a table names, but only one this class made (by its name): a hand-built table keeps its devices. */
    private void removeLayer(Devices devices, String number, String expectedName) throws IOException, ControlException {
        Optional<Device> d = devices.numbered(number);
        if (d.isPresent() && d.get().name().equals(expectedName)) {
            call("remove", expectedName);
        }
    }

    /** Every snapshot with its origin and usage, merging ones included (state {@code merging}), by name. */
    public List<Snapshot> list() throws IOException, ControlException {
        Devices devices = new Devices();
        List<Snapshot> found = new ArrayList<>();
        for (Device d : devices.all) {
            boolean merging = d.isSingle("snapshot-merge");
            if (!merging && !d.isSingle("snapshot")) {
                continue;
            }
            SnapshotTable t = SnapshotTable.of(d);
            String cow = devices.numbered(t.cow()).map(Device::name).orElse(t.cow());
            String name = merging ? (cow.endsWith("-cow") ? cow.substring(0, cow.length() - 4) : cow) : d.name();
            String origin = merging ? d.name() : devices.over("snapshot-origin", t.origin())
                    .or(() -> devices.over("snapshot-merge", t.origin()))
                    .or(() -> devices.numbered(t.origin())).map(Device::name).orElse(t.origin());
            String status = statusOf(d.name());
            long[] usage = usage(status);
            if (usage != null) {
                found.add(new Snapshot(name, origin, cow, t.store(), t.chunkSectors(), merging ? "merging" : "active",
                        usage[0], usage[1], usage[2]));
            } else {
                found.add(new Snapshot(name, origin, cow, t.store(), t.chunkSectors(),
                        status.toLowerCase(Locale.ROOT), -1, -1, -1));
            }
        }
        found.sort(Comparator.comparing(Snapshot::name));
        return found;
    }

    private String statusOf(String name) throws IOException, ControlException {
        return call("status", name).path("targets").path(0).path("params").asText();
    }

    /** A snapshot's (or merge's) usage, {allocated, total, metadata} in sectors; null when the status is a word (Invalid, ...). */
    private long eventNumberOf(String name) throws IOException, ControlException {
        return step(ControlClient.request("info").put("name", name), "info " + name).path("info").path("eventNumber").asLong();
    }

    private long[] usageOf(String name) throws IOException, ControlException {
        return usage(statusOf(name));
    }

    private static long[] usage(String status) {
        String[] words = status.split("[/ ]");
        if (words.length != 3) {
            return null;
        }
        try {
            return new long[]{Long.parseLong(words[0]), Long.parseLong(words[1]), Long.parseLong(words[2])};
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /**
     * Zeroes the start of the COW, as lvcreate does: a COW that held an earlier snapshot would otherwise be
     * taken up with that snapshot's exceptions (a persistent store with a valid header is reopened, not new).
     */
    private static void wipeHeader(Path cow) throws IOException {
        try (FileBlockDevice d = FileBlockDevice.open(cow, FileBlockDevice.Options.READ_WRITE)) {
            d.write(0, ByteBuffer.allocate((int) Math.min(HEADER_WIPE_BYTES, d.size())), true);
        }
    }

    /** The size of a COW file or block device in whole sectors. */
    private static long sectorsOf(Path cow) throws ControlException {
        try {
            if (FileBlockDevice.isBlockDevice(cow)) {
                try (FileBlockDevice d = FileBlockDevice.open(cow, FileBlockDevice.Options.READ_ONLY)) {
                    return Sectors.fromBytes(d.size());
                }
            }
            if (!Files.isRegularFile(cow)) {
                throw refusal("EINVAL", 22, "cannot use " + cow + " as the COW: it is neither a regular file nor a block device");
            }
            return Sectors.fromBytes(Files.size(cow));
        } catch (NoSuchFileException e) {
            throw refusal("ENOENT", 2, "cannot use " + cow + " as the COW: no such file or device");
        } catch (IOException e) {
            throw refusal("ENOENT", 2, "cannot use " + cow + " as the COW: " + e.getMessage());
        }
    }

    /** Creates a device (with a live table, or none to load later) and returns its {@code 253:N}. */
    private String create(String name, String table, List<String> made) throws IOException, ControlException {
        ObjectNode req = ControlClient.request("create").put("name", name);
        if (table != null) {
            req.put("table", table);
        }
        JsonNode info = step(req, "create " + name).path("info");
        made.add(name);
        return MappedDevice.MAJOR + ":" + info.path("minor").asInt();
    }

    private void load(String name, String table) throws IOException, ControlException {
        step(ControlClient.request("load").put("name", name).put("table", table), "load " + name);
    }

    private JsonNode call(String op, String name) throws IOException, ControlException {
        return step(ControlClient.request(op).put("name", name), op + " " + name);
    }

    /** One control operation; a refusal names the step it stopped at, so the user sees how far the sequence got. */
    private JsonNode step(ObjectNode request, String step) throws IOException, ControlException {
        try {
            return daemon.call(request);
        } catch (ControlException e) {
            throw new ControlException(e.errno(), e.code(), step + ": " + e.getMessage());
        }
    }

    private static ControlException refusal(String errno, int code, String message) {
        return new ControlException(errno, code, message);
    }
}
