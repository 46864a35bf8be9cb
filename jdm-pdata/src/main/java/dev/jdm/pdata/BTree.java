package dev.jdm.pdata;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalLong;

/**
 * A copy-on-write btree of u64 keys in the kernel's node format. Trees are named by their root block; every
 * update shadows the path it touches and returns the new root, so an old root still names the old tree until
 * its blocks are released. Splits keep both halves at least half full and removals merge or redistribute a
 * node that falls below a third, which is what thin_check demands of every non-root node.
 */
public final class BTree {
    /** Receives entries in key order. */
    @FunctionalInterface
    public interface Visitor {
        void entry(long key, byte[] value) throws IOException;
    }

    /** Receives each leaf once (a leaf shared by several parents is still one leaf). */
    @FunctionalInterface
    public interface LeafVisitor {
        void leaf(long location, long[] keys, byte[][] values) throws IOException;
    }

    private record Split(long rightKey, long rightLocation) {
    }

    /** The new root after an insert, and whether the key was new (rather than overwritten). */
    public record Inserted(long root, boolean added) {
    }

    private final TransactionManager tm;
    private final ValueType valueType;
    private final int maxLeaf;

    public BTree(TransactionManager tm, ValueType valueType) {
        this.tm = tm;
        this.valueType = valueType;
        this.maxLeaf = Node.maxEntries(valueType.size());
    }

    public ValueType valueType() {
        return valueType;
    }

    /** An empty tree: a single leaf root with no entries. */
    public long create() throws IOException {
        return Node.format(tm.newBlock(Node.BLOCK_TYPE), true, valueType.size()).block.location();
    }

    private Node read(long location) throws IOException {
        return new Node(tm.read(location, Node.BLOCK_TYPE)).checked(valueType.size());
    }

    public byte[] lookup(long root, long key) throws IOException {
        Node n = read(root);
        while (true) {
            int i = n.lowerBound(key);
            if (i < 0) {
                return null;
            }
            if (n.isLeaf()) {
                return n.key(i) == key ? n.value(i) : null;
            }
            n = read(n.value64(i));
        }
    }

    /** The smallest key >= {@code key} (unsigned), if any. */
    public OptionalLong ceilingKey(long root, long key) throws IOException {
        return ceiling(read(root), key);
    }

    private OptionalLong ceiling(Node n, long key) throws IOException {
        int i = n.lowerBound(key);
        if (n.isLeaf()) {
            int j = i >= 0 && n.key(i) == key ? i : i + 1;
            return j < n.nr() ? OptionalLong.of(n.key(j)) : OptionalLong.empty();
        }
        // the child holding keys <= key may have nothing >= key; its right neighbour's first key then is it
        for (int c = Math.max(0, i); c < n.nr(); c++) {
            OptionalLong found = ceiling(read(n.value64(c)), key);
            if (found.isPresent()) {
                return found;
            }
        }
        return OptionalLong.empty();
    }

    /** The largest key of the tree, empty when it holds none (dm_btree_find_highest_key). */
    public OptionalLong highestKey(long root) throws IOException {
        Node n = read(root);
        while (n.nr() > 0) {
            if (n.isLeaf()) {
                return OptionalLong.of(n.key(n.nr() - 1));
            }
            n = read(n.value64(n.nr() - 1));
        }
        return OptionalLong.empty();
    }

    /** Inserts or overwrites; an overwritten value that differs is released through the value type. */
    public long insert(long root, long key, byte[] value) throws IOException {
        return put(root, key, value).root();
    }

    /** {@link #insert}, also telling whether the key was new: one descent where lookup + insert take two. */
    public Inserted put(long root, long key, byte[] value) throws IOException {
        boolean[] added = new boolean[1];
        long newRoot = insert(root, key, value, true, added);
        return new Inserted(newRoot, added[0]);
    }

    /**
     * Points {@code key} at {@code value} without releasing the old value: for upper levels of multi-level
     * trees, where the old subtree root was already released when the subtree was shadowed.
     */
    public long replace(long root, long key, byte[] value) throws IOException {
        return insert(root, key, value, false, new boolean[1]);
    }

    private long insert(long root, long key, byte[] value, boolean releaseOld, boolean[] added) throws IOException {
        checkSize(value);
        Node top = shadow(root);
        Split split = insertInto(top, key, value, releaseOld, added);
        if (split == null) {
            return top.block.location();
        }
        Node newRoot = Node.format(tm.newBlock(Node.BLOCK_TYPE), false, 8);
        newRoot.insert(0, top.key(0), le64(top.block.location()));
        newRoot.insert(1, split.rightKey(), le64(split.rightLocation()));
        return newRoot.block.location();
    }

    private Split insertInto(Node n, long key, byte[] value, boolean releaseOld, boolean[] added) throws IOException {
        int i = n.lowerBound(key);
        if (n.isLeaf()) {
            if (i >= 0 && n.key(i) == key) {
                byte[] old = n.value(i);
                if (releaseOld && !Arrays.equals(old, value)) {
                    valueType.dec(old);
                }
                n.setValue(i, value);
                return null;
            }
            added[0] = true;
            return insertAt(n, i + 1, key, value);
        }
        if (i < 0) {
            i = 0;
            n.setKey(0, key); // the first key of an internal node is a lower bound, so it follows the new minimum
        }
        Node child = shadow(n.value64(i));
        n.setValue64(i, child.block.location());
        Split childSplit = insertInto(child, key, value, releaseOld, added);
        return childSplit == null ? null : insertAt(n, i + 1, childSplit.rightKey(), le64(childSplit.rightLocation()));
    }

    /** Inserts at position i, splitting a full node in two halves first. */
    private Split insertAt(Node n, int i, long key, byte[] value) throws IOException {
        if (n.nr() < n.max()) {
            n.insert(i, key, value);
            return null;
        }
        Node right = Node.format(tm.newBlock(Node.BLOCK_TYPE), n.isLeaf(), n.valueSize());
        int keep = n.nr() / 2;
        Node.copy(n, keep, right, 0, n.nr() - keep);
        right.setNr(n.nr() - keep);
        n.setNr(keep);
        if (i <= keep) {
            n.insert(i, key, value);
        } else {
            right.insert(i - keep, key, value);
        }
        return new Split(right.key(0), right.block.location());
    }

    /** Removes key if present (its value is released); returns the new root, or the same root if absent. */
    public long remove(long root, long key) throws IOException {
        if (lookup(root, key) == null) {
            return root;
        }
        return removeRun(root, key, key, new int[1]);
    }

    /** The new root after removing keys, and how many there were. */
    public record Removed(long root, long count) {
    }

    /**
     * Removes every key in [from, to) (unsigned; their values are released), a leaf's worth at a time: one
     * descent per leaf touched rather than one per key, which is what makes discarding a large range cheap.
     */
    public Removed removeRange(long root, long from, long to) throws IOException {
        long removed = 0;
        while (Long.compareUnsigned(from, to) < 0) {
            OptionalLong first = ceilingKey(root, from);
            if (first.isEmpty() || Long.compareUnsigned(first.getAsLong(), to) >= 0) {
                break;
            }
            int[] count = new int[1];
            root = removeRun(root, first.getAsLong(), to - 1, count);
            removed += count[0];
            from = first.getAsLong() + count[0]; // a lower bound of what is left: the run had count keys from first
        }
        return new Removed(root, removed);
    }

    /** Removes {@code first} (present) and the keys after it up to {@code last} that share its leaf. */
    private long removeRun(long root, long first, long last, int[] count) throws IOException {
        Node top = shadow(root);
        removeFrom(top, first, last, count);
        if (!top.isLeaf() && top.nr() == 1) {
            long only = top.value64(0);
            tm.dec(top.block.location()); // the root's single child becomes the root; its own count is unchanged
            return only;
        }
        return top.block.location();
    }

    private void removeFrom(Node n, long first, long last, int[] count) throws IOException {
        int i = n.lowerBound(first);
        if (n.isLeaf()) {
            int j = i;
            while (j < n.nr() && Long.compareUnsigned(n.key(j), last) <= 0) {
                valueType.dec(n.value(j));
                j++;
            }
            n.remove(i, j - i);
            count[0] = j - i;
            return;
        }
        Node child = shadow(n.value64(i));
        n.setValue64(i, child.block.location());
        removeFrom(child, first, last, count);
        if (child.nr() < child.max() / 3) {
            rebalance(n, i, child);
        }
    }

    /** Merges the underfull child at i with a neighbour, or shares entries evenly when both do not fit in one. */
    private void rebalance(Node parent, int i, Node child) throws IOException {
        if (parent.nr() < 2) {
            return;
        }
        int li = i + 1 < parent.nr() ? i : i - 1;
        Node left = li == i ? child : shadow(parent.value64(li));
        Node right = li == i ? shadow(parent.value64(li + 1)) : child;
        parent.setValue64(li, left.block.location());
        parent.setValue64(li + 1, right.block.location());
        int total = left.nr() + right.nr();
        if (total <= left.max()) {
            Node.moveFrontToTail(left, right, right.nr());
            parent.remove(li + 1);
            tm.dec(right.block.location()); // its entries now live in left, so their counts are unchanged
            return;
        }
        int wantLeft = total / 2;
        if (left.nr() > wantLeft) {
            Node.moveTailToFront(left, right, left.nr() - wantLeft);
        } else if (left.nr() < wantLeft) {
            Node.moveFrontToTail(left, right, wantLeft - left.nr());
        }
        parent.setKey(li + 1, right.key(0));
    }

    /** Shadows a node; a copy of a shared node takes its own reference to everything the node points at. */
    private Node shadow(long location) throws IOException {
        TransactionManager.Shadow s = tm.shadow(location, Node.BLOCK_TYPE);
        Node n = new Node(s.block()).checked(valueType.size());
        if (s.wasShared()) {
            for (int i = 0; i < n.nr(); i++) {
                if (n.isLeaf()) {
                    valueType.inc(n.value(i));
                } else {
                    tm.inc(n.value64(i));
                }
            }
        }
        return n;
    }

    /** Drops one reference to the tree; nodes (and values) whose last reference goes are released. */
    public void delete(long root) throws IOException {
        if (tm.refCount(root) > 1) {
            tm.dec(root);
            return;
        }
        Node n = read(root);
        for (int i = 0; i < n.nr(); i++) {
            if (n.isLeaf()) {
                valueType.dec(n.value(i));
            } else {
                delete(n.value64(i));
            }
        }
        tm.dec(root);
    }

    public void walk(long root, Visitor visitor) throws IOException {
        walk(root, 0, -1L, visitor);
    }

    /** Visits entries with from <= key < to (unsigned; to = -1 means no upper bound) in key order. */
    public void walk(long root, long from, long to, Visitor visitor) throws IOException {
        Node n = read(root);
        int start = Math.max(0, n.lowerBound(from));
        for (int i = start; i < n.nr(); i++) {
            long k = n.key(i);
            if (to != -1L && Long.compareUnsigned(k, to) >= 0) {
                return;
            }
            if (n.isLeaf()) {
                if (Long.compareUnsigned(k, from) >= 0) {
                    visitor.entry(k, n.value(i));
                }
            } else {
                walk(n.value64(i), from, to, visitor);
            }
        }
    }

    /** Visits every node location of the tree (each once per path, so shared subtrees repeat). */
    public void nodes(long root, java.util.function.LongConsumer sink) throws IOException {
        Node n = read(root);
        sink.accept(root);
        if (!n.isLeaf()) {
            for (int i = 0; i < n.nr(); i++) {
                nodes(n.value64(i), sink);
            }
        }
    }

    public void leaves(long root, LeafVisitor visitor) throws IOException {
        Node n = read(root);
        if (n.isLeaf()) {
            long[] keys = new long[n.nr()];
            byte[][] values = new byte[n.nr()][];
            for (int i = 0; i < n.nr(); i++) {
                keys[i] = n.key(i);
                values[i] = n.value(i);
            }
            visitor.leaf(root, keys, values);
            return;
        }
        for (int i = 0; i < n.nr(); i++) {
            leaves(n.value64(i), visitor);
        }
    }

    /** Depth of the tree (1 = the root is a leaf). */
    public int height(long root) throws IOException {
        int h = 1;
        Node n = read(root);
        while (!n.isLeaf()) {
            n = read(n.value64(0));
            h++;
        }
        return h;
    }

    /**
     * Builds a fresh tree from entries sorted by key, filling nodes evenly so none is under a third full (how
     * the space maps rewrite their small trees at commit, and how restore-style loaders build big ones).
     */
    public long build(long[] keys, byte[][] values) throws IOException {
        if (keys.length == 0) {
            return create();
        }
        List<long[]> level = new ArrayList<>(); // {firstKey, location}
        int max = maxLeaf;
        int count = keys.length;
        int nodes = (count + max - 1) / max;
        int pos = 0;
        for (int n = 0; n < nodes; n++) {
            int take = count / nodes + (n < count % nodes ? 1 : 0);
            Node leaf = Node.format(tm.newBlock(Node.BLOCK_TYPE), true, valueType.size());
            for (int j = 0; j < take; j++) {
                leaf.insert(j, keys[pos + j], values[pos + j]);
            }
            level.add(new long[] {keys[pos], leaf.block.location()});
            pos += take;
        }
        int internalMax = Node.maxEntries(8);
        while (level.size() > 1) {
            List<long[]> up = new ArrayList<>();
            int c = level.size();
            int parents = (c + internalMax - 1) / internalMax;
            int p = 0;
            for (int n = 0; n < parents; n++) {
                int take = c / parents + (n < c % parents ? 1 : 0);
                Node inner = Node.format(tm.newBlock(Node.BLOCK_TYPE), false, 8);
                for (int j = 0; j < take; j++) {
                    inner.insert(j, level.get(p + j)[0], le64(level.get(p + j)[1]));
                }
                up.add(new long[] {level.get(p)[0], inner.block.location()});
                p += take;
            }
            level = up;
        }
        return level.getFirst()[1];
    }

    private void checkSize(byte[] value) {
        if (value.length != valueType.size()) {
            throw new IllegalArgumentException("value of " + value.length + " bytes, tree holds " + valueType.size());
        }
    }

    public static byte[] le64(long v) {
        byte[] b = new byte[8];
        java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(v);
        return b;
    }

    public static long le64(byte[] b) {
        return java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
    }
}
