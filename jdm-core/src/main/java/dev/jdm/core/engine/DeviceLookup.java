package dev.jdm.core.engine;

import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.spi.BackingProvider;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * What a table's device argument names, opened for the table (the kernel's dm_get_device): a mapped
 * device ({@code /dev/mapper/NAME} or {@code 253:MINOR}, opened as held by the table and refused if it
 * would make a loop), a device a {@link BackingProvider} accepts ({@code nbd://...}), or a file or block
 * device (a path, or {@code major:minor} through sysfs); the last two shared by every table that names them.
 */
final class DeviceLookup implements DeviceResolver {

    /** The mapped devices registered right now, as the registry answers under its lock. */
    interface Registry {
        /** The device of that name, or null. */
        MappedDevice named(String name);

        /** The device with that minor, or null. */
        MappedDevice withMinor(int minor);
    }

    private final Registry registry;
    private final BackingDevices backing;
    /**
     * Devices a provider opens ({@code nbd://...}), shared per spec like files: a table reload keeps its connection,
     * and the path checker probes the very client a multipath path sends I/O through, so a probe that succeeds means
     * that client is connected again. A read-write request finding only a read-only device opens one of its own.
     */
    private final SharedOpens<String> remote = new SharedOpens<>();
    private final List<BackingProvider> providers = new CopyOnWriteArrayList<>();

    DeviceLookup(Registry registry, boolean direct) {
        this.registry = registry;
        this.backing = new BackingDevices(direct);
        ServiceLoader.load(BackingProvider.class, DeviceLookup.class.getClassLoader()).forEach(providers::add);
    }

    void addBackingProvider(BackingProvider provider) {
        providers.add(provider);
    }

    /** Backing files and block devices open right now. */
    int openBackingDevices() {
        return backing.openCount();
    }

    @Override
    public Acquired acquire(String spec, boolean readOnly, MappedDevice holder) throws DmException {
        MappedDevice md = mappedDeviceOf(spec);
        if (md != null) {
            return acquireMapped(md, holder);
        }
        for (BackingProvider p : providers) {
            if (p.accepts(spec)) {
                return remote.acquire(spec, open -> readOnly || !open.isReadOnly(), () -> {
                    try {
                        return p.open(spec, readOnly);
                    } catch (IOException e) {
                        throw new DmException(Errno.ENXIO, "cannot open " + spec + ": " + e.getMessage(), e);
                    }
                });
            }
        }
        return backing.acquire(pathOf(spec), readOnly);
    }

    private static Acquired acquireMapped(MappedDevice md, MappedDevice holder) throws DmException {
        if (holder == null) {
            // A reader outside every table (the path checker): it cannot make a loop.
            MappedDevice.Opener o = md.open("reader", false, null);
            return new Acquired(md, o::close);
        }
        if (md == holder) {
            throw new DmException(Errno.EINVAL, "a table cannot use its own device " + md.name());
        }
        if (dependsOn(md, holder)) {
            throw new DmException(Errno.EINVAL, "using " + md.name() + " would make a loop: it already depends on " + holder.name());
        }
        MappedDevice.Opener o = md.open("table of " + holder.name(), false, null);
        return new Acquired(md, o::close);
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
        if (spec.startsWith(mapperPrefix)) {
            String name = spec.substring(mapperPrefix.length());
            MappedDevice md = registry.named(name);
            if (md == null && !Files.exists(Path.of(spec))) {
                throw new DmException(Errno.ENXIO, "no mapped device named " + name);
            }
            return md;
        }
        int[] mm = parseMajorMinor(spec);
        if (mm != null && mm[0] == MappedDevice.MAJOR) {
            MappedDevice md = registry.withMinor(mm[1]);
            if (md == null) {
                throw new DmException(Errno.ENXIO, "no mapped device with number " + spec);
            }
            return md;
        }
        return null;
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
}
