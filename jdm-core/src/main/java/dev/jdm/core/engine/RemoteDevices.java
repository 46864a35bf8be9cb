package dev.jdm.core.engine;

import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.spi.BackingProvider;

import java.io.IOException;
import java.util.HashMap;
import java.util.Map;

/**
 * Devices a {@link BackingProvider} opens ({@code nbd://...}), one per name, shared by every table and
 * reader that names it, as {@link BackingDevices} shares files and the kernel one dm_dev per device. So a
 * table reload keeps its connection, and the path checker probes the very client a multipath path sends
 * I/O through: a probe that succeeds means that client is connected again, not merely that the server
 * answers someone. A read-write request finding only a read-only device opens one of its own, unshared.
 */
final class RemoteDevices {
    private record Shared(BlockDevice device, boolean readOnly, int refs) {
    }

    private final Map<String, Shared> open = new HashMap<>();

    synchronized DeviceResolver.Acquired acquire(BackingProvider provider, String spec, boolean readOnly) throws DmException {
        Shared s = open.get(spec);
        if (s != null && (readOnly || !s.readOnly)) {
            open.put(spec, new Shared(s.device, s.readOnly, s.refs + 1));
            return new DeviceResolver.Acquired(s.device, () -> release(spec, s.device));
        }
        BlockDevice d = openWith(provider, spec, readOnly);
        if (s != null) {
            return new DeviceResolver.Acquired(d, () -> closeQuietly(d));
        }
        open.put(spec, new Shared(d, readOnly, 1));
        return new DeviceResolver.Acquired(d, () -> release(spec, d));
    }

    private static BlockDevice openWith(BackingProvider provider, String spec, boolean readOnly) throws DmException {
        try {
            return provider.open(spec, readOnly);
        } catch (IOException e) {
            throw new DmException(Errno.ENXIO, "cannot open " + spec + ": " + e.getMessage(), e);
        }
    }

    private synchronized void release(String spec, BlockDevice device) {
        Shared s = open.get(spec);
        if (s == null || s.device != device) {
            return;
        }
        if (s.refs > 1) {
            open.put(spec, new Shared(s.device, s.readOnly, s.refs - 1));
            return;
        }
        open.remove(spec);
        closeQuietly(device);
    }

    private static void closeQuietly(BlockDevice d) {
        try {
            d.close();
        } catch (IOException ignored) {
            // Released for good; a failing close has nobody left to tell.
        }
    }
}
