package dev.jdm.targets.thin;

import dev.jdm.core.io.BlockDevice;

import java.io.IOException;

/**
 * Which newly allocated data blocks already read as zeroes, so provisioning need not zero them: one probe
 * of the data device (SEEK_DATA on a file) finds the hole a new block lies in, and the blocks after it in
 * that hole are answered without asking again, as allocation walks through them.
 *
 * <p>An answer stays true until the transaction ends. A block free when the hole was found is written only
 * after it is allocated, and it is allocated (and asked about) at most once per transaction, because blocks
 * freed in a transaction are not handed out again before it commits. So the pool forgets the hole at every
 * commit, abort and resize, and after writes through the pool device itself, which bypass allocation.
 */
final class KnownHoles {
    /** Blocks one probe covers at most: bounds the allocation walk of devices that are not files. */
    private static final long PROBE_BLOCKS = 4096;

    private final BlockDevice data;
    private final long blockBytes;
    private long from; // [from, to): data blocks in a hole found this transaction; guarded by this
    private long to;

    KnownHoles(BlockDevice data, long blockBytes) {
        this.data = data;
        this.blockBytes = blockBytes;
    }

    /** Whether a data block just allocated reads as zeroes (it lies in a hole of the data device). */
    synchronized boolean newBlockReadsAsZeroes(long block) throws IOException {
        if (block >= from && block < to) {
            return true;
        }
        long start = block * blockBytes;
        long limit = Math.min(data.size(), start + PROBE_BLOCKS * blockBytes);
        long holeBlocks = (data.zeroesUntil(start, limit) - start) / blockBytes;
        if (holeBlocks == 0) {
            return false;
        }
        from = block;
        to = block + holeBlocks;
        return true;
    }

    synchronized void forget() {
        from = 0;
        to = 0;
    }
}
