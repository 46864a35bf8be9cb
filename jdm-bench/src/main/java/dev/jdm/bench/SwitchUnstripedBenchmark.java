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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * What switch's region-table lookup and unstriped's arithmetic cost: 4 KiB random reads of a 32 MiB
 * device through linear, switch (two paths to the same file, 64 KiB regions) and unstriped (stripe 1 of
 * 2 in 4 KiB chunks), all over one 64 MiB file in /dev/shm (or {@code $JDM_BENCH_DIR}).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class SwitchUnstripedBenchmark {
    private static final long TARGET_BYTES = FaultTargetsBenchmark.DEVICE_BYTES / 2;
    private static final int IO = FaultTargetsBenchmark.IO;
    private static final int OFFSETS = 1 << 14;

    @Param({"linear", "switch", "unstriped"})
    public String target;

    private Path dir;
    private DeviceMapper dm;
    private MappedDevice device;
    private ByteBuffer buffer;
    private long[] offsets;
    private int next;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        dir = Files.createTempDirectory(Path.of(System.getenv().getOrDefault("JDM_BENCH_DIR", "/dev/shm")), "jdm-switch-bench-");
        Path file = dir.resolve("backing.img");
        FaultTargetsBenchmark.filled(file);
        String table = switch (target) {
            case "linear" -> "linear " + file + " 0";
            case "switch" -> "switch 2 128 0 " + file + " 0 " + file + " 0";
            case "unstriped" -> "unstriped 2 8 1 " + file + " 0";
            default -> throw new IllegalArgumentException(target);
        };
        dm = DeviceMapper.create();
        dm.create("bench", null, "0 " + TARGET_BYTES / 512 + " " + table, false);
        device = dm.device("bench");
        buffer = ByteBuffer.allocateDirect(IO);
        SplittableRandom random = new SplittableRandom(42);
        offsets = new long[OFFSETS];
        for (int i = 0; i < OFFSETS; i++) {
            offsets[i] = random.nextLong(TARGET_BYTES / IO) * IO;
        }
    }

    @Benchmark
    public ByteBuffer randomRead4K() throws IOException {
        device.read(offsets[next++ & (OFFSETS - 1)], buffer.clear());
        return buffer;
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
