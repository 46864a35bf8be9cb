package dev.jdm.bench;

import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * 4 KiB random reads and writes through one mapped device over a 64 MiB file filled with a pattern, in
 * /dev/shm (or {@code $JDM_BENCH_DIR}). A subclass names its targets in a {@code target} parameter and gives
 * the table for each; the engine, the file and the offsets are the same for all of them.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public abstract class TargetIoBenchmark {
    static final long FILE_BYTES = 64L << 20;
    static final int IO = 4096;
    private static final int OFFSETS = 1 << 14;

    private Path dir;
    protected DeviceMapper dm;
    private MappedDevice device;
    private ByteBuffer buffer;
    private long[] offsets;
    private int next;

    /** The table's target part for this trial (after {@code 0 <sectors> }), over {@code file}. */
    protected abstract String table(Path file);

    /** How much of the file the device maps. */
    protected long deviceBytes() {
        return FILE_BYTES;
    }

    /** Anything the target needs once created (a message). */
    protected void prepared() throws Exception {
    }

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        dir = Files.createTempDirectory(Path.of(System.getenv().getOrDefault("JDM_BENCH_DIR", "/dev/shm")), "jdm-target-bench-");
        Path file = dir.resolve("backing.img");
        filled(file);
        dm = DeviceMapper.create();
        dm.create("bench", null, "0 " + deviceBytes() / 512 + " " + table(file), false);
        prepared();
        device = dm.device("bench");
        buffer = ByteBuffer.allocateDirect(IO);
        SplittableRandom random = new SplittableRandom(42);
        offsets = new long[OFFSETS];
        for (int i = 0; i < OFFSETS; i++) {
            offsets[i] = random.nextLong(deviceBytes() / IO) * IO;
        }
    }

    private long nextOffset() {
        return offsets[next++ & (OFFSETS - 1)];
    }

    @Benchmark
    public ByteBuffer randomRead4K() throws IOException {
        device.read(nextOffset(), buffer.clear());
        return buffer;
    }

    @Benchmark
    public ByteBuffer randomWrite4K() throws IOException {
        device.write(nextOffset(), buffer.clear(), false);
        return buffer;
    }

    /** Writes {@link #FILE_BYTES} of a pattern to a new file. */
    static void filled(Path file) throws IOException {
        ByteBuffer block = ByteBuffer.allocateDirect(1 << 20);
        for (int i = 0; i < block.capacity(); i++) {
            block.put(i, (byte) (i * 31 + 7));
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (long pos = 0; pos < FILE_BYTES; pos += block.capacity()) {
                ch.write(block.clear(), pos);
            }
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        dm.close();
        try (var files = Files.walk(dir)) {
            for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
