package dev.jdm.targets.thin.metadata;

import dev.jdm.core.testing.MemoryDevice;
import dev.jdm.core.Errno;
import dev.jdm.core.io.FileBlockDevice;
import dev.jdm.pdata.Block;
import dev.jdm.pdata.MetadataException;
import dev.jdm.pdata.PdataTools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the thin-pool target needs beyond map/unmap: abort, needs_check, resize, range removal, ENOSPC. */
class ThinMetadataApiTest {
    @TempDir
    Path dir;

    private Path sparse(String name, long bytes) throws Exception {
        return sparseFile(dir.resolve(name), bytes);
    }

    /** A sparse file of {@code bytes} (grown or created). */
    static Path sparseFile(Path p, long bytes) throws Exception {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            ch.truncate(bytes);
            ch.position(bytes - 1).write(java.nio.ByteBuffer.wrap(new byte[1]));
        }
        return p;
    }

    private static void assertToolsAgree(Path meta, ThinMetadata md) throws Exception {
        PdataTools.Result check = ThinTools.check(meta);
        assertEquals(0, check.exit(), "thin_check: " + check.stderr());
        assertEquals(ThinTools.dump(meta), ThinView.of(md));
        ThinView.assertDataRefcounts(md);
    }

    @Test
    void abortReturnsToExactlyTheLastCommit() throws Exception {
        Path meta = sparse("abort", 16L << 20);
        try (var dev = FileBlockDevice.open(meta, FileBlockDevice.Options.READ_WRITE);
             var md = ThinMetadata.format(dev, 128, 100_000, 64)) {
            ThinToolsConformanceTest.randomOperations(md, new Random(1), 1500);
            md.setTransactionId(0, 5);
            md.commit();
            ThinTools.Dump committed = ThinView.of(md);
            long metadataAllocated = md.metadataSpaceMap().nrAllocated();
            long dataAllocated = md.dataSpaceMap().nrAllocated();

            ThinToolsConformanceTest.randomOperations(md, new Random(2), 1500);
            md.createThin(4000);
            md.insert(4000, 9, md.allocateDataBlock());
            md.setTransactionId(5, 6);
            md.resizeData(150_000);
            md.abort();

            assertEquals(committed, ThinView.of(md));
            assertEquals(5, md.transactionId());
            assertEquals(100_000, md.nrDataBlocks());
            assertEquals(metadataAllocated, md.metadataSpaceMap().nrAllocated());
            assertEquals(dataAllocated, md.dataSpaceMap().nrAllocated());
            ThinView.assertDataRefcounts(md);
            assertToolsAgree(meta, md);

            // the pool goes on from the committed state
            ThinToolsConformanceTest.randomOperations(md, new Random(3), 1500);
            md.commit();
            assertToolsAgree(meta, md);
        }
    }

    @Test
    void lookupsSeeEveryChangeAndAbort() throws Exception {
        try (var md = ThinMetadata.format(new MemoryDevice(4L << 20), 128, 1000, 32)) {
            md.createThin(1);
            md.insert(1, 5, md.allocateDataBlock());
            assertEquals(new ThinMetadata.Mapping(0, 0), md.lookup(1, 5));
            md.commit();
            md.createSnapshot(2, 1);
            assertEquals(new ThinMetadata.Mapping(0, 0), md.lookup(2, 5));
            md.insert(1, 5, md.allocateDataBlock());
            assertEquals(new ThinMetadata.Mapping(1, 1), md.lookup(1, 5), "the origin's own copy now");
            assertEquals(new ThinMetadata.Mapping(0, 0), md.lookup(2, 5));
            md.deleteDevice(2);
            assertEquals(Errno.ENOENT, assertThrows(MetadataException.class, () -> md.lookup(2, 5)).errno());
            md.abort();
            assertEquals(new ThinMetadata.Mapping(0, 0), md.lookup(1, 5));
            assertEquals(Errno.ENOENT, assertThrows(MetadataException.class, () -> md.lookup(2, 5)).errno());
            assertTrue(md.removeRange(1, 0, 10, b -> { }) == 1);
            assertNull(md.lookup(1, 5));
        }
    }

    /**
     * Runs of inserts keep their device's root without the top-level tree (see ThinMetadata's hot device):
     * lookups of every device, with inserts hopping between devices and a snapshot between them, see each
     * change, and thin_dump agrees after the commit.
     */
    @Test
    void interleavedInsertsIntoSeveralDevicesStayVisibleToLookups() throws Exception {
        Path meta = sparse("interleaved", 16L << 20);
        try (var dev = FileBlockDevice.open(meta, FileBlockDevice.Options.READ_WRITE);
             var md = ThinMetadata.format(dev, 128, 100_000, 16)) {
            md.createThin(1);
            md.createThin(2);
            java.util.Map<Long, java.util.Map<Long, Long>> model = new java.util.TreeMap<>();
            Random rnd = new Random(11);
            for (int i = 0; i < 3000; i++) {
                long id = i == 1500 ? 3 : 1 + rnd.nextInt(i > 1500 ? 3 : 2);
                if (i == 1500) {
                    md.createSnapshot(3, 1);
                    model.put(3L, new java.util.TreeMap<>(model.get(1L)));
                }
                long vblock = rnd.nextInt(1 << 16);
                long block = md.allocateDataBlock();
                md.insert(id, vblock, block);
                model.computeIfAbsent(id, k -> new java.util.TreeMap<>()).put(vblock, block);
                for (long other = 1; other <= (i >= 1500 ? 3 : 2); other++) {
                    var mine = model.getOrDefault(other, java.util.Map.of());
                    long probe = mine.isEmpty() ? 0 : mine.keySet().stream().skip(rnd.nextInt(mine.size())).findFirst().orElseThrow();
                    ThinMetadata.Mapping m = md.lookup(other, probe);
                    assertEquals(mine.get(probe), m == null ? null : m.dataBlock(), "device " + other + " block " + probe + " after insert " + i);
                }
            }
            md.commit();
            assertToolsAgree(meta, md);
            for (long id = 1; id <= 3; id++) {
                assertEquals(model.get(id).size(), md.details(id).mappedBlocks());
            }
        }
    }

    @Test
    void needsCheckIsWrittenAtOnceWithoutCommittingPendingChanges() throws Exception {
        MemoryDevice disk = new MemoryDevice(4L << 20);
        try (var md = ThinMetadata.format(disk, 128, 1000, 32)) {
            md.createThin(1);
            md.commit();
            md.insert(1, 3, md.allocateDataBlock());
            assertFalse(md.needsCheck());
            md.setNeedsCheck();
            assertTrue(md.needsCheck());
            assertEquals(ThinMetadata.NEEDS_CHECK, disk.bytes()[4]);
            try (var reopened = ThinMetadata.open(disk, 32)) {
                assertTrue(reopened.needsCheck());
                assertNull(reopened.lookup(1, 3), "the pending insert was not committed");
            }
            md.commit();
        }
        try (var reopened = ThinMetadata.open(disk, 32)) {
            assertTrue(reopened.needsCheck(), "a later commit keeps the flag");
            assertEquals(new ThinMetadata.Mapping(0, 0), reopened.lookup(1, 3));
        }
    }

    @Test
    void needsCheckAfterAFailedCommitKeepsThePreviousTransaction() throws Exception {
        MemoryDevice disk = new MemoryDevice(4L << 20);
        try (var md = ThinMetadata.format(disk, 128, 1000, 32)) {
            md.createThin(1);
            md.insert(1, 1, md.allocateDataBlock());
            md.commit();
            md.insert(1, 2, md.allocateDataBlock());
            disk.failNextFlush("flush failed");
            assertEquals("flush failed", assertThrows(java.io.IOException.class, md::commit).getMessage());
            md.setNeedsCheck(); // what a pool does when a commit fails (it may abort first, or not)
        }
        try (var md = ThinMetadata.open(disk, 32)) {
            assertTrue(md.needsCheck());
            assertEquals(new ThinMetadata.Mapping(0, 0), md.lookup(1, 1));
            assertNull(md.lookup(1, 2), "the failed commit was not published by the flag's write");
            ThinView.assertDataRefcounts(md);
        }
    }

    @Test
    void dataSpaceRunsOutThenGrows() throws Exception {
        Path meta = sparse("data", 8L << 20);
        try (var dev = FileBlockDevice.open(meta, FileBlockDevice.Options.READ_WRITE);
             var md = ThinMetadata.format(dev, 128, 1000, 64)) {
            md.createThin(0);
            for (long v = 0; v < 1000; v++) {
                md.insert(0, v, md.allocateDataBlock());
            }
            OutOfDataSpaceException full = assertThrows(OutOfDataSpaceException.class, md::allocateDataBlock);
            assertEquals(Errno.ENOSPC, full.errno());
            MetadataException shrink = assertThrows(MetadataException.class, () -> md.resizeData(999));
            assertEquals(Errno.EINVAL, shrink.errno());
            assertEquals("cannot reduce size of space map", shrink.getMessage());
            md.resizeData(1000);

            md.resizeData(40_000); // past the first bitmap's 16,320 blocks
            assertEquals(40_000, md.nrDataBlocks());
            for (long v = 1000; v < 1100; v++) {
                md.insert(0, v, md.allocateDataBlock());
            }
            md.insert(0, 5000, 39_999);
            md.dataSpaceMap().inc(39_999);
            md.commit();
            assertEquals(40_000, ThinTools.dump(meta).nrDataBlocks());
            assertToolsAgree(meta, md);
        }
        try (var dev = FileBlockDevice.open(meta, FileBlockDevice.Options.READ_ONLY);
             var md = ThinMetadata.open(dev, 64)) {
            assertEquals(40_000, md.nrDataBlocks());
            assertEquals(1101, md.dataSpaceMap().nrAllocated());
        }
    }

    @Test
    void metadataDeviceGrows() throws Exception {
        Path meta = sparse("grow", 4L << 20);
        try (var dev = FileBlockDevice.open(meta, FileBlockDevice.Options.READ_WRITE);
             var md = ThinMetadata.format(dev, 128, 10_000, 64)) {
            md.createThin(0);
            md.commit();
            MetadataException beyond = assertThrows(MetadataException.class, () -> md.resizeMetadata(2000));
            assertEquals(Errno.EINVAL, beyond.errno());
            assertEquals("cannot reduce size of space map",
                    assertThrows(MetadataException.class, () -> md.resizeMetadata(100)).getMessage());

            sparse("grow", 80L << 20);
            md.resizeMetadata(20_480); // a second bitmap
            ThinToolsConformanceTest.randomOperations(md, new Random(4), 1000);
            md.commit();
            assertToolsAgree(meta, md);
        }
        try (var dev = FileBlockDevice.open(meta, FileBlockDevice.Options.READ_ONLY);
             var md = ThinMetadata.open(dev, 64)) {
            assertEquals(20_480, md.metadataSpaceMap().nrBlocks());
        }
    }

    @Test
    void removeRangeReportsOnlyBlocksNothingElseReferences() throws Exception {
        Path meta = sparse("range", 8L << 20);
        try (var dev = FileBlockDevice.open(meta, FileBlockDevice.Options.READ_WRITE);
             var md = ThinMetadata.format(dev, 128, 10_000, 64)) {
            md.createThin(1);
            assertEquals(-1, md.highestMappedBlock(1));
            for (long v = 0; v < 1000; v++) {
                md.insert(1, 2 * v, md.allocateDataBlock());
            }
            assertEquals(1998, md.highestMappedBlock(1));
            md.createSnapshot(2, 1);
            List<Long> freed = new ArrayList<>();

            assertEquals(100, md.removeRange(1, 200, 400, freed::add));
            assertEquals(List.of(), freed, "the snapshot still maps them");
            assertEquals(900, md.details(1).mappedBlocks());

            assertEquals(150, md.removeRange(2, 101, 401, freed::add));
            List<Long> expected = new ArrayList<>();
            for (long v = 200; v < 400; v += 2) {
                expected.add(v / 2); // data block of virtual block v
            }
            assertEquals(expected, freed, "blocks neither device maps any more, in order");
            assertEquals(850, md.details(2).mappedBlocks());
            assertNull(md.lookup(2, 102));
            assertEquals(new ThinMetadata.Mapping(50, 0), md.lookup(2, 100));
            assertEquals(new ThinMetadata.Mapping(201, 0), md.lookup(2, 402));

            assertEquals(0, md.removeRange(1, 200, 400, freed::add));
            assertEquals(100, md.removeRange(1, 1800, Long.MAX_VALUE, b -> { }));
            assertEquals(1798, md.highestMappedBlock(1));
            md.commit();
            assertToolsAgree(meta, md);
            assertEquals(0, md.dataSpaceMap().count(100));
        }
    }

    @Test
    void fullMetadataFailsWithEnospcAndAbortKeepsTheLastCommit() throws Exception {
        Path meta = dir.resolve("tiny");
        MemoryDevice disk = new MemoryDevice(64 * Block.SIZE);
        try (var md = ThinMetadata.format(disk, 128, 100_000, 16)) {
            md.createThin(0);
            md.commit();
            assertEquals(6, md.metadataReserve(), "a tenth of 64 blocks");
            assertEquals(md.metadataSpaceMap().nrFree() - 6, md.freeMetadataBlocks(), "nothing allocated since the commit");
            assertFalse(md.metadataLowWater(), md.metadataSpaceMap().nrFree() + " free, threshold 16");
            Random rnd = new Random(5);
            ThinTools.Dump committed = ThinView.of(md);
            MetadataException full = null;
            int lowWaterAt = 0;
            int insertsDone = 0;
            for (int i = 0; i < 100_000 && full == null; i++) {
                try {
                    md.insert(0, rnd.nextInt(1 << 30), md.allocateDataBlock());
                    insertsDone = i;
                    if (lowWaterAt == 0 && md.metadataLowWater()) {
                        lowWaterAt = i;
                        assertEquals(Math.max(0, md.metadataSpaceMap().nrFreeAtCommitLessAllocated() - 6),
                                md.freeMetadataBlocks());
                    }
                    if (i % 500 == 499) {
                        md.commit();
                        committed = ThinView.of(md);
                    }
                } catch (MetadataException e) {
                    full = e;
                }
            }
            assertTrue(full != null, "64 metadata blocks filled up");
            assertTrue(lowWaterAt > 0 && lowWaterAt < insertsDone, "low water at insert " + lowWaterAt
                    + ", before the metadata ran out at insert " + insertsDone);
            assertFalse(full instanceof OutOfDataSpaceException);
            assertEquals(Errno.ENOSPC, full.errno());
            assertTrue(full.getMessage().startsWith("out of metadata space (64 blocks): "), full.getMessage());
            assertTrue(committed.devices().get(0L).mappedBlocks() >= 500);

            md.abort();
            assertEquals(committed, ThinView.of(md));
            ThinView.assertDataRefcounts(md);
            Files.write(meta, disk.bytes());
            assertEquals(0, ThinTools.check(meta).exit());
            assertEquals(committed, ThinTools.dump(meta));

            long removed = md.removeRange(0, 0, 1L << 29, b -> { });
            assertTrue(removed > 0);
            md.commit();
            Files.write(meta, disk.bytes());
            assertToolsAgree(meta, md);
        }
        try (var md = ThinMetadata.open(disk, 16)) {
            assertEquals(0, md.lookup(0, 0) == null ? 0 : 1, "nothing below 2^29 is mapped any more");
            ThinView.assertDataRefcounts(md);
        }
    }
}
