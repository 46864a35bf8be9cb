package dev.jdm.daemon;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.jdm.core.engine.DeviceSnapshot;

/**
 * What the daemon keeps on disk for one device: enough to rebuild it exactly after a restart. Tables
 * are kept as they were loaded, not as {@code table} prints them, so a target that prints less than
 * it was given (keys, optional arguments) is rebuilt from what the user wrote.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record DeviceState(String name, String uuid, int minor, String table, boolean readOnly,
                          String inactiveTable, boolean inactiveReadOnly, boolean suspended) {

    /** What the engine told of the device. */
    static DeviceState of(DeviceSnapshot d) {
        return new DeviceState(d.name(), d.uuid(), d.minor(), d.liveTable(), d.liveReadOnly(), d.inactiveTable(),
                d.inactiveReadOnly(), d.suspended());
    }
}
