package dev.jdm.pdata;

import java.io.IOException;

/**
 * dm-array: a fixed-size array of equal-sized values, stored as a btree (block index → array block location,
 * value size 8) over array blocks {@code csum u32 | max_entries u32 | nr_entries u32 | value_size u32 |
 * blocknr u64 | values...} of {@code (4096 - 24) / value_size} entries, all full but the last. An array block
 * is counted once per btree entry that points at it, so arrays share blocks the way btrees share nodes.
 */
public final class DmArray {
    /** dm-array.c's array_validator: the block's location is at offset 16, after the three counts. */
    static final BlockType ARRAY_BLOCK = new BlockType("array block", 595846735, 16);
    private static final int HEADER = 24;

    /** Visits every entry in index order. */
    @FunctionalInterface
    public interface Visitor {
        void entry(long index, byte[] value) throws IOException;
    }

    private final TransactionManager tm;
    private final ValueType valueType;
    private final int perBlock;
    private final BTree blocks;

    public DmArray(TransactionManager tm, ValueType valueType) {
        this.tm = tm;
        this.valueType = valueType;
        this.perBlock = (Block.SIZE - HEADER) / valueType.size();
        this.blocks = new BTree(tm, ValueType.blockReference(tm, this::releaseBlock));
    }

    public int entriesPerBlock() {
        return perBlock;
    }

    /** An array of {@code size} entries, all {@code initial}. */
    public long create(long size, byte[] initial) throws IOException {
        long nrBlocks = (size + perBlock - 1) / perBlock;
        long[] keys = new long[(int) nrBlocks];
        byte[][] values = new byte[(int) nrBlocks][];
        for (int b = 0; b < nrBlocks; b++) {
            int n = (int) Math.min(perBlock, size - (long) b * perBlock);
            Block block = tm.newBlock(ARRAY_BLOCK);
            block.data().putInt(4, perBlock).putInt(8, n).putInt(12, valueType.size());
            for (int i = 0; i < n; i++) {
                block.data().put(HEADER + i * valueType.size(), initial);
                valueType.inc(initial);
            }
            keys[b] = b;
            values[b] = BTree.le64(block.location());
        }
        return blocks.build(keys, values);
    }

    public byte[] get(long root, long index) throws IOException {
        byte[] loc = blocks.lookup(root, index / perBlock);
        int i = (int) (index % perBlock);
        if (loc == null) {
            throw new IndexOutOfBoundsException("array index " + index + " beyond the array");
        }
        Block b = readBlock(BTree.le64(loc));
        if (i >= b.data().getInt(8)) {
            throw new IndexOutOfBoundsException("array index " + index + " beyond the array");
        }
        byte[] v = new byte[valueType.size()];
        b.data().get(HEADER + i * valueType.size(), v);
        return v;
    }

    /** Sets one entry; returns the new root. */
    public long set(long root, long index, byte[] value) throws IOException {
        get(root, index);
        long blockIndex = index / perBlock;
        int i = (int) (index % perBlock);
        long location = BTree.le64(blocks.lookup(root, blockIndex));
        // shadow the btree path first: a shared leaf's copy takes its own reference to the array block,
        // which then shows as shared and is copied rather than changed under the other owner
        root = blocks.replace(root, blockIndex, BTree.le64(location));
        TransactionManager.Shadow s = tm.shadow(location, ARRAY_BLOCK);
        Block b = s.block();
        int n = b.data().getInt(8);
        if (s.wasShared()) {
            for (int j = 0; j < n; j++) {
                valueType.inc(valueAt(b, j));
            }
        }
        byte[] old = valueAt(b, i);
        if (!java.util.Arrays.equals(old, value)) {
            valueType.dec(old);
        }
        b.data().put(HEADER + i * valueType.size(), value);
        return blocks.replace(root, blockIndex, BTree.le64(b.location()));
    }

    public void walk(long root, Visitor visitor) throws IOException {
        blocks.walk(root, (blockIndex, loc) -> {
            Block b = readBlock(BTree.le64(loc));
            int n = b.data().getInt(8);
            for (int j = 0; j < n; j++) {
                visitor.entry(blockIndex * perBlock + j, valueAt(b, j));
            }
        });
    }

    /** Drops one reference to the array. */
    public void delete(long root) throws IOException {
        blocks.delete(root);
    }

    private byte[] valueAt(Block b, int i) {
        byte[] v = new byte[valueType.size()];
        b.data().get(HEADER + i * valueType.size(), v);
        return v;
    }

    private Block readBlock(long location) throws IOException {
        Block b = tm.read(location, ARRAY_BLOCK);
        var d = b.data();
        if (d.getInt(12) != valueType.size() || d.getInt(4) != perBlock || d.getInt(8) > perBlock) {
            throw new MetadataException(dev.jdm.core.Errno.EILSEQ, String.format(
                    "array block %d: max_entries %d, nr_entries %d, value_size %d; expected value size %d",
                    location, d.getInt(4), d.getInt(8), d.getInt(12), valueType.size()));
        }
        return b;
    }

    private void releaseBlock(long location) throws IOException {
        if (tm.refCount(location) == 1) {
            Block b = readBlock(location);
            for (int j = 0; j < b.data().getInt(8); j++) {
                valueType.dec(valueAt(b, j));
            }
        }
        tm.dec(location);
    }
}
