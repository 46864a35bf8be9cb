package dev.jdm.targets.thin.metadata;

import dev.jdm.core.io.FileBlockDevice;
import dev.jdm.pdata.Block;
import dev.jdm.pdata.PdataTools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Memory follows the cache and the transaction, not the pool: a 1 TiB pool of 64 KiB blocks (16M data
 * blocks, whose counts alone would take 64 MiB as one int each) with 400,000 mappings made over four commits.
 */
class ThinMetadataMemoryTest {
    private static final long DATA_BLOCKS = 1L << 24;
    private static final int CACHE_BLOCKS = 1024;
    private static final int PER_COMMIT = 100_000;
    private static final long BOUND = CACHE_BLOCKS * (long) Block.SIZE + (32L << 20);

    @TempDir
    Path dir;

    private static long heapAfterGc() {
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    @Test
    void heapStaysWithinTheCacheAndAConstantForATerabytePool() throws Exception {
        Path meta = ThinMetadataApiTest.sparseFile(dir.resolve("meta"), 256L << 20);
        long baseline = heapAfterGc();
        long peak = 0;
        try (var dev = FileBlockDevice.open(meta, FileBlockDevice.Options.READ_WRITE);
             var md = ThinMetadata.format(dev, 128, DATA_BLOCKS, CACHE_BLOCKS)) {
            md.createThin(0);
            md.createThin(1);
            for (int round = 0; round < 4; round++) {
                for (int i = 0; i < PER_COMMIT; i++) {
                    // two devices written in interleaved runs, as two busy thin volumes would be
                    long v = (long) round * PER_COMMIT / 2 + i / 2;
                    md.insert(i % 2, v, md.allocateDataBlock());
                }
                peak = Math.max(peak, heapAfterGc() - baseline); // the transaction's changes are held now
                md.commit();
                peak = Math.max(peak, heapAfterGc() - baseline);
            }
            assertEquals(4L * PER_COMMIT, md.dataSpaceMap().nrAllocated());
            assertTrue(md.blockManager().cachedBlocks() <= CACHE_BLOCKS);
        }
        System.out.printf("thin metadata heap: %.1f MiB above baseline at most (bound %.1f MiB)%n",
                peak / 1048576.0, BOUND / 1048576.0);
        assertTrue(peak < BOUND, "heap grew by " + peak + " bytes, bound " + BOUND);
        try (var dev = FileBlockDevice.open(meta, FileBlockDevice.Options.READ_ONLY);
             var md = ThinMetadata.open(dev, 64)) {
            assertEquals(4L * PER_COMMIT, md.dataSpaceMap().nrAllocated());
            assertEquals(2L * PER_COMMIT, md.details(1).mappedBlocks());
            assertEquals(new ThinMetadata.Mapping(2 * 123_456 + 1, 0), md.lookup(1, 123_456));
            assertEquals(1, md.dataSpaceMap().count(4L * PER_COMMIT - 1));
            assertEquals(0, md.dataSpaceMap().count(4L * PER_COMMIT));
            PdataTools.Result check = ThinTools.check(meta);
            assertEquals(0, check.exit(), "thin_check: " + check.stderr());
        }
    }
}
