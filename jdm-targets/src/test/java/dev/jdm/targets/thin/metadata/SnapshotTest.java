package dev.jdm.targets.thin.metadata;

import dev.jdm.core.testing.MemoryDevice;
import dev.jdm.pdata.PdataTools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Snapshots share their origin's tree; later writes shadow only the paths they touch. */
class SnapshotTest {
    private static final int MAPPINGS = 60_000;

    @TempDir
    Path dir;

    @Test
    void snapshotSharesTheTreeAndWritesBreakSharingOnlyWhereTheyTouch() throws Exception {
        MemoryDevice disk = new MemoryDevice(32L << 20);
        try (ThinMetadata md = ThinMetadata.format(disk, 128, 200_000, 32)) {
            md.createThin(1);
            for (long v = 0; v < MAPPINGS; v++) {
                md.insert(1, v, md.allocateDataBlock());
            }
            md.commit();
            assertTrue(md.deviceTrees().height(md.deviceRoot(1)) == 3, "a three-level device tree");
            assertTrue(md.blockManager().cachedBlocks() <= 32, "memory is bounded by the cache, not the mappings");
            long metadataBefore = md.metadataSpaceMap().nrAllocated();
            int writesBefore = disk.writes();

            md.createSnapshot(2, 1);
            long root = md.deviceRoot(1);
            assertEquals(root, md.deviceRoot(2), "the snapshot is the origin's tree");
            assertEquals(2, md.metadataSpaceMap().count(root));
            assertEquals(new ThinMetadata.Details(MAPPINGS, 0, 1, 1), md.details(2));
            assertEquals(new ThinMetadata.Details(MAPPINGS, 0, 0, 1), md.details(1));
            md.commit();
            assertTrue(md.metadataSpaceMap().nrAllocated() - metadataBefore <= 4,
                    "a snapshot of " + MAPPINGS + " mappings costs a handful of blocks, not "
                            + (md.metadataSpaceMap().nrAllocated() - metadataBefore));
            assertTrue(disk.writes() - writesBefore <= 12, "and a handful of writes: " + (disk.writes() - writesBefore));

            // a write to the origin copies one path: the root, one internal node, one leaf
            long data = md.allocateDataBlock();
            md.insert(1, 12_345, data);
            assertNotEquals(root, md.deviceRoot(1));
            assertEquals(root, md.deviceRoot(2));
            assertEquals(1, md.metadataSpaceMap().count(root));
            assertEquals(new ThinMetadata.Mapping(data, 1), md.lookup(1, 12_345));
            assertEquals(new ThinMetadata.Mapping(12_345, 0), md.lookup(2, 12_345));
            assertTrue(md.remove(2, 7));
            assertNull(md.lookup(2, 7));
            assertEquals(new ThinMetadata.Mapping(7, 0), md.lookup(1, 7));
            md.commit();
            ThinView.assertDataRefcounts(md);
            assertEquals(1, md.dataSpaceMap().count(7), "block 7 left the snapshot's copy of its leaf");

            md.deleteDevice(1);
            md.commit();
            ThinView.assertDataRefcounts(md);
            assertEquals(0, md.dataSpaceMap().count(data), "the origin's own block is freed with it");
            assertEquals(0, md.dataSpaceMap().count(7));
            assertEquals(1, md.dataSpaceMap().count(8));
        }
        Path file = dir.resolve("meta");
        Files.write(file, disk.bytes());
        PdataTools.Result check = ThinTools.check(file);
        assertEquals(0, check.exit(), check.stderr());
        ThinTools.Dump dump = ThinTools.dump(file);
        TreeMap<Long, ThinMetadata.Mapping> expected = new TreeMap<>();
        for (long v = 0; v < MAPPINGS; v++) {
            if (v != 7) {
                expected.put(v, new ThinMetadata.Mapping(v, 0));
            }
        }
        assertEquals(expected, dump.devices().get(2L).mappings());
        assertEquals(1, dump.devices().size());
    }
}
