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
import java.util.concurrent.TimeUnit;

/**
 * How long a 4 KiB read through {@code delay} really takes when it asks for 1, 10 or 100 ms: JMH
 * samples every call, so the median and p99 of the distribution are the observed delay (the read
 * itself, from /dev/shm, adds microseconds).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class DelayAccuracyBenchmark {
    @Param({"1", "10", "100"})
    public int delayMs;

    private Path dir;
    private DeviceMapper dm;
    private MappedDevice device;
    private final ByteBuffer buffer = ByteBuffer.allocateDirect(4096);

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        dir = Files.createTempDirectory(Path.of(System.getenv().getOrDefault("JDM_BENCH_DIR", "/dev/shm")), "jdm-delay-bench-");
        Path file = dir.resolve("backing.img");
        TargetIoBenchmark.filled(file);
        dm = DeviceMapper.create();
        dm.create("bench", null, "0 " + TargetIoBenchmark.FILE_BYTES / 512 + " delay " + file + " 0 " + delayMs, false);
        device = dm.device("bench");
    }

    @Benchmark
    public ByteBuffer delayedRead4K() throws IOException {
        device.read(0, buffer.clear());
        return buffer;
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        dm.close();
        Files.delete(dir.resolve("backing.img"));
        Files.delete(dir);
    }
}
