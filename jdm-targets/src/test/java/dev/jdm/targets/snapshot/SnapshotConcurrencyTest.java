package dev.jdm.targets.snapshot;

import dev.jdm.core.engine.MappedDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static dev.jdm.targets.snapshot.SnapshotFixture.filled;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * Many threads write the origin (a few hot chunks and the rest at random, writes crossing chunks) while others
 * read the snapshots: every snapshot read returns exactly the bytes of snapshot time, never a torn mix, and each
 * snapshot holds exactly one exception per chunk the origin wrote.
 */
class SnapshotConcurrencyTest {
    private static final long ORIGIN_SECTORS = 4096;
    private static final int CHUNK = 8 * 512;
    private static final int CHUNKS = (int) (ORIGIN_SECTORS * 512 / CHUNK);

    @TempDir
    Path dir;

    @Test
    void snapshotReadsNeverSeeAnOriginWrite() throws Exception {
        try (SnapshotFixture f = new SnapshotFixture(dir, ORIGIN_SECTORS)) {
            for (int chunk = 0; chunk < CHUNKS; chunk++) {
                f.write("base", (long) chunk * CHUNK, filled(CHUNK, chunk));
            }
            f.snapshot("p8", 8192, "P 8");
            f.snapshot("n16", 8192, "N 16");
            MappedDevice base = f.dm.device("base");
            List<MappedDevice> snaps = List.of(f.dm.device("p8"), f.dm.device("n16"));

            int writers = 6;
            int readers = 6;
            CountDownLatch start = new CountDownLatch(1);
            AtomicInteger writersLeft = new AtomicInteger(writers);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            boolean[] written = new boolean[CHUNKS];
            List<Thread> threads = new ArrayList<>();
            for (int w = 0; w < writers; w++) {
                long seed = w;
                threads.add(Thread.ofPlatform().start(() -> run(failure, () -> {
                    start.await();
                    SplittableRandom r = new SplittableRandom(seed);
                    for (int i = 0; i < 300; i++) {
                        int chunk = r.nextInt(4) == 0 ? r.nextInt(3) : r.nextInt(CHUNKS - 1);
                        int offset = chunk * CHUNK + r.nextInt(CHUNK / 512) * 512;
                        int length = (1 + r.nextInt(CHUNK / 512)) * 512;
                        synchronized (written) {
                            for (int c = offset / CHUNK; c <= (offset + length - 1) / CHUNK; c++) {
                                written[c] = true;
                            }
                        }
                        base.write(offset, ByteBuffer.wrap(filled(length, 0x80 | (int) seed)), false);
                    }
                    writersLeft.decrementAndGet();
                })));
            }
            for (int rd = 0; rd < readers; rd++) {
                long seed = 100 + rd;
                threads.add(Thread.ofPlatform().start(() -> run(failure, () -> {
                    start.await();
                    SplittableRandom r = new SplittableRandom(seed);
                    while (writersLeft.get() > 0) {
                        MappedDevice snap = snaps.get(r.nextInt(snaps.size()));
                        int chunk = r.nextInt(CHUNKS);
                        ByteBuffer b = ByteBuffer.allocate(CHUNK);
                        snap.read((long) chunk * CHUNK, b);
                        assertArrayEquals(filled(CHUNK, chunk), b.array(), "chunk " + chunk);
                    }
                })));
            }
            start.countDown();
            for (Thread t : threads) {
                t.join();
            }
            assertNull(failure.get());
            for (MappedDevice snap : snaps) {
                for (int chunk = 0; chunk < CHUNKS; chunk++) {
                    ByteBuffer b = ByteBuffer.allocate(CHUNK);
                    snap.read((long) chunk * CHUNK, b);
                    assertArrayEquals(filled(CHUNK, chunk), b.array(), "chunk " + chunk);
                }
            }
            int p8Chunks = 0;
            int n16Chunks = 0;
            for (int c = 0; c < CHUNKS; c++) {
                p8Chunks += written[c] ? 1 : 0;
                n16Chunks += (c % 2 == 0) && (written[c] || written[c + 1]) ? 1 : 0;
            }
            // Header and first area, one chunk per written chunk (none copied twice), and an area per 256 exceptions
            // (4 KiB of 16-byte entries), which allocation skips.
            int areas = p8Chunks / 256;
            assertEquals((2 + p8Chunks + areas) * 8 + "/8192 " + (areas + 2) * 8, f.status("p8"));
            assertEquals(n16Chunks * 16 + "/8192 0", f.status("n16"));
        }
    }

    private interface Body {
        void run() throws Exception;
    }

    private static void run(AtomicReference<Throwable> failure, Body body) {
        try {
            body.run();
        } catch (Throwable t) {
            failure.compareAndSet(null, t);
        }
    }
}
