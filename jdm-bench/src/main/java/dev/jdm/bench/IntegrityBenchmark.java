package dev.jdm.bench;

import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.targets.integrity.IntegrityMode;
import dev.jdm.targets.integrity.IntegrityTool;
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
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The price of dm-integrity (crc32c tags, kernel format) over linear: 4 KiB random reads and writes
 * and 1 MiB sequential writes through integrity in journal (J) and direct (D) mode and through a
 * linear table of the same size, on files in /dev/shm (or {@code $JDM_BENCH_DIR}).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class IntegrityBenchmark {
    static final long FILE_BYTES = 64L << 20;
    static final int RANDOM_IO = 4096;
    static final int SEQUENTIAL_IO = 1 << 20;
    private static final int OFFSETS = 1 << 14;

    @Param({"linear", "integrity-J", "integrity-D"})
    public String target;

    private Path dir;
    private DeviceMapper dm;
    private MappedDevice device;
    private ByteBuffer small;
    private ByteBuffer large;
    private long[] offsets;
    private int next;
    private long sequential;
    private long sizeBytes;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        dir = Files.createTempDirectory(Path.of(System.getenv().getOrDefault("JDM_BENCH_DIR", "/dev/shm")), "jdm-integrity-bench-");
        Path file = dir.resolve("backing.img");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(FILE_BYTES);
        }
        IntegrityTool.Options options = IntegrityTool.Options.defaults();
        long provided = IntegrityTool.format(file, options);
        dm = DeviceMapper.create();
        switch (target) {
            case "linear" -> dm.create("bench", null, "0 " + provided + " linear " + file + " 0", false);
            case "integrity-J" -> IntegrityTool.open(dm, "bench", file, options, IntegrityMode.JOURNAL, false);
            case "integrity-D" -> IntegrityTool.open(dm, "bench", file, options, IntegrityMode.DIRECT, false);
            default -> throw new IllegalArgumentException(target);
        }
        device = dm.device("bench");
        sizeBytes = provided * 512;
        small = ByteBuffer.allocateDirect(RANDOM_IO);
        large = ByteBuffer.allocateDirect(SEQUENTIAL_IO);
        for (int i = 0; i < SEQUENTIAL_IO; i++) {
            large.put(i, (byte) (i * 31 + 7));
        }
        SplittableRandom random = new SplittableRandom(42);
        offsets = new long[OFFSETS];
        for (int i = 0; i < OFFSETS; i++) {
            offsets[i] = random.nextLong(sizeBytes / RANDOM_IO) * RANDOM_IO;
        }
    }

    private long nextOffset() {
        return offsets[next++ & (OFFSETS - 1)];
    }

    @Benchmark
    public ByteBuffer randomRead4K() throws IOException {
        device.read(nextOffset(), small.clear());
        return small;
    }

    @Benchmark
    public ByteBuffer randomWrite4K() throws IOException {
        device.write(nextOffset(), small.clear(), false);
        return small;
    }

    @Benchmark
    public ByteBuffer sequentialWrite1M() throws IOException {
        if (sequential + SEQUENTIAL_IO > sizeBytes) {
            sequential = 0;
        }
        device.write(sequential, large.clear(), false);
        sequential += SEQUENTIAL_IO;
        return large;
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        dm.close();
        try (var files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
