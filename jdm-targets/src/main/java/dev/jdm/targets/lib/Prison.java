package dev.jdm.targets.lib;

import java.util.concurrent.locks.StampedLock;

/**
 * A block prison (the kernel's dm-bio-prison, v2's shared and exclusive locks) as a table of striped locks
 * keyed by (space, block): a space is whatever numbers blocks independently (a thin device id, a cache's
 * origin, 0 when there is only one). I/O that only reads a block's mapping or writes the block in place
 * shares its cell; changing the mapping (provisioning, copy-on-write, discard, migration) takes the cell
 * exclusively, so two writers never both remap one block and a reader sees the block before or after.
 *
 * <p>A cell is a {@link StampedLock}, so a reader on the hot path need not take it at all: it reads under
 * {@link StampedLock#tryOptimisticRead} and keeps the bytes only if {@link StampedLock#validate} says no
 * exclusive holder came in between. The shared side is one CAS with no per-thread count, which is why cells
 * are not reentrant: a caller never holds two cells at once, and then unrelated blocks sharing a stripe only
 * wait for each other, they never deadlock.
 */
public final class Prison {
    private static final int DEFAULT_STRIPES = 1024;
    private final StampedLock[] stripes;
    private final int mask;

    public Prison() {
        this(DEFAULT_STRIPES);
    }

    /** A prison of {@code stripes} locks (a power of two): more stripes, less waiting between unrelated blocks. */
    public Prison(int stripes) {
        if (stripes <= 0 || Integer.bitCount(stripes) != 1) {
            throw new IllegalArgumentException("the number of stripes must be a power of two, not " + stripes);
        }
        this.stripes = new StampedLock[stripes];
        this.mask = stripes - 1;
        for (int i = 0; i < stripes; i++) {
            this.stripes[i] = new StampedLock();
        }
    }

    /** The cell of a block: the same lock for the same (space, block), every time. */
    public StampedLock cell(long space, long block) {
        long h = (space * 0x9E3779B97F4A7C15L) ^ (block * 0xC2B2AE3D27D4EB4FL);
        h ^= h >>> 29;
        return stripes[(int) (h & mask)];
    }
}
