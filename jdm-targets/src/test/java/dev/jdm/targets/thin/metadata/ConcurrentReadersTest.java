package dev.jdm.targets.thin.metadata;

import dev.jdm.core.testing.MemoryDevice;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Lookups from several threads while one thread maps blocks and commits: every answer is absent or exact. */
class ConcurrentReadersTest {
    private static final int BLOCKS = 20_000;

    @Test
    void readersSeeNothingOrTheExactMapping() throws Exception {
        try (ThinMetadata md = ThinMetadata.format(new MemoryDevice(16L << 20), 128, 50_000, 16);
             ExecutorService pool = Executors.newFixedThreadPool(3)) {
            md.createThin(0);
            md.commit();
            AtomicBoolean done = new AtomicBoolean();
            List<Future<Long>> readers = new ArrayList<>();
            for (int r = 0; r < 2; r++) {
                readers.add(pool.submit(() -> {
                    long found = 0;
                    while (!done.get()) {
                        long v = ThreadLocalRandom.current().nextInt(BLOCKS);
                        ThinMetadata.Mapping m = md.lookup(0, v);
                        if (m != null) {
                            assertEquals(new ThinMetadata.Mapping(v, 0), m, "virtual block " + v);
                            found++;
                        }
                    }
                    return found;
                }));
            }
            for (long v = 0; v < BLOCKS; v++) {
                md.insert(0, v, md.allocateDataBlock()); // data block v: allocation runs in order from 0
                if (v % 5000 == 4999) {
                    md.commit();
                }
            }
            done.set(true);
            for (Future<Long> f : readers) {
                f.get();
            }
            assertEquals(BLOCKS, md.details(0).mappedBlocks());
        }
    }
}
