package dev.jdm.targets.snapshot;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** snapshot_copy_throttle: one setting for the snapshot copiers of every engine, 0..100. */
class SnapshotCopyThrottleTest {
    @Test
    void everyEnginesSnapshotCopierPacesItsIoByTheOneSetting() {
        assertSame(SnapshotCopyThrottle.THROTTLE, new Origins().copier.throttle());
        assertSame(new Origins().copier.throttle(), new Origins().copier.throttle());
    }

    @Test
    void theShareIsAPercentage() {
        int before = SnapshotCopyThrottle.percent();
        try {
            assertEquals(100, before);
            SnapshotCopyThrottle.percent(40);
            assertEquals(40, new Origins().copier.throttle().percent());
            var e = assertThrows(IllegalArgumentException.class, () -> SnapshotCopyThrottle.percent(101));
            assertEquals("a copy throttle of 101%: it must be 0 to 100", e.getMessage());
            assertEquals(40, SnapshotCopyThrottle.percent());
        } finally {
            SnapshotCopyThrottle.percent(before);
        }
    }
}
