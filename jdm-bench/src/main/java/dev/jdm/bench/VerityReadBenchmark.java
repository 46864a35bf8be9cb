package dev.jdm.bench;

import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.core.engine.TargetTypes;
import dev.jdm.formats.verity.VerityOptions;
import dev.jdm.formats.verity.Veritysetup;
import dev.jdm.targets.verity.VerityTarget;
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
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Verified reads against linear reads of the same file through the engine: a verity table (sha256,
 * 4 KiB blocks, every read checked), the same with {@code check_at_most_once}, the same with a cache of
 * verified data blocks, and a linear table.
 * Two storages: {@code memory} puts the files in /dev/shm (or {@code $JDM_BENCH_DIR}), so the cost
 * measured is hashing against a memory copy; {@code disk} puts them on a disk-backed file system
 * ({@code $JDM_BENCH_DISK_DIR}, default /var/tmp) opened with O_DIRECT, so neither table reads from the
 * page cache and verity's cost is I/O plus the hashing it does not overlap with it.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class VerityReadBenchmark {
    static final long DEVICE_BYTES = 128L << 20;
    static final int SEQUENTIAL_IO = 1 << 20;
    static final int RANDOM_IO = 4096;
    private static final int RANDOM_OFFSETS = 1 << 16;

    /** verity-cached keeps verified data blocks in a cache of half the image, so about half the random reads hit. */
    @Param({"linear", "verity", "verity-once", "verity-cached"})
    public String target;

    @Param({"memory", "disk"})
    public String storage;

    private Path dir;
    private DeviceMapper dm;
    private MappedDevice device;
    private ByteBuffer sequential;
    private ByteBuffer random;
    private long sequentialOffset;
    private long[] randomOffsets;
    private int randomIndex;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        boolean disk = storage.equals("disk");
        String parent = disk ? System.getenv().getOrDefault("JDM_BENCH_DISK_DIR", "/var/tmp")
                : System.getenv().getOrDefault("JDM_BENCH_DIR", "/dev/shm");
        dir = Files.createTempDirectory(Path.of(parent), "jdm-verity-bench-");
        Path data = dir.resolve("data.img");
        ByteBuffer block = ByteBuffer.allocateDirect(SEQUENTIAL_IO);
        SplittableRandom fill = new SplittableRandom(1);
        try (FileChannel ch = FileChannel.open(data, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (long pos = 0; pos < DEVICE_BYTES; pos += SEQUENTIAL_IO) {
                for (int i = 0; i < SEQUENTIAL_IO; i += 8) {
                    block.putLong(i, fill.nextLong());
                }
                ch.write(block.clear(), pos);
            }
            ch.force(true); // O_DIRECT reads then come from the disk, not from dirty pages
        }
        String table;
        if (target.equals("linear")) {
            table = "0 " + DEVICE_BYTES / 512 + " linear " + data + " 0";
        } else {
            Path hash = dir.resolve("hash.img");
            String root = Veritysetup.format(data, hash, VerityOptions.defaults()).rootHashHex();
            table = Veritysetup.open(data, hash, root, VerityOptions.defaults());
            if (target.equals("verity-once")) {
                table += " 1 check_at_most_once";
            }
        }
        dm = new DeviceMapper(TargetTypes.discover(), new DeviceMapper.Options(disk));
        if (target.equals("verity-cached")) {
            System.setProperty(VerityTarget.DATA_CACHE_PROPERTY, Long.toString(DEVICE_BYTES / 2 >> 20));
        }
        try {
            dm.create("bench", null, table, true);
        } finally {
            System.clearProperty(VerityTarget.DATA_CACHE_PROPERTY); // read when the table is created
        }
        device = dm.device("bench");
        sequential = pageAligned(SEQUENTIAL_IO); // O_DIRECT reads land in the buffer without a bounce copy
        random = pageAligned(RANDOM_IO);
        SplittableRandom r = new SplittableRandom(42);
        randomOffsets = new long[RANDOM_OFFSETS];
        for (int i = 0; i < RANDOM_OFFSETS; i++) {
            randomOffsets[i] = r.nextLong(DEVICE_BYTES / RANDOM_IO) * RANDOM_IO;
        }
    }

    private static ByteBuffer pageAligned(int size) {
        return ByteBuffer.allocateDirect(size + 4096).alignedSlice(4096).limit(size).slice();
    }

    @Benchmark
    public int sequentialRead1M() throws IOException {
        device.read(sequentialOffset, sequential.clear());
        sequentialOffset = (sequentialOffset + SEQUENTIAL_IO) % DEVICE_BYTES;
        return sequential.position();
    }

    @Benchmark
    public int randomRead4K() throws IOException {
        device.read(randomOffsets[randomIndex++ & (RANDOM_OFFSETS - 1)], random.clear());
        return random.position();
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        dm.close();
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
