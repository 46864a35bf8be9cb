package dev.jdm.core.engine;

/**
 * A device as one change left it, taken by the engine right after the change: enough to
 * build the same device again. Tables are the text they were loaded from (it reloads to the same
 * table; the targets' printed {@code table} lines may differ: keys, normalised arguments), null
 * where the slot is empty. An {@code ephemeral} device's tables hold keys: whoever keeps state must
 * not write it anywhere, so it ends with the process, as after a reboot.
 */
public record DeviceSnapshot(String name, String uuid, int minor, boolean ephemeral, boolean suspended,
                             String liveTable, boolean liveReadOnly, String inactiveTable, boolean inactiveReadOnly) {
}
