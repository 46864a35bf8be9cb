package dev.jdm.core.engine;

import dev.jdm.core.DmException;
import dev.jdm.core.io.BlockDevice;

import java.io.IOException;
import java.util.HashMap;
import java.util.Map;

/**
 * Devices opened once per key and shared by every holder, counted, and closed when the last one lets go:
 * the kernel's list of dm_devs, which {@link BackingDevices} (files and block devices, by real path) and
 * {@link RemoteDevices} (provider devices, by spec) keep.
 */
final class SharedOpens<K> {

    interface Opener {
        BlockDevice open() throws DmException;
    }

    /** Whether an open device serves a new request: true shares it, false opens one of its own; it may refuse. */
    interface Fit {
        boolean serves(BlockDevice open) throws DmException;
    }

    private record Shared(BlockDevice device, int refs) {
    }

    private final Map<K, Shared> open = new HashMap<>();

    /**
     * The device open under {@code key} if {@code fit} says it serves, else a new one from {@code opener}: kept
     * under {@code key} when none was, or, beside one that does not serve, held by this caller alone.
     */
    synchronized DeviceResolver.Acquired acquire(K key, Fit fit, Opener opener) throws DmException {
        Shared s = open.get(key);
        if (s != null && fit.serves(s.device)) {
            open.put(key, new Shared(s.device, s.refs + 1));
            return new DeviceResolver.Acquired(s.device, () -> release(key, s.device));
        }
        BlockDevice d = opener.open();
        if (s != null) {
            return new DeviceResolver.Acquired(d, () -> closeQuietly(d));
        }
        open.put(key, new Shared(d, 1));
        return new DeviceResolver.Acquired(d, () -> release(key, d));
    }

    private synchronized void release(K key, BlockDevice device) {
        Shared s = open.get(key);
        if (s == null || s.device != device) {
            return;
        }
        if (s.refs > 1) {
            open.put(key, new Shared(s.device, s.refs - 1));
            return;
        }
        open.remove(key);
        closeQuietly(device);
    }

    synchronized int openCount() {
        return open.size();
    }

    private static void closeQuietly(BlockDevice d) {
        try {
            d.close();
        } catch (IOException ignored) {
            // Released for good; a failing close has nobody left to tell.
        }
    }
}
