package dev.jdm.targets.snapshot;

import dev.jdm.targets.lib.Copier;

/**
 * The kernel's dm_snapshot module parameter {@code snapshot_copy_throttle}: the share of time, 0 to 100 percent,
 * that snapshot copies (copy-out before origin writes, merges) may keep I/O in flight. Like the module parameter it
 * holds for every snapshot of the process (every engine); 100, the default, does not throttle. {@code jdm daemon
 * --snapshot-copy-throttle} sets it.
 */
public final class SnapshotCopyThrottle {
    static final Copier.Throttle THROTTLE = new Copier.Throttle(100);

    private SnapshotCopyThrottle() {
    }

    public static int percent() {
        return THROTTLE.percent();
    }

    /** Sets the share; an IllegalArgumentException outside 0..100. Copies in progress follow it from their next piece. */
    public static void percent(int percent) {
        THROTTLE.percent(percent);
    }
}
