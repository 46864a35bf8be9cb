package dev.jdm.pdata;

import dev.jdm.core.testing.MemoryDevice;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The btree against a TreeMap model, with enough keys for several levels, splits, merges and rebalances. */
class BTreePropertiesTest {
    private static final long DEVICE_BLOCKS = 4096;

    /** A transaction manager over memory; block 0 is reserved as if it were a superblock. */
    static TransactionManager memoryTm() {
        BlockManager bm = new BlockManager(new MemoryDevice(DEVICE_BLOCKS * Block.SIZE), 64);
        SpaceMap sm = new SpaceMap(DEVICE_BLOCKS);
        sm.set(0, 1);
        return new TransactionManager(bm, sm);
    }

    @Provide
    Arbitrary<List<Tuple.Tuple2<Boolean, Integer>>> operations() {
        // keys from a range a few times the op count, so inserts overwrite and removes often hit
        return Arbitraries.integers().between(0, 30_000).flatMap(k -> Arbitraries.of(true, true, true, false)
                .map(insert -> Tuple.of(insert, k))).list().ofMinSize(3000).ofMaxSize(12_000);
    }

    @Property(tries = 12)
    void behavesLikeATreeMap(@ForAll("operations") List<Tuple.Tuple2<Boolean, Integer>> ops) throws IOException {
        TransactionManager tm = memoryTm();
        BTree tree = new BTree(tm, ValueType.LE64);
        long root = tree.create();
        TreeMap<Long, Long> model = new TreeMap<>();
        for (int i = 0; i < ops.size(); i++) {
            long key = ops.get(i).get2() * 7L;
            if (ops.get(i).get1()) {
                root = tree.insert(root, key, BTree.le64(i));
                model.put(key, (long) i);
            } else {
                root = tree.remove(root, key);
                model.remove(key);
            }
        }
        assertSameContents(tree, root, model);
        for (long probe = 0; probe < 30_000 * 7L; probe += 997) {
            byte[] v = tree.lookup(root, probe);
            Long expected = model.get(probe);
            if (expected == null) {
                assertNull(v, "key " + probe);
            } else {
                assertEquals(expected, BTree.le64(v), "key " + probe);
            }
        }
        assertInvariants(tm, tree, root);
        assertTrue(model.size() < 252 || tree.height(root) >= 2, "splits happened");
        // drain: removing everything merges the tree back to an empty root leaf
        for (long key : new ArrayList<>(model.keySet())) {
            root = tree.remove(root, key);
        }
        assertEquals(1, tree.height(root));
        assertSameContents(tree, root, new TreeMap<>());
        assertEquals(2, tm.metadataSpaceMap().nrAllocated(), "only the superblock and the empty root remain");
    }

    @net.jqwik.api.Example
    void threeLevelsGrowAndShrinkBack() throws IOException {
        TransactionManager tm = memoryTm();
        BTree tree = new BTree(tm, ValueType.LE64);
        long root = tree.create();
        TreeMap<Long, Long> model = new TreeMap<>();
        java.util.Random rnd = new java.util.Random(3);
        for (long k = 0; k < 80_000; k++) {
            long key = k * 2 + rnd.nextInt(2);
            root = tree.insert(root, key, BTree.le64(~key));
            model.put(key, ~key);
        }
        assertEquals(3, tree.height(root));
        assertInvariants(tm, tree, root);
        for (long k = 0; k < 80_000; k++) {
            if (rnd.nextInt(10) < 9) {
                root = tree.remove(root, k * 2);
                root = tree.remove(root, k * 2 + 1);
                model.remove(k * 2);
                model.remove(k * 2 + 1);
            }
        }
        assertEquals(2, tree.height(root));
        assertInvariants(tm, tree, root);
        assertSameContents(tree, root, model);
    }

    @Property(tries = 5)
    void rangeWalkVisitsExactlyTheKeysInRange(@ForAll("operations") List<Tuple.Tuple2<Boolean, Integer>> ops) throws IOException {
        TransactionManager tm = memoryTm();
        BTree tree = new BTree(tm, ValueType.LE64);
        long root = tree.create();
        TreeMap<Long, Long> model = new TreeMap<>();
        for (var op : ops) {
            root = tree.insert(root, op.get2(), BTree.le64(op.get2() + 1));
            model.put((long) op.get2(), op.get2() + 1L);
        }
        for (long from = 0; from < 30_000; from += 4321) {
            TreeMap<Long, Long> seen = new TreeMap<>();
            tree.walk(root, from, from + 2000, (k, v) -> seen.put(k, BTree.le64(v)));
            assertEquals(model.subMap(from, from + 2000), seen);
        }
    }

    @Property(tries = 4)
    void bulkBuiltTreesAreValidAndComplete(@ForAll("operations") List<Tuple.Tuple2<Boolean, Integer>> ops) throws IOException {
        TransactionManager tm = memoryTm();
        BTree tree = new BTree(tm, ValueType.LE64);
        TreeMap<Long, Long> model = new TreeMap<>();
        ops.forEach(op -> model.put(op.get2() * 3L, op.get2() * 5L));
        long[] keys = model.keySet().stream().mapToLong(Long::longValue).toArray();
        byte[][] values = model.values().stream().map(BTree::le64).toArray(byte[][]::new);
        long root = tree.build(keys, values);
        assertSameContents(tree, root, model);
        assertInvariants(tm, tree, root);
    }

    static void assertSameContents(BTree tree, long root, TreeMap<Long, Long> model) throws IOException {
        TreeMap<Long, Long> seen = new TreeMap<>();
        List<Long> order = new ArrayList<>();
        tree.walk(root, (k, v) -> {
            seen.put(k, BTree.le64(v));
            order.add(k);
        });
        assertEquals(model, seen);
        assertEquals(new ArrayList<>(model.keySet()), order, "walk order");
    }

    /** What thin_check demands: non-root nodes at least a third full, keys ordered and within the parent's bounds. */
    static void assertInvariants(TransactionManager tm, BTree tree, long root) throws IOException {
        Set<Long> nodes = new HashSet<>();
        check(tm, root, true, Long.MIN_VALUE, Long.MAX_VALUE, nodes);
        for (long n : nodes) {
            assertEquals(1, tm.refCount(n), "reference count of node " + n);
        }
        assertEquals(nodes.size() + 1, tm.metadataSpaceMap().nrAllocated(), "no leaked or lost blocks");
    }

    private static void check(TransactionManager tm, long location, boolean isRoot, long lo, long hi, Set<Long> nodes)
            throws IOException {
        assertTrue(nodes.add(location), "node " + location + " reached twice");
        Node n = new Node(tm.read(location, Node.BLOCK_TYPE));
        if (!isRoot) {
            assertTrue(n.nr() >= n.max() / 3, "node " + location + " has " + n.nr() + " entries");
        }
        for (int i = 0; i < n.nr(); i++) {
            long k = n.key(i);
            assertTrue(k >= lo && k < hi, "key " + k + " outside [" + lo + ", " + hi + ")");
            if (i > 0) {
                assertTrue(k > n.key(i - 1), "keys ordered in node " + location);
            }
            if (!n.isLeaf()) {
                check(tm, n.value64(i), false, k, i + 1 < n.nr() ? n.key(i + 1) : hi, nodes);
            }
        }
    }

    @Property(tries = 10)
    void spaceMapCountsSurviveTheDiskFormat(@ForAll("refcountOps") List<Tuple.Tuple2<Integer, Integer>> ops) throws IOException {
        TransactionManager tm = memoryTm();
        long nrBlocks = 40_000; // three bitmaps, the last one partial
        SpaceMap sm = new SpaceMap(nrBlocks);
        Map<Long, Integer> model = new TreeMap<>();
        for (var op : ops) {
            long b = op.get2() % nrBlocks;
            int c = model.getOrDefault(b, 0);
            switch (op.get1()) {
                case 0 -> {
                    long a = sm.allocate();
                    assertEquals(0, (int) model.getOrDefault(a, 0), "allocated block " + a + " was free");
                    model.put(a, 1);
                }
                case 1, 2 -> {
                    sm.inc(b);
                    model.put(b, c + 1);
                }
                default -> {
                    if (c > 0) {
                        assertEquals(c - 1, sm.dec(b));
                        model.put(b, c - 1);
                    }
                }
            }
        }
        byte[] root = sm.writeDisk(tm);
        SpaceMap reread = SpaceMap.readDisk(tm, java.nio.ByteBuffer.wrap(root).order(java.nio.ByteOrder.LITTLE_ENDIAN));
        long allocated = model.values().stream().filter(c -> c > 0).count();
        assertEquals(allocated, reread.nrAllocated());
        for (long b = 0; b < nrBlocks; b++) {
            assertEquals((int) model.getOrDefault(b, 0), reread.count(b), "block " + b);
        }
    }

    @Provide
    Arbitrary<List<Tuple.Tuple2<Integer, Integer>>> refcountOps() {
        return Arbitraries.integers().between(0, 4).flatMap(op -> Arbitraries.integers().between(0, 2_000)
                .map(b -> Tuple.of(op, b * 19))).list().ofMinSize(500).ofMaxSize(5000);
    }
}
