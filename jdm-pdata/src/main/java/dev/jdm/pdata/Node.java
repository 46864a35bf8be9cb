package dev.jdm.pdata;

import java.nio.ByteBuffer;

/**
 * View of a btree node block: {@code csum u32 | flags u32 | blocknr u64 | nr_entries u32 | max_entries u32 |
 * value_size u32 | pad u32 | keys[max] u64 | values[max]}. Internal nodes hold le64 child locations.
 */
final class Node {
    /** dm-btree-spine.c's btree_node_validator. */
    static final BlockType BLOCK_TYPE = new BlockType("btree node", 121107, 8);
    static final int HEADER = 32;
    static final int INTERNAL = 1;
    static final int LEAF = 2;

    final Block block;
    private final ByteBuffer d;
    private final byte[] raw;

    Node(Block block) {
        this.block = block;
        this.d = block.data();
        this.raw = d.array();
    }

    /** The kernel's capacity rule: a multiple of 3 so that split and merge thresholds are whole numbers. */
    static int maxEntries(int valueSize) {
        return 3 * ((Block.SIZE - HEADER) / (8 + valueSize) / 3);
    }

    static Node format(Block block, boolean leaf, int valueSize) {
        Node n = new Node(block);
        n.d.putInt(4, leaf ? LEAF : INTERNAL);
        n.d.putInt(16, 0);
        n.d.putInt(20, maxEntries(valueSize));
        n.d.putInt(24, valueSize);
        return n;
    }

    /** Checks the header so a damaged node is refused before it is trusted. */
    Node checked(int expectedLeafValueSize) throws MetadataException {
        int flags = d.getInt(4);
        int vs = valueSize();
        if ((flags & (INTERNAL | LEAF)) == 0) {
            throw damaged("node is neither internal nor leaf");
        }
        if (max() % 3 != 0 || HEADER + (long) (8 + vs) * max() > Block.SIZE || nr() > max()) {
            throw damaged("bad entry counts nr=" + nr() + " max=" + max() + " value_size=" + vs);
        }
        int expected = isLeaf() ? expectedLeafValueSize : 8;
        if (vs != expected) {
            throw damaged("value size " + vs + ", expected " + expected);
        }
        return this;
    }

    /** The message is built only on failure: this check runs on every node a lookup visits. */
    private MetadataException damaged(String what) {
        return new MetadataException(dev.jdm.core.Errno.EILSEQ, what + " (btree node " + block.location() + ")");
    }

    boolean isLeaf() {
        return (d.getInt(4) & LEAF) != 0;
    }

    int nr() {
        return d.getInt(16);
    }

    void setNr(int nr) {
        d.putInt(16, nr);
    }

    int max() {
        return d.getInt(20);
    }

    int valueSize() {
        return d.getInt(24);
    }

    long key(int i) {
        return d.getLong(HEADER + 8 * i);
    }

    void setKey(int i, long key) {
        d.putLong(HEADER + 8 * i, key);
    }

    private int valueOffset(int i) {
        return HEADER + 8 * max() + valueSize() * i;
    }

    long value64(int i) {
        return d.getLong(valueOffset(i));
    }

    void setValue64(int i, long v) {
        d.putLong(valueOffset(i), v);
    }

    byte[] value(int i) {
        byte[] v = new byte[valueSize()];
        d.get(valueOffset(i), v);
        return v;
    }

    void setValue(int i, byte[] v) {
        d.put(valueOffset(i), v);
    }

    /** Largest i with key(i) <= key, or -1. */
    int lowerBound(long key) {
        int lo = 0;
        int hi = nr() - 1;
        int found = -1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (Long.compareUnsigned(key(mid), key) <= 0) {
                found = mid;
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        return found;
    }

    void insert(int i, long key, byte[] value) {
        int n = nr();
        shift(i, i + 1, n - i);
        setKey(i, key);
        setValue(i, value);
        setNr(n + 1);
    }

    void remove(int i) {
        remove(i, 1);
    }

    /** Removes {@code count} entries from position i. */
    void remove(int i, int count) {
        int n = nr();
        shift(i + count, i, n - i - count);
        setNr(n - count);
    }

    /** Moves entries within this node (overlap-safe); the value region scales with the value size. */
    private void shift(int from, int to, int count) {
        if (count <= 0) {
            return;
        }
        System.arraycopy(raw, HEADER + 8 * from, raw, HEADER + 8 * to, 8 * count);
        System.arraycopy(raw, valueOffset(from), raw, valueOffset(to), valueSize() * count);
    }

    /** Copies {@code count} entries from src[srcPos..] over dst[dstPos..] (different nodes, same value size). */
    static void copy(Node src, int srcPos, Node dst, int dstPos, int count) {
        System.arraycopy(src.raw, HEADER + 8 * srcPos, dst.raw, HEADER + 8 * dstPos, 8 * count);
        System.arraycopy(src.raw, src.valueOffset(srcPos), dst.raw, dst.valueOffset(dstPos), src.valueSize() * count);
    }

    /** Moves the last {@code count} entries of left to the front of right. */
    static void moveTailToFront(Node left, Node right, int count) {
        right.shift(0, count, right.nr());
        copy(left, left.nr() - count, right, 0, count);
        right.setNr(right.nr() + count);
        left.setNr(left.nr() - count);
    }

    /** Moves the first {@code count} entries of right to the end of left. */
    static void moveFrontToTail(Node left, Node right, int count) {
        copy(right, 0, left, left.nr(), count);
        left.setNr(left.nr() + count);
        right.shift(count, 0, right.nr() - count);
        right.setNr(right.nr() - count);
    }
}
