package dev.jdm.targets.thin;

import java.util.concurrent.locks.StampedLock;

/**
 * The pool's bio prison, as a table of striped locks keyed by (thin device, virtual block). I/O that only
 * reads a mapping or writes a block in place shares the lock (a read whose mapping is cached does not even
 * take it: it validates an optimistic stamp afterwards); provisioning, breaking sharing and discarding take
 * it exclusively, so two writes never both allocate for one block and a read sees a block either before or
 * after it is provisioned. StampedLock, not a ReentrantReadWriteLock: the shared side is one CAS with no
 * per-thread hold count. It is not reentrant, and no caller holds two stripes at once, so stripes shared by
 * unrelated blocks only cost waiting, never deadlock.
 */
final class BlockLocks {
    private static final int STRIPES = 1024;
    private final StampedLock[] stripes = new StampedLock[STRIPES];

    BlockLocks() {
        for (int i = 0; i < STRIPES; i++) {
            stripes[i] = new StampedLock();
        }
    }

    StampedLock of(long deviceId, long virtualBlock) {
        long h = (deviceId * 0x9E3779B97F4A7C15L) ^ (virtualBlock * 0xC2B2AE3D27D4EB4FL);
        h ^= h >>> 29;
        return stripes[(int) (h & (STRIPES - 1))];
    }
}
