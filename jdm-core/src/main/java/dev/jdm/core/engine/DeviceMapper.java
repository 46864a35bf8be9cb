package dev.jdm.core.engine;

import dev.jdm.core.Sectors;
import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.BackingProvider;
import dev.jdm.core.spi.SharedObjects;
import dev.jdm.core.spi.Target;
import dev.jdm.core.spi.TargetType;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;

/**
 * The device-mapper core: a registry of mapped devices (names, minors, uuids) driven by the
 * operations of the kernel's dm ioctls (create, load, clear, suspend, resume, remove, rename, info,
 * deps, status, table, message, wait, targets). Usable in-process as a library; the daemon puts a
 * socket in front of it. Every refused operation throws {@link DmException} and changes nothing.
 * Each device's state transitions are its own ({@link MappedDevice}); what a table's device
 * argument names is {@link DeviceLookup}'s. Every change is told to the listeners with a
 * {@link DeviceSnapshot} of the device it left.
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

    /**
     * What happened to a device, for whoever keeps state or exports (the daemon, NBD). A create with a
     * table is one CREATED, told after its resume, with the live table in its snapshot; a create whose
     * table is refused is told nothing. A rename is RENAMED for the device, then REFERENCE_RENAMED for
     * each device whose table text named it as {@code /dev/mapper/OLD} (the text follows the rename).
     */
    public enum Change { CREATED, LOADED, CLEARED, SUSPENDED, RESUMED, RENAMED, REFERENCE_RENAMED, REMOVED }

    /**
     * Told after each change, outside the device's locks, with the device as the change left it.
     * Changes of one device made one at a time are told in order.
     */
    @FunctionalInterface
    public interface Listener {
        void changed(DeviceSnapshot device, Change change);
    }

    /**
     * What {@code dmsetup create} asks for. {@code minor} -1 picks one; {@code table} null creates a
     * device with no table, else the table is loaded and resumed as part of the create;
     * {@code ephemeral}: see {@link DeviceSnapshot}.
     */
    public record NewDevice(String name, String uuid, int minor, String table, boolean readOnly, boolean ephemeral) {
        public static NewDevice named(String name) {
            return new NewDevice(name, null, -1, null, false, false);
        }

        public NewDevice withUuid(String u) {
            return new NewDevice(name, u, minor, table, readOnly, ephemeral);
        }

        public NewDevice withMinor(int m) {
            return new NewDevice(name, uuid, m, table, readOnly, ephemeral);
        }

        public NewDevice withTable(String text, boolean ro) {
            return new NewDevice(name, uuid, minor, text, ro, ephemeral);
        }

        public NewDevice asEphemeral(boolean e) {
            return new NewDevice(name, uuid, minor, table, readOnly, e);
        }
    }

    private final TargetTypes types;
    private final DeviceLookup lookup;
    private final ReentrantLock registry = new ReentrantLock();
    private final Map<String, MappedDevice> byName = new LinkedHashMap<>();
    private final BitSet minors = new BitSet();
    private final List<Listener> listeners = new CopyOnWriteArrayList<>();
    private final SharedObjects shared = new SharedObjects();

    public DeviceMapper(TargetTypes types, Options options) {
        this.types = types;
        this.lookup = new DeviceLookup(new DeviceLookup.Registry() {
            @Override
            public MappedDevice named(String name) {
                return registered(name);
            }

            @Override
            public MappedDevice withMinor(int minor) {
                return registered(d -> d.minor() == minor);
            }
        }, options.direct());
    }

    /** An engine with every target type and backing provider on the class path. */
    public static DeviceMapper create() {
        return new DeviceMapper(TargetTypes.discover(), Options.DEFAULT);
    }

    public TargetTypes targetTypes() {
        return types;
    }

    public void addBackingProvider(BackingProvider provider) {
        lookup.addBackingProvider(provider);
    }

    public void addListener(Listener l) {
        listeners.add(l);
    }

    public void removeListener(Listener l) {
        listeners.remove(l);
    }

    private void fire(DeviceSnapshot snapshot, Change change) {
        for (Listener l : listeners) {
            l.changed(snapshot, change);
        }
    }

    // ---- lookup ---------------------------------------------------------------------------------

    /** The device of that name, for exports and in-process users. */
    public MappedDevice device(String name) throws DmException {
        MappedDevice md = registered(name);
        if (md == null) {
            throw new DmException(Errno.ENXIO, "device " + name + " does not exist");
        }
        return md;
    }

    private MappedDevice registered(String name) {
        registry.lock();
        try {
            return byName.get(name);
        } finally {
            registry.unlock();
        }
    }

    /** The first registered device that matches, or null. */
    private MappedDevice registered(Predicate<MappedDevice> which) {
        registry.lock();
        try {
            return byName.values().stream().filter(which).findFirst().orElse(null);
        } finally {
            registry.unlock();
        }
    }

    public Optional<String> nameOfUuid(String uuid) {
        return Optional.ofNullable(registered(d -> uuid.equals(d.uuid()))).map(MappedDevice::name);
    }

    public Optional<String> nameOfDevice(int major, int minor) {
        if (major != MappedDevice.MAJOR) {
            return Optional.empty();
        }
        return Optional.ofNullable(registered(d -> d.minor() == minor)).map(MappedDevice::name);
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
        return create(NewDevice.named(name).withUuid(uuid));
    }

    /** Creates a device with a chosen minor (the daemon restores devices with the numbers they had); -1 picks one. */
    public DeviceInfo create(String name, String uuid, int minor) throws DmException {
        return create(NewDevice.named(name).withUuid(uuid).withMinor(minor));
    }

    /** {@code dmsetup create} with a table: see {@link #create(NewDevice)}. */
    public DeviceInfo create(String name, String uuid, String table, boolean readOnly) throws DmException {
        return create(NewDevice.named(name).withUuid(uuid).withTable(table, readOnly));
    }

    /**
     * Creates a device; with a table, loads and resumes it as one operation: listeners hear one
     * CREATED with the table live, and if the table is refused the device is removed again and they
     * hear nothing.
     */
    public DeviceInfo create(NewDevice spec) throws DmException {
        MappedDevice md = register(spec);
        if (spec.table() != null) {
            try {
                md.load(buildTable(md, spec.table(), spec.readOnly()));
                md.resume();
            } catch (DmException e) {
                try {
                    removeLocked(md, false, false);
                } catch (DmException stillThere) {
                    e.addSuppressed(stillThere);
                    // Opened while it was being built: it stays, so its listeners must know it exists.
                    fire(md.snapshot(), Change.CREATED);
                }
                throw e;
            }
        }
        fire(md.snapshot(), Change.CREATED);
        return info(md);
    }

    private MappedDevice register(NewDevice spec) throws DmException {
        String name = spec.name();
        String uuid = spec.uuid() == null || spec.uuid().isEmpty() ? null : spec.uuid();
        checkName(name);
        if (uuid != null) {
            checkUuid(uuid);
        }
        registry.lock();
        try {
            if (byName.containsKey(name)) {
                throw new DmException(Errno.EBUSY, "device " + name + " already exists");
            }
            if (uuid != null && byName.values().stream().anyMatch(d -> uuid.equals(d.uuid()))) {
                throw new DmException(Errno.EBUSY, "uuid " + uuid + " is already in use");
            }
            int m = spec.minor() >= 0 ? spec.minor() : minors.nextClearBit(0);
            if (minors.get(m)) {
                throw new DmException(Errno.EBUSY, "minor " + m + " is already in use");
            }
            minors.set(m);
            MappedDevice md = new MappedDevice(name, uuid, m, spec.ephemeral());
            byName.put(name, md);
            return md;
        } finally {
            registry.unlock();
        }
    }

    public void remove(String name, boolean force, boolean deferred) throws DmException {
        MappedDevice md = device(name);
        if (removeLocked(md, force, deferred)) {
            fire(md.snapshot(), Change.REMOVED);
        }
    }

    /** Removes the device now, or marks it for removal at its last close (false: not removed yet). */
    private boolean removeLocked(MappedDevice md, boolean force, boolean deferred) throws DmException {
        md.control.lock();
        try {
            if (md.openCount() > 0 && deferred) {
                md.setDeferredRemove(true);
                md.onLastClose(() -> removeDeferred(md));
                return false;
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
            return true;
        } finally {
            md.control.unlock();
        }
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
        fire(md.snapshot(), Change.REMOVED);
    }

    /** Replaces the live table with one that fails all I/O, as {@code dmsetup wipe_table} and {@code remove --force} do. */
    private void wipeTable(MappedDevice md) throws DmException {
        Table live = md.live();
        if (live == null) {
            return;
        }
        md.load(buildTable(md, "0 " + live.sizeSectors() + " error", live.readOnly()));
        md.resume();
    }

    private void destroy(MappedDevice md) {
        md.destroy();
        registry.lock();
        try {
            byName.remove(md.name(), md);
            minors.clear(md.minor());
        } finally {
            registry.unlock();
        }
    }

    private Table buildTable(MappedDevice md, String text, boolean readOnly) throws DmException {
        return Table.build(text, readOnly, types, lookup, md, md.live(), shared);
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
        fire(md.snapshot(), Change.RENAMED);
        for (MappedDevice holder : holdersOf(md)) {
            if (holder.followRename(name, newName)) {
                fire(holder.snapshot(), Change.REFERENCE_RENAMED);
            }
        }
    }

    /** The devices whose tables use {@code md} directly. */
    private List<MappedDevice> holdersOf(MappedDevice md) {
        registry.lock();
        try {
            return byName.values().stream().filter(d -> d.uses(md)).toList();
        } finally {
            registry.unlock();
        }
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
        fire(md.snapshot(), Change.RENAMED);
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
            md.load(buildTable(md, tableText, readOnly));
        } finally {
            md.control.unlock();
        }
        fire(md.snapshot(), Change.LOADED);
    }

    public void clear(String name) throws DmException {
        MappedDevice md = device(name);
        md.clearInactive();
        fire(md.snapshot(), Change.CLEARED);
    }

    /** Stops new I/O and waits for in-flight I/O; a no-op on a suspended device. */
    public void suspend(String name, boolean noflush) throws DmException {
        MappedDevice md = device(name);
        if (md.suspend(noflush)) {
            fire(md.snapshot(), Change.SUSPENDED);
        }
    }

    /** Swaps in the inactive table if there is one (suspending first), then lets I/O flow. */
    public void resume(String name) throws DmException {
        MappedDevice md = device(name);
        md.resume();
        fire(md.snapshot(), Change.RESUMED);
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

    /** A device opened by the text a table would name it with; closing gives it back. */
    public record OpenedDevice(BlockDevice device, Runnable release) implements AutoCloseable {
        @Override
        public void close() {
            release.run();
        }
    }

    /**
     * Opens what a table's device argument names ({@code /dev/mapper/NAME}, {@code major:minor}, a path,
     * an {@code nbd://} URI) outside any table, read-only: multipath's path checker reads its paths so.
     */
    public OpenedDevice openDevice(String spec) throws DmException {
        DeviceResolver.Acquired a = lookup.acquire(spec, true, null);
        return new OpenedDevice(a.device(), a.release());
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

    /**
     * {@link #message(String, long, List)} with the message as one string, split into words as the kernel
     * splits what dmsetup sends ({@link TableParser#splitArgs}: {@code "create_thin 0"} is two words,
     * {@code "mark a\\ b"} two with a space inside the second).
     */
    public String message(String name, long sector, String text) throws DmException {
        return message(name, sector, TableParser.splitArgs(text));
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
        Table.Entry e = t.entry(t.find(Sectors.toBytes(sector)));
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
        return lookup.openBackingDevices();
    }

    public List<TargetType> targets() {
        return List.copyOf(types.all());
    }

    /** Removes every device (force), releasing all backing devices. */
    @Override
    public void close() {
        removeAll(true);
    }
}
