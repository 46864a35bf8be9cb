package dev.jdm.targets;

import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.RemapTarget;
import dev.jdm.core.spi.Target;
import dev.jdm.core.spi.TargetContext;
import dev.jdm.core.spi.TargetException;
import dev.jdm.core.spi.TargetType;
import dev.jdm.core.testing.TestFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Tables swapped again and again while writers run: a striped table, and the same placement spelled
 * out as one {@code recording} line per chunk. Writers check each write reads back whole; the
 * recording targets report any I/O that reaches them once their table was suspended or closed.
 */
class SuspendUnderLoadTest {
    private static final int CHUNK_SECTORS = 16;
    private static final int CHUNK = CHUNK_SECTORS * 512;
    private static final int STRIPES = 2;
    private static final int CHUNKS = 64;
    private static final long SIZE = (long) CHUNKS * CHUNK;
    private static final int BLOCK = 12 * 1024;
    private static final int WRITERS = 8;
    private static final int SWAPS = 100;

    @TempDir
    Path dir;

    /** I/O that reached a retired table, described for the failure message. */
    private final ConcurrentLinkedQueue<String> lateIo = new ConcurrentLinkedQueue<>();
    private final AtomicInteger closedTargets = new AtomicInteger();

    /** {@code recording <dev> <offset>}: linear, but it records I/O arriving after postsuspend or close. */
    private final class RecordingType implements TargetType {
        @Override
        public String name() {
            return "recording";
        }

        @Override
        public Version version() {
            return new Version(0, 0, 1);
        }

        @Override
        public Target construct(TargetContext ctx, Args args) throws TargetException {
            args.requireCount(2, "<dev> <offset>");
            long offset = args.u64(1, "device sector");
            return new Recording(ctx.device(args, 0, offset, ctx.length()), offset << 9, ctx.begin());
        }
    }

    private final class Recording extends RemapTarget {
        private final BlockDevice device;
        private final long offset;
        private final long begin;
        private volatile String retired;

        Recording(BlockDevice device, long offset, long begin) {
            this.device = device;
            this.offset = offset;
            this.begin = begin;
        }

        private void check(String op) {
            String why = retired;
            if (why != null) {
                lateIo.add(op + " at target sector " + begin + " after " + why);
            }
        }

        @Override
        protected Remap map(long at, long length) {
            return new Remap(device, offset + at, length);
        }

        @Override
        public void read(long at, ByteBuffer dst) throws IOException {
            check("read");
            super.read(at, dst);
        }

        @Override
        public void write(long at, ByteBuffer src, boolean fua) throws IOException {
            check("write");
            super.write(at, src, fua);
        }

        @Override
        public void postsuspend() {
            retired = "postsuspend";
        }

        @Override
        public void resume() {
            retired = null;
        }

        @Override
        public void close() {
            retired = "close";
            closedTargets.incrementAndGet();
        }

        @Override
        public String table() {
            return device.id() + " " + (offset >> 9);
        }

        @Override
        public List<BlockDevice> devices() {
            return List.of(device);
        }
    }

    private static String stripedTable(List<Path> files) {
        return "0 " + SIZE / 512 + " striped " + STRIPES + " " + CHUNK_SECTORS + " " + files.get(0) + " 0 " + files.get(1) + " 0";
    }

    /** The striped placement as one recording line per chunk. */
    private static String chunkwiseTable(List<Path> files) {
        StringBuilder sb = new StringBuilder();
        for (int c = 0; c < CHUNKS; c++) {
            sb.append((long) c * CHUNK_SECTORS).append(' ').append(CHUNK_SECTORS).append(" recording ")
                    .append(files.get(c % STRIPES)).append(' ').append((long) (c / STRIPES) * CHUNK_SECTORS).append('\n');
        }
        return sb.toString();
    }

    /** A block filled with one stamp, so a torn write or read shows as mixed stamps. */
    private static byte[] stamped(int writer, int sequence) {
        byte[] b = new byte[BLOCK];
        ByteBuffer w = ByteBuffer.wrap(b);
        while (w.hasRemaining()) {
            w.putShort((short) writer).putShort((short) sequence);
        }
        return b;
    }

    @Test
    void swappingTablesUnderLoadLosesAndTearsNothingAndRetiredTablesSeeNoIo() throws Exception {
        List<Path> files = List.of(TestFiles.sparse(dir, "s0.img", SIZE / STRIPES), TestFiles.sparse(dir, "s1.img", SIZE / STRIPES));
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.targetTypes().register(new RecordingType());
            dm.create("live", null, chunkwiseTable(files), false);
            MappedDevice md = dm.device("live");

            // Blocks start 4 KiB into a chunk and are 12 KiB long, so every block crosses a boundary.
            int blocks = (int) ((SIZE - 4096) / BLOCK);
            AtomicBoolean swapping = new AtomicBoolean(true);
            int[][] lastWritten = new int[blocks][];
            List<Future<Integer>> writers = new ArrayList<>();
            try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                for (int w = 0; w < WRITERS; w++) {
                    int writer = w;
                    writers.add(pool.submit(() -> {
                        SplittableRandom random = new SplittableRandom(writer);
                        int sequence = 0;
                        do {
                            // Writer w owns blocks w, w+WRITERS, ...
                            int block = writer + WRITERS * random.nextInt((blocks - writer + WRITERS - 1) / WRITERS);
                            long at = 4096 + (long) block * BLOCK;
                            byte[] content = stamped(writer, ++sequence);
                            md.write(at, ByteBuffer.wrap(content), false);
                            lastWritten[block] = new int[]{writer, sequence};
                            ByteBuffer back = ByteBuffer.allocate(BLOCK);
                            md.read(at, back);
                            assertArrayEquals(content, back.array(), "block " + block + " right after writer " + writer + " wrote it");
                        } while (swapping.get());
                        return sequence;
                    }));
                }
                try {
                    SplittableRandom random = new SplittableRandom(7);
                    for (int swap = 0; swap < SWAPS; swap++) {
                        dm.load("live", random.nextBoolean() ? stripedTable(files) : chunkwiseTable(files), false);
                        dm.resume("live");
                        Thread.yield();
                    }
                } finally {
                    swapping.set(false);
                }
                for (Future<Integer> f : writers) {
                    assertTrue(f.get() > 0);
                }
            }
            assertEquals(List.of(), List.copyOf(lateIo), "I/O reached tables that were suspended or closed");
            assertTrue(closedTargets.get() > 0, "some recording tables were swapped out");
            for (int block = 0; block < blocks; block++) {
                ByteBuffer back = ByteBuffer.allocate(BLOCK);
                md.read(4096 + (long) block * BLOCK, back);
                byte[] expected = lastWritten[block] == null ? new byte[BLOCK] : stamped(lastWritten[block][0], lastWritten[block][1]);
                assertArrayEquals(expected, back.array(), "final content of block " + block);
            }
        }
    }
}
