package dev.jdm.core.engine;

import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.BackingProvider;
import dev.jdm.core.spi.Target;
import dev.jdm.core.spi.TargetType;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The device-mapper core: a registry of mapped devices driven by the operations of the kernel's dm
 * ioctls (create, load, clear, suspend, resume, remove, rename, info, deps, status, table, message,
 * wait, targets). Usable in-process as a library; the daemon puts a socket in front of it.
 * Every refused operation throws {@link DmException} and changes nothing.
 */
public final class DeviceMapper implements AutoCloseable {

    /** The dm ioctl interface version jdm reports. */
    public static final String IOCTL_VERSION = "4.48.0";
    public static final int DEFAULT_READ_AHEAD = 256;
    private static final int MAX_NAME_BYTES = 127;
    private static final int MAX_UUID_BYTES = 128;

    /** Engine-wide settings: {@code direct} opens backing files with O_DIRECT. */
    public record Options(boolean direct) {
        public static final Options DEFAULT = new Options(false);
    }

    /** What happened to a device, for whoever keeps state or exports (the daemon, NBD). */
    public enum Change { CREATED, LOADED, CLEARED, SUSPENDED, RESUMED, RENAMED, REMOVED }

    @FunctionalInterface
    public interface Listener {
        void changed(MappedDevice device, Change change);
    }

    private final TargetTypes types;
    private final BackingDevices backing;
    private final List<BackingProvider> providers;
    private final ReentrantLock registry = new ReentrantLock();
    private final Map<String, MappedDevice> byName = new LinkedHashMap<>();
    private final BitSet minors = new BitSet();
    private final List<Listener> listeners = new CopyOnWriteArrayList<>();

    public DeviceMapper(TargetTypes types, Options options) {
        this.types = types;
        this.backing = new BackingDevices(options.direct());
        this.providers = new CopyOnWriteArrayList<>();
        ServiceLoader.load(BackingProvider.class, DeviceMapper.class.getClassLoader()).forEach(providers::add);
    }

    /** An engine with every target type and backing provider on the class path. */
    public static DeviceMapper create() {
        return new DeviceMapper(TargetTypes.discover(), Options.DEFAULT);
    }

    public TargetTypes targetTypes() {
        return types;
    }

    public void addBackingProvider(BackingProvider provider) {
        providers.add(provider);
    }

    public void addListener(Listener l) {
        listeners.add(l);
    }

    public void removeListener(Listener l) {
        listeners.remove(l);
    }

    private void fire(MappedDevice md, Change change) {
        for (Listener l : listeners) {
            l.changed(md, change);
        }
    }

    // ---- lookup ---------------------------------------------------------------------------------

    /** The device of that name, for exports and in-process users. */
    public MappedDevice device(String name) throws DmException {
        registry.lock();
        try {
            MappedDevice md = byName.get(name);
            if (md == null) {
                throw new DmException(Errno.ENXIO, "device " + name + " does not exist");
            }
            return md;
        } finally {
            registry.unlock();
        }
    }

    public Optional<String> nameOfUuid(String uuid) {
        registry.lock();
        try {
            return byName.values().stream().filter(d -> uuid.equals(d.uuid())).map(MappedDevice::name).findFirst();
        } finally {
            registry.unlock();
        }
    }

    public Optional<String> nameOfDevice(int major, int minor) {
        if (major != MappedDevice.MAJOR) {
            return Optional.empty();
        }
        registry.lock();
        try {
            return byName.values().stream().filter(d -> d.minor() == minor).map(MappedDevice::name).findFirst();
        } finally {
            registry.unlock();
        }
    }

    public List<String> names() {
        registry.lock();
        try {
            return List.copyOf(byName.keySet());
        } finally {
            registry.unlock();
        }
    }

    // ---- create / remove / rename ---------------------------------------------------------------

    public DeviceInfo create(String name, String uuid) throws DmException {
        return create(name, uuid, -1);
    }

    /** Creates a device with a chosen minor (the daemon restores devices with the numbers they had); -1 picks one. */
    public DeviceInfo create(String name, String uuid, int minor) throws DmException {
        checkName(name);
        if (uuid != null && !uuid.isEmpty()) {
            checkUuid(uuid);
        }
        MappedDevice md;
        registry.lock();
        try {
            if (byName.containsKey(name)) {
                throw new DmException(Errno.EBUSY, "device " + name + " already exists");
            }
            if (uuid != null && !uuid.isEmpty() && byName.values().stream().anyMatch(d -> uuid.equals(d.uuid()))) {
                throw new DmException(Errno.EBUSY, "uuid " + uuid + " is already in use");
            }
            int m = minor >= 0 ? minor : minors.nextClearBit(0);
            if (minors.get(m)) {
                throw new DmException(Errno.EBUSY, "minor " + m + " is already in use");
            }
            minors.set(m);
            md = new MappedDevice(name, uuid == null || uuid.isEmpty() ? null : uuid, m);
            byName.put(name, md);
        } finally {
            registry.unlock();
        }
        fire(md, Change.CREATED);
        return info(md);
    }

    /** {@code dmsetup create} with a table: create, load, resume; the device is removed again if any step fails. */
    public DeviceInfo create(String name, String uuid, String table, boolean readOnly) throws DmException {
        create(name, uuid);
        try {
            load(name, table, readOnly);
            resume(name);
        } catch (DmException e) {
            try {
                remove(name, false, false);
            } catch (DmException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        return info(name);
    }

    public void remove(String name, boolean force, boolean deferred) throws DmException {
        MappedDevice md = device(name);
        md.control.lock();
        try {
            if (md.openCount() > 0 && deferred) {
                md.setDeferredRemove(true);
                md.onLastClose(() -> removeDeferred(md));
                return;
            }
            if (md.openCount() > 0 && force) {
                wipeTable(md);
                md.evictOpeners();
            }
            if (md.openCount() > 0) {
                throw new DmException(Errno.EBUSY, "device " + md.name() + " is still open (open count "
                        + md.openCount() + ": " + String.join(", ", md.openers().stream().map(MappedDevice.Opener::holder).toList()) + ")");
            }
            destroy(md);
        } finally {
            md.control.unlock();
        }
        fire(md, Change.REMOVED);
    }

    private void removeDeferred(MappedDevice md) {
        md.control.lock();
        try {
            if (md.isRemoved() || !md.isDeferredRemove() || md.openCount() > 0) {
                return;
            }
            destroy(md);
        } finally {
            md.control.unlock();
        }
        fire(md, Change.REMOVED);
    }

    /** Replaces the live table with one that fails all I/O, as {@code dmsetup wipe_table} and {@code remove --force} do. */
    private void wipeTable(MappedDevice md) throws DmException {
        Table live = md.live();
        if (live == null) {
            return;
        }
        Table error = Table.build("0 " + live.sizeSectors() + " error", live.readOnly(), types, this::acquire, md, live);
        Table old = md.inactive();
        md.setInactive(error);
        if (old != null) {
            old.destroy();
        }
        resumeLocked(md);
    }

    private void destroy(MappedDevice md) {
        md.gate().suspendAndDrain();
        md.raiseEvent();
        md.markRemoved();
        registry.lock();
        try {
            byName.remove(md.name(), md);
            minors.clear(md.minor());
        } finally {
            registry.unlock();
        }
        if (md.live() != null) {
            md.live().destroy();
            md.setLive(null);
        }
        if (md.inactive() != null) {
            md.inactive().destroy();
            md.setInactive(null);
        }
    }

    /** Removes every device that is not open; with force, wipes the tables of open ones first. */
    public List<String> removeAll(boolean force) {
        List<String> failed = new ArrayList<>();
        // Dependents first: a device referenced by another table is open until that table goes.
        boolean progress = true;
        while (progress) {
            progress = false;
            for (String name : names()) {
                try {
                    remove(name, false, false);
                    progress = true;
                } catch (DmException e) {
                    // Still open: try again once its holders are gone.
                }
            }
        }
        for (String name : names()) {
            try {
                remove(name, force, false);
            } catch (DmException e) {
                failed.add(name + ": " + e.getMessage());
            }
        }
        return failed;
    }

    public void rename(String name, String newName) throws DmException {
        checkName(newName);
        MappedDevice md;
        registry.lock();
        try {
            md = byName.get(name);
            if (md == null) {
                throw new DmException(Errno.ENXIO, "device " + name + " does not exist");
            }
            if (byName.containsKey(newName)) {
                throw new DmException(Errno.EBUSY, "device " + newName + " already exists");
            }
            byName.remove(name);
            md.rename(newName);
            byName.put(newName, md);
        } finally {
            registry.unlock();
        }
        md.raiseEvent();
        fire(md, Change.RENAMED);
    }

    /** Sets the uuid of a device that has none ({@code dmsetup rename --setuuid}). */
    public void setUuid(String name, String uuid) throws DmException {
        checkUuid(uuid);
        MappedDevice md;
        registry.lock();
        try {
            md = device(name);
            if (md.uuid() != null) {
                throw new DmException(Errno.EINVAL, "device " + name + " already has uuid " + md.uuid() + "; a uuid cannot be changed");
            }
            if (byName.values().stream().anyMatch(d -> uuid.equals(d.uuid()))) {
                throw new DmException(Errno.EBUSY, "uuid " + uuid + " is already in use");
            }
            md.setUuid(uuid);
        } finally {
            registry.unlock();
        }
        md.raiseEvent();
        fire(md, Change.RENAMED);
    }

    private static void checkName(String name) throws DmException {
        if (name == null || name.isEmpty()) {
            throw new DmException(Errno.EINVAL, "device name is empty");
        }
        if (name.getBytes(StandardCharsets.UTF_8).length > MAX_NAME_BYTES) {
            throw new DmException(Errno.EINVAL, "device name is longer than " + MAX_NAME_BYTES + " bytes");
        }
        if (name.contains("/")) {
            throw new DmException(Errno.EINVAL, "device name \"" + name + "\" contains '/'");
        }
        if (name.equals(".") || name.equals("..") || name.equals("control")) {
            throw new DmException(Errno.EINVAL, "device name \"" + name + "\" is reserved");
        }
    }

    private static void checkUuid(String uuid) throws DmException {
        if (uuid.getBytes(StandardCharsets.UTF_8).length > MAX_UUID_BYTES) {
            throw new DmException(Errno.EINVAL, "uuid is longer than " + MAX_UUID_BYTES + " bytes");
        }
    }

    // ---- tables ---------------------------------------------------------------------------------

    /** Builds a table into the inactive slot, replacing any inactive table there. */
    public void load(String name, String tableText, boolean readOnly) throws DmException {
        MappedDevice md = device(name);
        md.control.lock();
        try {
            Table t = Table.build(tableText, readOnly, types, this::acquire, md, md.live());
            Table old = md.inactive();
            md.setInactive(t);
            if (old != null) {
                old.destroy();
            }
        } finally {
            md.control.unlock();
        }
        fire(md, Change.LOADED);
    }

    public void clear(String name) throws DmException {
        MappedDevice md = device(name);
        md.control.lock();
        try {
            Table old = md.inactive();
            md.setInactive(null);
            if (old != null) {
                old.destroy();
            }
        } finally {
            md.control.unlock();
        }
        fire(md, Change.CLEARED);
    }

    /** Stops new I/O and waits for in-flight I/O; a no-op on a suspended device. */
    public void suspend(String name, boolean noflush) throws DmException {
        MappedDevice md = device(name);
        md.control.lock();
        try {
            if (md.isSuspended()) {
                return;
            }
            suspendLocked(md, noflush);
        } finally {
            md.control.unlock();
        }
        fire(md, Change.SUSPENDED);
    }

    private static void suspendLocked(MappedDevice md, boolean noflush) {
        Table live = md.live();
        if (live != null) {
            live.entries().forEach(e -> e.target().presuspend(noflush));
        }
        md.gate().suspendAndDrain();
        if (live != null) {
            live.entries().forEach(e -> e.target().postsuspend());
        }
    }

    /** Swaps in the inactive table if there is one (suspending first), then lets I/O flow. */
    public void resume(String name) throws DmException {
        MappedDevice md = device(name);
        md.control.lock();
        try {
            resumeLocked(md);
        } finally {
            md.control.unlock();
        }
        fire(md, Change.RESUMED);
    }

    private static void resumeLocked(MappedDevice md) throws DmException {
        Table next = md.inactive() != null ? md.inactive() : md.live();
        if (next == null) {
            md.gate().resume();
            return;
        }
        for (Table.Entry e : next.entries()) {
            e.target().preresume();
        }
        if (md.inactive() != null) {
            if (!md.isSuspended()) {
                suspendLocked(md, false);
            }
            Table old = md.live();
            md.setLive(next);
            md.setInactive(null);
            if (old != null) {
                old.destroy();
            }
        }
        next.entries().forEach(e -> e.target().resume());
        md.gate().resume();
    }

    // ---- queries --------------------------------------------------------------------------------

    public DeviceInfo info(String name) throws DmException {
        return info(device(name));
    }

    private static DeviceInfo info(MappedDevice md) {
        Table live = md.live();
        Table inactive = md.inactive();
        return new DeviceInfo(md.name(), md.uuid(), MappedDevice.MAJOR, md.minor(), md.isSuspended(),
                live != null && live.readOnly(), live != null, inactive != null, md.openCount(), md.eventNumber(),
                live != null ? live.targetCount() : inactive != null ? inactive.targetCount() : 0,
                md.isDeferredRemove(), live != null ? live.sizeSectors() : 0, DEFAULT_READ_AHEAD);
    }

    /** Every device, sorted by name as {@code dmsetup ls} prints them. */
    public List<DeviceInfo> list() {
        List<MappedDevice> all;
        registry.lock();
        try {
            all = new ArrayList<>(byName.values());
        } finally {
            registry.unlock();
        }
        return all.stream().sorted((a, b) -> a.name().compareTo(b.name())).map(DeviceMapper::info).toList();
    }

    private static Table table(MappedDevice md, boolean inactive) throws DmException {
        return inactive ? md.inactive() : md.live();
    }

    /** The ids ({@code major:minor}, or a path for files) of the devices the table uses. */
    public List<String> deps(String name, boolean inactive) throws DmException {
        Table t = table(device(name), inactive);
        return t == null ? List.of() : t.devices().stream().map(BlockDevice::id).toList();
    }

    /** The devices the table uses, as objects (for {@code ls --tree}). */
    public List<BlockDevice> dependencies(String name, boolean inactive) throws DmException {
        Table t = table(device(name), inactive);
        return t == null ? List.of() : t.devices();
    }

    public List<TargetLine> status(String name, boolean inactive) throws DmException {
        return lines(name, inactive, Target::status);
    }

    public List<TargetLine> table(String name, boolean inactive) throws DmException {
        return lines(name, inactive, Target::table);
    }

    private List<TargetLine> lines(String name, boolean inactive, java.util.function.Function<Target, String> text) throws DmException {
        Table t = table(device(name), inactive);
        if (t == null) {
            return List.of();
        }
        return t.entries().stream().map(e -> new TargetLine(e.line().start(), e.line().length(), e.type().name(),
                text.apply(e.target()))).toList();
    }

    /** Sends a message to the live target holding {@code sector}, or to the core for {@code @...} messages. */
    public String message(String name, long sector, List<String> argv) throws DmException {
        MappedDevice md = device(name);
        if (argv.isEmpty() || argv.getFirst().isEmpty()) {
            throw new DmException(Errno.EINVAL, "message is empty");
        }
        if (argv.getFirst().startsWith("@")) {
            return coreMessage(md, argv);
        }
        Table t = md.live();
        if (t == null) {
            throw new DmException(Errno.EINVAL, "device " + name + " has no live table to send a message to");
        }
        if (sector < 0 || sector >= t.sizeSectors()) {
            throw new DmException(Errno.EINVAL, "sector " + sector + " is outside the device (" + t.sizeSectors() + " sectors)");
        }
        Table.Entry e = t.entry(t.find(sector << 9));
        return e.target().message(new Args(argv));
    }

    private String coreMessage(MappedDevice md, List<String> argv) throws DmException {
        if (argv.getFirst().equals("@cancel_deferred_remove") && argv.size() == 1) {
            if (!md.isDeferredRemove()) {
                throw new DmException(Errno.ENXIO, "device " + md.name() + " is not marked for deferred remove");
            }
            md.setDeferredRemove(false);
            return null;
        }
        throw new DmException(Errno.EINVAL, "unknown core message \"" + String.join(" ", argv) + "\"");
    }

    /**
     * Waits until the device's event number differs from {@code eventNr} (at once if it already does),
     * at most {@code timeoutMillis} (negative: forever), and returns its info.
     */
    public DeviceInfo waitEvent(String name, long eventNr, long timeoutMillis) throws DmException {
        MappedDevice md = device(name);
        try {
            md.awaitEvent(eventNr, timeoutMillis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DmException(Errno.EAGAIN, "interrupted while waiting for an event on " + name);
        }
        return info(md);
    }

    /** Backing files and block devices open right now (tests check that refused tables leak none). */
    int openBackingDevices() {
        return backing.openCount();
    }

    public List<TargetType> targets() {
        return List.copyOf(types.all());
    }

    // ---- device references ----------------------------------------------------------------------

    private DeviceResolver.Acquired acquire(String spec, boolean readOnly, MappedDevice holder) throws DmException {
        MappedDevice md = mappedDeviceOf(spec);
        if (md != null) {
            return acquireMapped(md, holder);
        }
        for (BackingProvider p : providers) {
            if (p.accepts(spec)) {
                try {
                    BlockDevice d = p.open(spec, readOnly);
                    return new DeviceResolver.Acquired(d, () -> closeQuietly(d));
                } catch (IOException e) {
                    throw new DmException(Errno.ENXIO, "cannot open " + spec + ": " + e.getMessage(), e);
                }
            }
        }
        return backing.acquire(pathOf(spec), readOnly);
    }

    private DeviceResolver.Acquired acquireMapped(MappedDevice md, MappedDevice holder) throws DmException {
        if (md == holder) {
            throw new DmException(Errno.EINVAL, "a table cannot use its own device " + md.name());
        }
        if (dependsOn(md, holder)) {
            throw new DmException(Errno.EINVAL, "using " + md.name() + " would make a loop: it already depends on " + holder.name());
        }
        MappedDevice.Opener o = md.open("table of " + holder.name(), false, null);
        return new DeviceResolver.Acquired(md, o::close);
    }

    /** Whether {@code from}'s tables use {@code target}, directly or through other mapped devices. */
    private static boolean dependsOn(MappedDevice from, MappedDevice target) {
        Deque<MappedDevice> todo = new ArrayDeque<>(List.of(from));
        Set<MappedDevice> seen = new HashSet<>();
        while (!todo.isEmpty()) {
            MappedDevice d = todo.pop();
            if (d == target) {
                return true;
            }
            if (!seen.add(d)) {
                continue;
            }
            for (Table t : new Table[]{d.live(), d.inactive()}) {
                if (t != null) {
                    t.devices().stream().filter(MappedDevice.class::isInstance).map(MappedDevice.class::cast).forEach(todo::push);
                }
            }
        }
        return false;
    }

    /** {@code /dev/mapper/NAME} or {@code 253:MINOR} of a registered device, else null. */
    private MappedDevice mappedDeviceOf(String spec) throws DmException {
        String mapperPrefix = "/dev/mapper/";
        registry.lock();
        try {
            if (spec.startsWith(mapperPrefix)) {
                MappedDevice md = byName.get(spec.substring(mapperPrefix.length()));
                if (md == null && !Files.exists(Path.of(spec))) {
                    throw new DmException(Errno.ENXIO, "no mapped device named " + spec.substring(mapperPrefix.length()));
                }
                return md;
            }
            int[] mm = parseMajorMinor(spec);
            if (mm != null && mm[0] == MappedDevice.MAJOR) {
                return byName.values().stream().filter(d -> d.minor() == mm[1]).findFirst()
                        .orElseThrow(() -> new DmException(Errno.ENXIO, "no mapped device with number " + spec));
            }
            return null;
        } finally {
            registry.unlock();
        }
    }

    /** A path for a file or block device, or for {@code major:minor} the device node sysfs names. */
    private static Path pathOf(String spec) throws DmException {
        int[] mm = parseMajorMinor(spec);
        if (mm == null) {
            return Path.of(spec);
        }
        Path uevent = Path.of("/sys/dev/block/" + mm[0] + ":" + mm[1] + "/uevent");
        try {
            for (String line : Files.readAllLines(uevent)) {
                if (line.startsWith("DEVNAME=")) {
                    return Path.of("/dev", line.substring("DEVNAME=".length()));
                }
            }
        } catch (IOException e) {
            // Fall through: no such block device.
        }
        throw new DmException(Errno.ENXIO, "no block device with number " + spec);
    }

    private static int[] parseMajorMinor(String spec) {
        int colon = spec.indexOf(':');
        if (colon <= 0 || colon == spec.length() - 1) {
            return null;
        }
        String a = spec.substring(0, colon);
        String b = spec.substring(colon + 1);
        if (a.length() > 9 || b.length() > 9 || !a.chars().allMatch(Character::isDigit) || !b.chars().allMatch(Character::isDigit)) {
            return null;
        }
        return new int[]{Integer.parseInt(a), Integer.parseInt(b)};
    }

    private static void closeQuietly(BlockDevice d) {
        try {
            d.close();
        } catch (IOException ignored) {
            // Released for good; a failing close has nobody left to tell.
        }
    }

    /** Removes every device (force), releasing all backing devices. */
    @Override
    public void close() {
        removeAll(true);
    }
}
