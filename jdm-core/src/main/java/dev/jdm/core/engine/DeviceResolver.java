package dev.jdm.core.engine;

import dev.jdm.core.DmException;
import dev.jdm.core.io.BlockDevice;

/** Turns a table's device argument into an open device, the way {@code dm_get_device} does. */
interface DeviceResolver {

    /** An open device and what gives it back. */
    record Acquired(BlockDevice device, Runnable release) {
    }

    Acquired acquire(String spec, boolean readOnly, MappedDevice holder) throws DmException;
}
