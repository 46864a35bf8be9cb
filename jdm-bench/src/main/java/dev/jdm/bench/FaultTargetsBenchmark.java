package dev.jdm.bench;

import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
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
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The cost of the fault-injection targets when they inject nothing: 4 KiB random reads and writes
 * through flakey (in its up phase) and dust (enabled, empty bad-block list) against the same I/O
 * through linear, on a file in /dev/shm (or {@code $JDM_BENCH_DIR}).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class FaultTargetsBenchmark {
    static final long DEVICE_BYTES = 64L << 20;
    static final int IO = 4096;
    private static final int OFFSETS = 1 << 14;

    @Param({"linear", "flakey", "dust"})
    public String target;

    private Path dir;
    private DeviceMapper dm;
    private MappedDevice device;
    private ByteBuffer buffer;
    private long[] offsets;
    private int next;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        dir = Files.createTempDirectory(Path.of(System.getenv().getOrDefault("JDM_BENCH_DIR", "/dev/shm")), "jdm-fault-bench-");
        Path file = dir.resolve("backing.img");
        filled(file);
        long sectors = DEVICE_BYTES / 512;
        String table = switch (target) {
            case "linear" -> "linear " + file + " 0";
            // Up for ~136 years: the up phase is all we measure.
            case "flakey" -> "flakey " + file + " 0 4294967294 1";
            case "dust" -> "dust " + file + " 0 4096";
            default -> throw new IllegalArgumentException(target);
        };
        dm = DeviceMapper.create();
        dm.create("bench", null, "0 " + sectors + " " + table, false);
        if (target.equals("dust")) {
            dm.message("bench", 0, List.of("enable"));
        }
        device = dm.device("bench");
        buffer = ByteBuffer.allocateDirect(IO);
        SplittableRandom random = new SplittableRandom(42);
        offsets = new long[OFFSETS];
        for (int i = 0; i < OFFSETS; i++) {
            offsets[i] = random.nextLong(DEVICE_BYTES / IO) * IO;
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

    static void filled(Path file) throws IOException {
        ByteBuffer block = ByteBuffer.allocateDirect(1 << 20);
        for (int i = 0; i < block.capacity(); i++) {
            block.put(i, (byte) (i * 31 + 7));
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (long pos = 0; pos < DEVICE_BYTES; pos += block.capacity()) {
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
