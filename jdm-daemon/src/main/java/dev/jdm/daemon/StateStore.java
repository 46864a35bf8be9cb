package dev.jdm.daemon;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.jdm.core.DmException;
import dev.jdm.core.engine.DeviceInfo;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.core.engine.TargetLine;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.Collection;

/**
 * The state folder: one JSON file per device ({@code dm-MINOR.json}, so a rename rewrites the same
 * file), rewritten atomically on every change the engine reports, and read back on start.
 * <p>
 * The engine does not keep table text, so the daemon tells the store what it is about to load
 * ({@link #expectLoad}) and the store picks it up when the engine reports the load.
 */
public final class StateStore implements DeviceMapper.Listener {

    /** What a restore did: devices rebuilt, in order, and the ones that could not be, with why. */
    public record RestoreReport(List<String> restored, List<String> failures) {
    }

    private record PendingLoad(String name, String text, boolean readOnly) {
    }

    private static final Pattern STATE_FILE = Pattern.compile("dm-(\\d+)\\.json");
    private static final Pattern MAPPER_PATH = Pattern.compile("^/dev/mapper/(.+)$");
    private static final Pattern DEVICE_NUMBER = Pattern.compile("^" + MappedDevice.MAJOR + ":(\\d{1,9})$");

    private final Path dir;
    private final DeviceMapper dm;
    private final ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private final Map<Integer, DeviceState> states = new HashMap<>();
    private PendingLoad pending;
    private boolean restoring;
    /** Devices kept out of the folder (their tables hold volume keys); they end with the daemon, as after a reboot. */
    private final Set<Integer> transientMinors = new HashSet<>();
    private String pendingTransient;
    private boolean deferring;
    private final Set<Integer> deferred = new TreeSet<>();

    public StateStore(Path dir, DeviceMapper dm) throws IOException {
        this.dir = dir;
        this.dm = dm;
        if (!Files.isDirectory(dir)) {
            // Tables may hold keys (crypt): only the daemon's user reads them.
            Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        }
    }

    /** The file of the device with that minor. */
    public Path fileOf(int minor) {
        return dir.resolve("dm-" + minor + ".json");
    }

    /** Announces the table text of the next load of {@code name}; cleared by the load's event or {@link #clearExpectedLoad}. */
    public synchronized void expectLoad(String name, String text, boolean readOnly) {
        pending = new PendingLoad(name, text, readOnly);
    }

    public synchronized void clearExpectedLoad() {
        pending = null;
    }

    /** The next device created under {@code name} (null: none) is never written to the folder. */
    public synchronized void expectTransient(String name) {
        pendingTransient = name;
    }

    /**
     * Holds file writes until {@link #endDeferral()}: the steps of a create with a table (create, load,
     * resume) then reach the folder as one atomic write, so a kill -9 between them leaves no device with
     * no table behind; the create was never acknowledged, so after a restart it simply did not happen.
     */
    public synchronized void beginDeferral() {
        deferring = true;
    }

    /** Writes (or deletes) the file of every device changed since {@link #beginDeferral()}. */
    public synchronized void endDeferral() {
        deferring = false;
        try {
            for (int minor : deferred) {
                DeviceState state = states.get(minor);
                if (state == null) {
                    AtomicFile.delete(fileOf(minor));
                } else {
                    write(state);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot update the state folder " + dir, e);
        } finally {
            deferred.clear();
        }
    }

    public synchronized Map<Integer, DeviceState> snapshot() {
        return Map.copyOf(states);
    }

    @Override
    public synchronized void changed(MappedDevice md, DeviceMapper.Change change) {
        if (restoring) {
            return;
        }
        int minor = md.minor();
        if (change == DeviceMapper.Change.CREATED && md.name().equals(pendingTransient)) {
            pendingTransient = null;
            transientMinors.add(minor);
        }
        if (transientMinors.contains(minor)) {
            if (change == DeviceMapper.Change.LOADED) {
                pending = null;
            } else if (change == DeviceMapper.Change.REMOVED) {
                transientMinors.remove(minor);
            }
            return;
        }
        DeviceState fresh = new DeviceState(md.name(), md.uuid(), minor, null, false, null, false, false);
        // A device the store has not seen created (made before it listened) starts from its name.
        DeviceState s = states.getOrDefault(minor, fresh);
        DeviceState next = switch (change) {
            case CREATED -> fresh;
            case LOADED -> {
                PendingLoad p = pending;
                pending = null;
                if (p != null && p.name.equals(md.name())) {
                    yield s.withInactive(p.text, p.readOnly);
                }
                // Loaded in-process, not through the control socket: the printed table is the best
                // text there is, and the engine does not tell whether the inactive table is read-only.
                // Callers that need either kept exactly announce the load with expectLoad.
                yield s.withInactive(printedInactiveTable(md), false);
            }
            case CLEARED -> s.withInactive(null, false);
            case SUSPENDED -> s.withSuspended(true);
            case RESUMED -> {
                // A resume swaps in the inactive table when there is one; the engine is the judge of whether it did.
                DeviceInfo info = infoOf(md);
                DeviceState r = s.inactiveTable() != null && info != null && !info.inactiveTable() ? s.promoted() : s;
                yield r.withSuspended(info != null && info.suspended());
            }
            case RENAMED -> {
                renameReferences(s.name(), md.name(), minor);
                yield s.withName(md.name(), md.uuid());
            }
            case REMOVED -> null;
        };
        if (next != null) {
            // The operation already happened in the engine; if the file cannot follow, failing loudly is all that is left.
            write(next);
            return;
        }
        try {
            states.remove(minor);
            if (deferring) {
                deferred.add(minor);
                return;
            }
            AtomicFile.delete(fileOf(minor));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete the state of " + md.name() + ": " + fileOf(minor), e);
        }
    }

    /**
     * A device renamed under a stack: tables above it that named it as /dev/mapper/OLD hold it by
     * number in the engine, but would name a device that no longer exists on the next start, so
     * their stored text follows the rename.
     */
    private void renameReferences(String oldName, String newName, int renamedMinor) {
        if (oldName.equals(newName)) {
            return;
        }
        Pattern old = Pattern.compile("(?<=^|\\s)" + Pattern.quote("/dev/mapper/" + oldName) + "(?=\\s|$)");
        String replacement = Matcher.quoteReplacement("/dev/mapper/" + newName);
        for (DeviceState other : List.copyOf(states.values())) {
            if (other.minor() == renamedMinor) {
                continue;
            }
            String table = other.table() == null ? null : old.matcher(other.table()).replaceAll(replacement);
            String inactive = other.inactiveTable() == null ? null : old.matcher(other.inactiveTable()).replaceAll(replacement);
            if (!Objects.equals(table, other.table()) || !Objects.equals(inactive, other.inactiveTable())) {
                DeviceState updated = new DeviceState(other.name(), other.uuid(), other.minor(), table, other.readOnly(),
                        inactive, other.inactiveReadOnly(), other.suspended());
                write(updated);
            }
        }
    }

    private void write(DeviceState state) {
        try {
            states.put(state.minor(), state);
            if (deferring) {
                deferred.add(state.minor());
                return;
            }
            AtomicFile.write(fileOf(state.minor()), json.writeValueAsBytes(state));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the state of " + state.name() + " to " + fileOf(state.minor()), e);
        }
    }

    private String printedInactiveTable(MappedDevice md) {
        try {
            return String.join("\n", dm.table(md.name(), true).stream().map(TargetLine::format).toList());
        } catch (DmException e) {
            return null;
        }
    }

    private DeviceInfo infoOf(MappedDevice md) {
        try {
            return dm.info(md.name());
        } catch (DmException e) {
            return null;
        }
    }

    /** Whether the folder holds any device state (the daemon creates its default device only when not). */
    public boolean isEmpty() throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.noneMatch(p -> STATE_FILE.matcher(p.getFileName().toString()).matches());
        }
    }

    /**
     * Rebuilds every device of the folder in the engine: numbers and uuids first, then tables in
     * dependency order (a table may name another device as /dev/mapper/NAME or 253:MINOR), then
     * suspended flags, top of the stack first. A device that cannot be rebuilt is reported and left
     * out, its file kept for the next start; leftover temporary files of an interrupted write are removed.
     */
    public synchronized RestoreReport restore() throws IOException {
        List<String> failures = new ArrayList<>();
        Map<Integer, DeviceState> loaded = new LinkedHashMap<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path p : files.sorted().toList()) {
                if (AtomicFile.isTemp(p)) {
                    Files.delete(p);
                    continue;
                }
                Matcher m = STATE_FILE.matcher(p.getFileName().toString());
                if (!m.matches()) {
                    continue;
                }
                try {
                    DeviceState s = json.readValue(p.toFile(), DeviceState.class);
                    if (!m.group(1).equals(Integer.toString(s.minor()))) {
                        throw new IOException("its name says minor " + m.group(1) + " but it holds minor " + s.minor());
                    }
                    loaded.put(s.minor(), s);
                } catch (JsonProcessingException e) {
                    failures.add(p.getFileName() + ": unreadable state file: " + e.getOriginalMessage()
                            + " (line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")");
                } catch (IOException e) {
                    failures.add(p.getFileName() + ": unreadable state file: " + e.getMessage());
                }
            }
        }
        restoring = true;
        List<String> restored = new ArrayList<>();
        try {
            List<DeviceState> order = dependencyOrder(loaded.values());
            for (DeviceState s : order) {
                try {
                    dm.create(s.name(), s.uuid(), s.minor());
                } catch (DmException e) {
                    failures.add(s.name() + ": " + e.getMessage());
                }
            }
            Set<String> created = new LinkedHashSet<>(dm.names());
            for (DeviceState s : order) {
                if (!created.contains(s.name())) {
                    continue;
                }
                try {
                    restoreTables(s);
                    states.put(s.minor(), s);
                    restored.add(s.name());
                } catch (DmException e) {
                    failures.add(s.name() + ": " + e.getMessage());
                    removeQuietly(s.name());
                }
            }
            for (DeviceState s : order.reversed()) {
                if (s.suspended() && restored.contains(s.name())) {
                    try {
                        dm.suspend(s.name(), false);
                    } catch (DmException e) {
                        failures.add(s.name() + ": cannot suspend again: " + e.getMessage());
                    }
                }
            }
        } finally {
            restoring = false;
        }
        return new RestoreReport(restored, failures);
    }

    private void restoreTables(DeviceState s) throws DmException {
        if (s.table() != null) {
            dm.load(s.name(), s.table(), s.readOnly());
            dm.resume(s.name());
        }
        if (s.inactiveTable() != null) {
            dm.load(s.name(), s.inactiveTable(), s.inactiveReadOnly());
        }
    }

    private void removeQuietly(String name) {
        try {
            dm.remove(name, true, false);
        } catch (DmException ignored) {
            // It was never more than an empty shell; the failure was already reported.
        }
    }

    /** Devices ordered so that each comes after every device its tables name; ties by minor. */
    static List<DeviceState> dependencyOrder(Collection<DeviceState> all) {
        Map<String, DeviceState> byName = new HashMap<>();
        Map<Integer, DeviceState> byMinor = new HashMap<>();
        all.forEach(s -> {
            byName.put(s.name(), s);
            byMinor.put(s.minor(), s);
        });
        List<DeviceState> sorted = all.stream().sorted(Comparator.comparingInt(DeviceState::minor)).toList();
        List<DeviceState> order = new ArrayList<>();
        Set<Integer> placed = new LinkedHashSet<>();
        while (order.size() < sorted.size()) {
            boolean progress = false;
            for (DeviceState s : sorted) {
                if (!placed.contains(s.minor()) && placed.containsAll(usedMinors(s, byName, byMinor))) {
                    order.add(s);
                    placed.add(s.minor());
                    progress = true;
                }
            }
            if (!progress) {
                // A loop cannot be built anyway; keep going so every device gets its own error.
                sorted.stream().filter(s -> !placed.contains(s.minor())).forEach(s -> {
                    order.add(s);
                    placed.add(s.minor());
                });
            }
        }
        return order;
    }

    private static Set<Integer> usedMinors(DeviceState s, Map<String, DeviceState> byName, Map<Integer, DeviceState> byMinor) {
        Set<Integer> used = new LinkedHashSet<>();
        for (String text : new String[]{s.table(), s.inactiveTable()}) {
            if (text == null) {
                continue;
            }
            for (String word : text.split("\\s+")) {
                Matcher path = MAPPER_PATH.matcher(word);
                Matcher number = DEVICE_NUMBER.matcher(word);
                if (path.matches() && byName.containsKey(path.group(1))) {
                    used.add(byName.get(path.group(1)).minor());
                } else if (number.matches() && byMinor.containsKey(Integer.parseInt(number.group(1)))) {
                    used.add(Integer.parseInt(number.group(1)));
                }
            }
        }
        used.remove(s.minor());
        return used;
    }
}
