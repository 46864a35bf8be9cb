package dev.jdm.pdata;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** {@link BTree#removeRange} against a TreeMap: same contents, the node invariants, every released value heard of. */
class BTreeRangeRemovalTest {
    @Provide
    Arbitrary<List<Tuple.Tuple2<Integer, Integer>>> ranges() {
        // (start, length): mostly short ranges, some that span many leaves
        return Arbitraries.integers().between(0, 40_000).flatMap(start -> Arbitraries.frequencyOf(
                        Tuple.of(6, Arbitraries.integers().between(0, 300)),
                        Tuple.of(1, Arbitraries.integers().between(1000, 20_000)))
                .map(len -> Tuple.of(start, len))).list().ofMinSize(5).ofMaxSize(40);
    }

    @Property(tries = 10)
    void removesExactlyTheRange(@ForAll("ranges") List<Tuple.Tuple2<Integer, Integer>> ranges) throws IOException {
        TransactionManager tm = BTreePropertiesTest.memoryTm();
        List<Long> released = new ArrayList<>();
        BTree tree = new BTree(tm, new ValueType() {
            @Override
            public int size() {
                return 8;
            }

            @Override
            public void dec(byte[] value) {
                released.add(BTree.le64(value));
            }
        });
        TreeMap<Long, Long> model = new TreeMap<>();
        long root = tree.create();
        for (long k = 0; k < 45_000; k += 1 + k % 3) {
            root = tree.insert(root, k, BTree.le64(k * 10));
            model.put(k, k * 10);
        }
        for (var range : ranges) {
            long from = range.get1();
            long to = from + range.get2();
            List<Long> expected = new ArrayList<>();
            var inRange = model.subMap(from, to);
            inRange.values().forEach(expected::add);
            inRange.clear();
            released.clear();
            BTree.Removed removed = tree.removeRange(root, from, to);
            root = removed.root();
            assertEquals(expected.size(), removed.count(), "[" + from + ", " + to + ")");
            assertEquals(expected, released, "values released in key order");
        }
        BTreePropertiesTest.assertSameContents(tree, root, model);
        BTreePropertiesTest.assertInvariants(tm, tree, root);
        root = tree.removeRange(root, 0, -1L).root();
        BTreePropertiesTest.assertSameContents(tree, root, new TreeMap<>());
        assertEquals(1, tree.height(root));
        assertEquals(2, tm.metadataSpaceMap().nrAllocated(), "only the superblock and the empty root remain");
    }
}
