package dev.jdm.daemon;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * What the daemon keeps on disk for one device: enough to rebuild it exactly after a restart. Tables
 * are kept as they were loaded, not as {@code table} prints them, so a target that prints less than
 * it was given (keys, optional arguments) is rebuilt from what the user wrote.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record DeviceState(String name, String uuid, int minor, String table, boolean readOnly,
                          String inactiveTable, boolean inactiveReadOnly, boolean suspended) {

    DeviceState withName(String newName, String newUuid) {
        return new DeviceState(newName, newUuid, minor, table, readOnly, inactiveTable, inactiveReadOnly, suspended);
    }

    DeviceState withInactive(String text, boolean ro) {
        return new DeviceState(name, uuid, minor, table, readOnly, text, ro, suspended);
    }

    /** The inactive table became live (a resume swapped it in). */
    DeviceState promoted() {
        return new DeviceState(name, uuid, minor, inactiveTable, inactiveReadOnly, null, false, suspended);
    }

    DeviceState withSuspended(boolean s) {
        return new DeviceState(name, uuid, minor, table, readOnly, inactiveTable, inactiveReadOnly, s);
    }
}
