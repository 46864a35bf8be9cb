package dev.jdm.daemon;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.jdm.core.DmException;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.DeviceSnapshot;
import dev.jdm.core.engine.MappedDevice;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.Collection;

/**
 * The state folder: one JSON file per device ({@code dm-MINOR.json}, so a rename rewrites the same
 * file), rewritten atomically with the engine's snapshot of the device on every change it reports,
 * and read back on start. Ephemeral devices (their tables hold keys) are never written: they end
 * with the daemon, as after a reboot. A create with a table is one change in the engine, so it
 * reaches the folder in one write with its table: a kill -9 during it leaves no device without one.
 */
public final class StateStore implements DeviceMapper.Listener {

    /** What a restore did: devices rebuilt, in order, and the ones that could not be, with why. */
    public record RestoreReport(List<String> restored, List<String> failures) {
    }

    private static final Pattern STATE_FILE = Pattern.compile("dm-(\\d+)\\.json");
    private static final Pattern MAPPER_PATH = Pattern.compile("^/dev/mapper/(.+)$");
    private static final Pattern DEVICE_NUMBER = Pattern.compile("^" + MappedDevice.MAJOR + ":(\\d{1,9})$");

    private final Path dir;
    private final DeviceMapper dm;
    private final ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private final Map<Integer, DeviceState> states = new HashMap<>();
    private boolean restoring;

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

    public synchronized Map<Integer, DeviceState> snapshot() {
        return Map.copyOf(states);
    }

    @Override
    public synchronized void changed(DeviceSnapshot device, DeviceMapper.Change change) {
        if (restoring || device.ephemeral()) {
            return;
        }
        int minor = device.minor();
        // The operation already happened in the engine; if the file cannot follow, failing loudly is all that is left.
        try {
            if (change == DeviceMapper.Change.REMOVED) {
                states.remove(minor);
                AtomicFile.delete(fileOf(minor));
                return;
            }
            DeviceState state = DeviceState.of(device);
            states.put(minor, state);
            AtomicFile.write(fileOf(minor), json.writeValueAsBytes(state));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot update the state of " + device.name() + " in " + fileOf(minor), e);
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
