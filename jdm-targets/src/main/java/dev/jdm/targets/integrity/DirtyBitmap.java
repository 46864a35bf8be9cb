package dev.jdm.targets.integrity;

import dev.jdm.core.io.BlockDevice;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.BitSet;

/**
 * B mode's dirty bitmap. On disk it reuses the start of the journal area in 4 KiB blocks, one bit
 * per {@code 2^shift} sectors, least significant bit first (the kernel's little-endian longs); in
 * memory it lives in the journal image, as the kernel keeps it in its journal pages. Beside it, the
 * regions whose tags must be recalculated and the regions already marked on disk.
 */
final class DirtyBitmap {
    static final int BLOCK_BYTES = 4096;
    static final long BITS_PER_BLOCK = BLOCK_BYTES * 8L;

    private final byte[] image;
    private final BlockDevice meta;
    private final IntegrityGeometry g;
    private final int shift;
    private final int blocks;
    /** Regions whose tags are not to be trusted until recalculated. */
    final BitSet recalc = new BitSet();
    /** Regions already marked dirty on disk: writes there need no bitmap write first. */
    final BitSet mayWrite = new BitSet();

    DirtyBitmap(byte[] image, BlockDevice meta, IntegrityGeometry g, int log2BlocksPerBit, int blocks) {
        this.image = image;
        this.meta = meta;
        this.g = g;
        this.shift = g.log2SectorsPerBlock + log2BlocksPerBit;
        this.blocks = blocks;
    }

    /** log2 of the sectors one bit covers. */
    int shift() {
        return shift;
    }

    int bit(long sector) {
        return (int) (sector >>> shift);
    }

    /** One past the last bit covering [sector, sector + n), as {@code block_bitmap_op} rounds. */
    int endBit(long sector, long n) {
        return bit(sector + n - 1) + 1;
    }

    /** The bit as the on-disk bitmap has it. */
    boolean get(int b) {
        return (image[b >>> 3] & (1 << (b & 7))) != 0;
    }

    void set(int from, int to, boolean value) {
        for (int b = from; b < to; b++) {
            if (value) {
                image[b >>> 3] |= (byte) (1 << (b & 7));
            } else {
                image[b >>> 3] &= (byte) ~(1 << (b & 7));
            }
        }
    }

    void copyTo(BitSet bits, int n) {
        bits.clear();
        for (int b = 0; b < n; b++) {
            if (get(b)) {
                bits.set(b);
            }
        }
    }

    void read() throws IOException {
        meta.read(g.journalByte(0), ByteBuffer.wrap(image, 0, blocks * BLOCK_BYTES));
    }

    void write() throws IOException {
        meta.write(g.journalByte(0), ByteBuffer.wrap(image, 0, blocks * BLOCK_BYTES), true);
    }

    /** Writes, durably, the bitmap blocks holding bits [from, to). */
    void writeBlocks(int from, int to) throws IOException {
        int first = (int) (from / BITS_PER_BLOCK);
        int last = (int) ((to - 1) / BITS_PER_BLOCK);
        meta.write(g.journalByte((long) first * (BLOCK_BYTES >> 9)),
                ByteBuffer.wrap(image, first * BLOCK_BYTES, (last - first + 1) * BLOCK_BYTES), true);
    }
}
