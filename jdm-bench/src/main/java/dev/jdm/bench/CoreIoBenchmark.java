package dev.jdm.bench;

import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The cost of the engine on the I/O path: the same reads and writes through a mapped device (a
 * linear table on one file, a 4-way striped table on four files) and straight to the same files with
 * positional {@link FileChannel} I/O and the same direct buffers. The files live in /dev/shm (or
 * {@code $JDM_BENCH_DIR}) so that no disk is measured, only our overhead.
 *
 * <p>Besides throughput, each run counts its operations and its thread's CPU time ({@link CpuAccount}):
 * on cores shared with other work, throughput mostly measures how much of a core the scheduler
 * handed out, while operations per CPU second measure what each path costs.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class CoreIoBenchmark {
    static final int SEQUENTIAL_IO = 1 << 20;
    static final int RANDOM_IO = 4096;
    static final long DEVICE_BYTES = 256L << 20;
    static final int STRIPES = 4;
    static final int CHUNK_SECTORS = 128;
    static final long CHUNK_BYTES = CHUNK_SECTORS * 512L;
    private static final int RANDOM_OFFSETS = 1 << 16;

    /** Which table: one linear target, or four stripes. */
    @Param({"linear", "striped"})
    public String layout;

    /** {@code plain}: FileChannel positional I/O on the files; {@code jdm}: through the mapped device. */
    @Param({"plain", "jdm"})
    public String path;

    private Path dir;
    private DeviceMapper dm;
    private Io io;

    /** The two operations measured, so both paths are driven by the same benchmark code. */
    private interface Io extends AutoCloseable {
        void read(long offset, ByteBuffer dst) throws IOException;

        void write(long offset, ByteBuffer src) throws IOException;

        @Override
        void close() throws IOException;
    }

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        dir = Files.createTempDirectory(Path.of(System.getenv().getOrDefault("JDM_BENCH_DIR", "/dev/shm")), "jdm-bench-");
        io = path.equals("jdm") ? mapped(backingFiles()) : plain(backingFiles());
    }

    private List<Path> backingFiles() throws IOException {
        int files = layout.equals("striped") ? STRIPES : 1;
        List<Path> paths = new ArrayList<>();
        for (int i = 0; i < files; i++) {
            paths.add(filled(dir.resolve("backing" + i + ".img"), DEVICE_BYTES / files));
        }
        return paths;
    }

    /** The operations a run completed and the CPU time its thread used, per iteration. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class CpuAccount {
        private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
        public long ops;
        public long cpuNanos;
        private long startNanos;

        @Setup(Level.Iteration)
        public void begin() {
            ops = 0;
            cpuNanos = 0;
            startNanos = THREADS.getCurrentThreadCpuTime();
        }

        @TearDown(Level.Iteration)
        public void end() {
            cpuNanos = THREADS.getCurrentThreadCpuTime() - startNanos;
        }
    }

    /** Where each thread is in its sequence of offsets, and its buffers. */
    @State(Scope.Thread)
    public static class Cursor {
        private final ByteBuffer sequentialBuffer = pattern(ByteBuffer.allocateDirect(SEQUENTIAL_IO));
        private final ByteBuffer randomBuffer = pattern(ByteBuffer.allocateDirect(RANDOM_IO));
        private final long[] randomOffsets = new long[RANDOM_OFFSETS];
        private long sequentialOffset;
        private int randomIndex;

        public Cursor() {
            SplittableRandom random = new SplittableRandom(42);
            for (int i = 0; i < RANDOM_OFFSETS; i++) {
                randomOffsets[i] = random.nextLong(DEVICE_BYTES / RANDOM_IO) * RANDOM_IO;
            }
        }

        long nextSequential() {
            long offset = sequentialOffset;
            sequentialOffset = (offset + SEQUENTIAL_IO) % DEVICE_BYTES;
            return offset;
        }

        long nextRandom() {
            randomIndex = (randomIndex + 1) & (RANDOM_OFFSETS - 1);
            return randomOffsets[randomIndex];
        }

        ByteBuffer sequential() {
            return sequentialBuffer.clear();
        }

        ByteBuffer random() {
            return randomBuffer.clear();
        }
    }

    private Io mapped(List<Path> paths) throws Exception {
        dm = DeviceMapper.create();
        long sectors = DEVICE_BYTES / 512;
        String table = switch (layout) {
            case "linear" -> "0 " + sectors + " linear " + paths.getFirst() + " 0";
            case "striped" -> "0 " + sectors + " striped " + STRIPES + " " + CHUNK_SECTORS + " "
                    + String.join(" ", paths.stream().map(p -> p + " 0").toList());
            default -> throw new IllegalArgumentException(layout);
        };
        dm.create("bench", null, table, false);
        MappedDevice device = dm.device("bench");
        return new Io() {
            @Override
            public void read(long offset, ByteBuffer dst) throws IOException {
                device.read(offset, dst);
            }

            @Override
            public void write(long offset, ByteBuffer src) throws IOException {
                device.write(offset, src, false);
            }

            @Override
            public void close() {
                dm.close();
            }
        };
    }

    /** One positional transfer: {@link FileChannel#read(ByteBuffer, long)} or {@link FileChannel#write(ByteBuffer, long)}. */
    @FunctionalInterface
    private interface Transfer {
        int apply(FileChannel channel, ByteBuffer buffer, long position) throws IOException;
    }

    /** What a program doing its own striping would do: the same chunk arithmetic, no engine. */
    private static Io plain(List<Path> paths) throws IOException {
        FileChannel[] channels = new FileChannel[paths.size()];
        for (int i = 0; i < channels.length; i++) {
            channels[i] = FileChannel.open(paths.get(i), StandardOpenOption.READ, StandardOpenOption.WRITE);
        }
        long chunk = channels.length == 1 ? Long.MAX_VALUE : CHUNK_BYTES;
        return new Io() {
            @Override
            public void read(long offset, ByteBuffer dst) throws IOException {
                transfer(offset, dst, FileChannel::read);
            }

            @Override
            public void write(long offset, ByteBuffer src) throws IOException {
                transfer(offset, src, FileChannel::write);
            }

            private void transfer(long offset, ByteBuffer buffer, Transfer transfer) throws IOException {
                int end = buffer.limit();
                while (buffer.hasRemaining()) {
                    long chunkNo = offset / chunk;
                    long inChunk = offset % chunk;
                    int piece = (int) Math.min(buffer.remaining(), chunk - inChunk);
                    long position = (chunkNo / channels.length) * chunk + inChunk;
                    FileChannel channel = channels[(int) (chunkNo % channels.length)];
                    buffer.limit(buffer.position() + piece);
                    while (buffer.hasRemaining()) {
                        position += transfer.apply(channel, buffer, position);
                    }
                    buffer.limit(end);
                    offset += piece;
                }
            }

            @Override
            public void close() throws IOException {
                for (FileChannel channel : channels) {
                    channel.close();
                }
            }
        };
    }

    private static ByteBuffer pattern(ByteBuffer b) {
        for (int i = 0; i < b.capacity(); i++) {
            b.put(i, (byte) (i * 31 + 7));
        }
        return b;
    }

    /** A file fully written (no holes), so reads measure page-cache copies and not zero-page tricks. */
    private static Path filled(Path file, long size) throws IOException {
        ByteBuffer block = pattern(ByteBuffer.allocateDirect(SEQUENTIAL_IO));
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (long pos = 0; pos < size; pos += SEQUENTIAL_IO) {
                ch.write(block.clear(), pos);
            }
        }
        return file;
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        io.close();
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    @Benchmark
    public ByteBuffer sequentialRead1M(Cursor c, CpuAccount cpu) throws IOException {
        cpu.ops++;
        ByteBuffer b = c.sequential();
        io.read(c.nextSequential(), b);
        return b;
    }

    @Benchmark
    public ByteBuffer sequentialWrite1M(Cursor c, CpuAccount cpu) throws IOException {
        cpu.ops++;
        ByteBuffer b = c.sequential();
        io.write(c.nextSequential(), b);
        return b;
    }

    @Benchmark
    public ByteBuffer randomRead4K(Cursor c, CpuAccount cpu) throws IOException {
        cpu.ops++;
        ByteBuffer b = c.random();
        io.read(c.nextRandom(), b);
        return b;
    }

    @Benchmark
    public ByteBuffer randomWrite4K(Cursor c, CpuAccount cpu) throws IOException {
        cpu.ops++;
        ByteBuffer b = c.random();
        io.write(c.nextRandom(), b);
        return b;
    }
}
