package dev.jdm.core.engine;

/** What {@code dmsetup info} reports of a device (the kernel's DEV_STATUS answer). */
public record DeviceInfo(String name, String uuid, int major, int minor, boolean suspended, boolean readOnly,
                         boolean liveTable, boolean inactiveTable, int openCount, long eventNumber,
                         int targetCount, boolean deferredRemove, long sizeSectors, int readAhead) {

    /** {@code ACTIVE} or {@code SUSPENDED}, with the flags dmsetup appends. */
    public String state() {
        return (suspended ? "SUSPENDED" : "ACTIVE") + (readOnly ? " (READ-ONLY)" : "")
                + (deferredRemove ? " (DEFERRED REMOVE)" : "");
    }

    /** {@code None}, {@code LIVE}, {@code INACTIVE} or {@code LIVE & INACTIVE}. */
    public String tablesPresent() {
        if (liveTable && inactiveTable) {
            return "LIVE & INACTIVE";
        }
        return liveTable ? "LIVE" : inactiveTable ? "INACTIVE" : "None";
    }
}
