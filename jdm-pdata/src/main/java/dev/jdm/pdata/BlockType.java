package dev.jdm.pdata;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * A kind of 4 KiB metadata block, declared by the code that owns its layout, as the kernel's users declare a
 * {@code struct dm_block_validator}: the btree its nodes ({@link BTree}), the space maps their bitmaps and
 * index ({@link SpaceMap}), arrays their blocks ({@link DmArray}), and each target's metadata its superblock.
 * Every block starts with {@code __le32 csum} over bytes 4..4095 XORed with the type's constant, and stores
 * its own location at {@link #blocknrOffset()}. Types compare by identity: declare each one once.
 */
public final class BlockType {
    private final String label;
    private final int xor;
    private final int blocknrOffset;

    /**
     * @param label names the type in error messages ("bad checksum in btree node (block 104)")
     * @param xor the constant the kernel folds into this type's checksum
     * @param blocknrOffset where the block stores its own location (the misdirected-I/O check)
     */
    public BlockType(String label, int xor, int blocknrOffset) {
        if (blocknrOffset < 4 || blocknrOffset > Block.SIZE - 8) {
            throw new IllegalArgumentException("blocknr offset " + blocknrOffset + " is not within bytes 4.."
                    + (Block.SIZE - 8) + " of a block");
        }
        this.label = label;
        this.xor = xor;
        this.blocknrOffset = blocknrOffset;
    }

    public String label() {
        return label;
    }

    public int xor() {
        return xor;
    }

    /** Where the block stores its own location (misdirected-I/O check). */
    public int blocknrOffset() {
        return blocknrOffset;
    }

    /** The kernel's crc32c (seed ~0, no final inversion) of bytes 4..4095 of a heap block, XORed with {@link #xor()}. */
    public int checksum(ByteBuffer block) {
        CRC32C crc = new CRC32C();
        crc.update(block.array(), block.arrayOffset() + 4, Block.SIZE - 4);
        return (int) crc.getValue() ^ 0xFFFFFFFF ^ xor;
    }

    @Override
    public String toString() {
        return label;
    }
}
