package dev.jdm.targets.multipath;

import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.FileBlockDevice;
import dev.jdm.core.spi.BackingProvider;
import dev.jdm.core.testing.ForwardingDevice;
import dev.jdm.core.testing.TestFiles;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The selectors measured on paths of different speed: two paths to one file, {@code test://fast} and
 * {@code test://slow} (2 ms more per I/O), each counting the reads it serves, under concurrent reads through
 * the multipath device. Round-robin takes its turns exactly, whatever the speed; queue-length, service-time and
 * historical-service-time send most of the I/O to the fast path.
 */
class SelectorBehaviourTest {
    private static final int SECTORS = 2048;
    private static final int THREADS = 8;
    private static final int READS_PER_THREAD = 100;

    @TempDir
    Path dir;
    private final DeviceMapper dm = DeviceMapper.create();
    private final Map<String, AtomicLong> served = new ConcurrentHashMap<>();
    private final List<String> order = java.util.Collections.synchronizedList(new ArrayList<>());
    private FileBlockDevice storage;

    /** A path to the shared file that counts its reads and, when slow, takes 2 ms more for each. */
    private final class CountingPath extends ForwardingDevice {
        private final String name;
        private final boolean slow;

        CountingPath(String name, boolean slow) {
            super(storage);
            this.name = name;
            this.slow = slow;
        }

        @Override
        public String id() {
            return "test://" + name;
        }

        @Override
        public void read(long offset, ByteBuffer dst) throws IOException {
            served.computeIfAbsent(name, n -> new AtomicLong()).incrementAndGet();
            order.add(name);
            if (slow) {
                try {
                    Thread.sleep(2);
                } catch (InterruptedException e) {
                    throw new IOException(e);
                }
            }
            super.read(offset, dst);
        }

        @Override
        public void close() {
            // The shared file is closed by the test.
        }
    }

    @BeforeEach
    void paths() throws Exception {
        storage = FileBlockDevice.open(TestFiles.sparse(dir, "storage.img", SECTORS * 512L), new FileBlockDevice.Options(false, false));
        dm.addBackingProvider(new BackingProvider() {
            @Override
            public boolean accepts(String spec) {
                return spec.startsWith("test://");
            }

            @Override
            public BlockDevice open(String spec, boolean readOnly) {
                String name = spec.substring("test://".length());
                return new CountingPath(name, name.equals("slow"));
            }
        });
    }

    @AfterEach
    void close() throws IOException {
        dm.close();
        storage.close();
    }

    /** Reads from {@code threads} threads through a multipath device over both paths; the reads each path served. */
    private Map<String, Long> readThrough(String selector, int threads) throws Exception {
        dm.create("mp", null, "0 " + SECTORS + " multipath 0 0 1 1 " + selector + " 2 1 test://fast 1 test://slow 1", false);
        MappedDevice mp = dm.device("mp");
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> readers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int seed = t;
                readers.add(pool.submit(() -> {
                    ByteBuffer dst = ByteBuffer.allocate(4096);
                    for (int i = 0; i < READS_PER_THREAD; i++) {
                        mp.read((long) ((seed * 31 + i) % (SECTORS / 8)) * 4096, dst.clear());
                    }
                    return null;
                }));
            }
            for (Future<?> f : readers) {
                f.get();
            }
        }
        return Map.of("fast", count("fast"), "slow", count("slow"));
    }

    private long count(String path) {
        AtomicLong n = served.get(path);
        return n == null ? 0 : n.get();
    }

    @Test
    void roundRobinAlternatesExactlyWhateverThePathsSpeed() throws Exception {
        Map<String, Long> n = readThrough("round-robin 0", 1);
        assertEquals(Map.of("fast", 50L, "slow", 50L), n);
        for (int i = 1; i < order.size(); i++) {
            assertTrue(!order.get(i).equals(order.get(i - 1)), "read " + i + " went down the same path as the one before: " + order);
        }
    }

    @Test
    void roundRobinSplitsConcurrentReadsEvenly() throws Exception {
        Map<String, Long> n = readThrough("round-robin 0", THREADS);
        assertEquals(Map.of("fast", THREADS * READS_PER_THREAD / 2L, "slow", THREADS * READS_PER_THREAD / 2L), n);
    }

    @Test
    void queueLengthSendsMostReadsToTheFasterPath() throws Exception {
        assertMostlyFast(readThrough("queue-length 0", THREADS));
    }

    @Test
    void serviceTimeSendsMostReadsToTheFasterPath() throws Exception {
        assertMostlyFast(readThrough("service-time 0", THREADS));
    }

    @Test
    void historicalServiceTimeSendsMostReadsToTheFasterPath() throws Exception {
        assertMostlyFast(readThrough("historical-service-time 0", THREADS));
    }

    /** At least four times as many reads on the fast path: with 8 readers the slow one has about one in flight at a time. */
    private static void assertMostlyFast(Map<String, Long> n) {
        assertEquals(THREADS * READS_PER_THREAD, n.get("fast") + n.get("slow"));
        assertTrue(n.get("fast") >= 4 * n.get("slow"), "fast/slow = " + n);
    }
}
