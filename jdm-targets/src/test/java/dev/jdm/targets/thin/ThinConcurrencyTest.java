package dev.jdm.targets.thin;

import dev.jdm.core.engine.MappedDevice;
import dev.jdm.core.testing.TestPattern;
import dev.jdm.pdata.PdataTools;
import dev.jdm.targets.thin.metadata.ThinMetadata;
import dev.jdm.targets.thin.metadata.ThinTools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static dev.jdm.core.testing.TestPattern.pattern;
import static dev.jdm.targets.thin.ThinFixture.BLOCK;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Threads writing, discarding and reading at once on an origin, its snapshot and a snapshot of that, so
 * sharing is broken from every side concurrently. Each thread owns every sixth virtual block, which keeps
 * its expected bytes exact; at the end every device reads as expected and thin_check finds the metadata
 * clean, with the pool's used count equal to the distinct data blocks thin_dump lists.
 */
class ThinConcurrencyTest {
    private static final int THREADS = 6;
    private static final int DEVICES = 3;
    private static final int BLOCKS = 48;

    @TempDir
    Path dir;

    @Test
    void concurrentIoOnSnapshotsStaysExactAndLeavesCleanMetadata() throws Exception {
        byte[][] expected = new byte[DEVICES][];
        try (ThinFixture f = new ThinFixture(dir, 512)) {
            f.createPool("pool", 0);
            f.message("pool", "create_thin", "0");
            MappedDevice origin = f.createThin("pool", "thin0", 0, BLOCKS * 128L);
            byte[] initial = TestPattern.pattern(BLOCKS * BLOCK, 99);
            ThinFixture.write(origin, 0, initial);
            f.message("pool", "create_snap", "1", "0");
            f.message("pool", "create_snap", "2", "1");
            MappedDevice[] devices = {origin, f.createThin("pool", "thin1", 1, BLOCKS * 128L),
                f.createThin("pool", "thin2", 2, BLOCKS * 128L)};
            for (int d = 0; d < DEVICES; d++) {
                expected[d] = initial.clone();
            }
            try (ExecutorService threads = Executors.newFixedThreadPool(THREADS)) {
                List<Future<?>> done = new ArrayList<>();
                for (int t = 0; t < THREADS; t++) {
                    int owner = t;
                    done.add(threads.submit(() -> {
                        work(owner, devices, expected);
                        return null;
                    }));
                }
                for (Future<?> d : done) {
                    d.get();
                }
            }
            for (int d = 0; d < DEVICES; d++) {
                devices[d].flush();
                assertArrayEquals(expected[d], ThinFixture.read(devices[d], 0, BLOCKS * BLOCK), "device " + d);
            }
            String used = f.status("pool").split(" ")[2];
            f.dm.removeAll(false);

            PdataTools.Result check = ThinTools.check(f.metadata);
            assertEquals(0, check.exit(), check.stderr());
            ThinTools.Dump dump = ThinTools.dump(f.metadata);
            Set<Long> dataBlocks = new HashSet<>();
            for (ThinTools.Device d : dump.devices().values()) {
                assertEquals(d.mappedBlocks(), d.mappings().size());
                d.mappings().values().stream().map(ThinMetadata.Mapping::dataBlock).forEach(dataBlocks::add);
            }
            assertEquals(dataBlocks.size() + "/512", used);
        }
    }

    private static void work(int owner, MappedDevice[] devices, byte[][] expected) throws Exception {
        SplittableRandom r = new SplittableRandom(owner);
        for (int i = 0; i < 150; i++) {
            int d = r.nextInt(DEVICES);
            int block = owner + THREADS * r.nextInt(BLOCKS / THREADS);
            long start = (long) block * BLOCK;
            switch (r.nextInt(5)) {
                case 0 -> {
                    devices[d].discard(start, BLOCK);
                    Arrays.fill(expected[d], block * BLOCK, (block + 1) * BLOCK, (byte) 0);
                }
                case 1 -> assertArrayEquals(Arrays.copyOfRange(expected[d], block * BLOCK, (block + 1) * BLOCK),
                        ThinFixture.read(devices[d], start, BLOCK), "device " + d + " block " + block);
                default -> {
                    int sectors = 1 + r.nextInt(128);
                    int at = r.nextInt(129 - sectors) * 512;
                    byte[] bytes = TestPattern.pattern(sectors * 512, r.nextLong());
                    devices[d].write(start + at, ByteBuffer.wrap(bytes), r.nextInt(10) == 0);
                    System.arraycopy(bytes, 0, expected[d], block * BLOCK + at, bytes.length);
                }
            }
        }
    }
}
