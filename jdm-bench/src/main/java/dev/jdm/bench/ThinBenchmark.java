package dev.jdm.bench;

import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * thin-pool and thin next to linear on the same kind of file (in /dev/shm, or {@code $JDM_BENCH_DIR}):
 * first writes into unprovisioned blocks (4 KiB into a 64 KiB block, which zeroes the rest, and whole
 * 64 KiB blocks), overwrites and reads of provisioned blocks, and the time of create_snap (with its
 * commit) for an origin of 16 Ki mappings in 1 GiB and of 1 Mi mappings in 1 TiB. The I/O benchmarks also
 * count their thread's CPU time ({@link CoreIoBenchmark.CpuAccount}), which other processes' load skews less.
 */
public class ThinBenchmark {
    static final int BLOCK_SECTORS = 128;
    static final int BLOCK_BYTES = BLOCK_SECTORS * 512;
    /** Provisioned blocks the overwrites and reads go to (64 MiB). */
    static final int PROVISIONED = 1024;
    /** New blocks one measured batch of first writes provisions. */
    static final int FIRST_WRITES = 8192;
    /**
     * Batches of first writes run before a firstWrite trial: its few single-shot iterations would otherwise
     * time code the JIT is still compiling, which weighs on thin's longer path more than on linear's.
     */
    static final int FIRST_WRITE_WARMUP_BATCHES = 20;
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    static Path newDir(String what) throws IOException {
        return Files.createTempDirectory(Path.of(System.getenv().getOrDefault("JDM_BENCH_DIR", "/dev/shm")), "jdm-thin-bench-" + what + "-");
    }

    static Path sparse(Path dir, String name, long bytes) throws IOException {
        Path p = dir.resolve(name);
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(bytes);
        }
        return p;
    }

    static void deleteTree(Path dir) throws IOException {
        try (var files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    /** A linear table, or a pool with thin 0 (fully provisioned over its first blocks) and thin 1 (empty), over files. */
    @State(Scope.Thread)
    public static class Io {
        @Param({"linear", "thin"})
        public String target;
        @Param({"4096", "65536"})
        public int io;

        Path dir;
        Path fresh;
        DeviceMapper dm;
        MappedDevice provisioned;
        MappedDevice unprovisioned;
        ByteBuffer buffer;
        long[] offsets;
        int next;
        int nextNew;
        private long dataBlocks;

        @Setup(Level.Trial)
        public void setUp(BenchmarkParams params) throws Exception {
            setUp();
            if (params.getBenchmark().endsWith(".firstWrite")) {
                for (int batch = 0; batch < FIRST_WRITE_WARMUP_BATCHES; batch++) {
                    freshDevice();
                    writeFirstBatch();
                }
            }
        }

        void setUp() throws Exception {
            dir = newDir("io");
            dm = DeviceMapper.create();
            dataBlocks = PROVISIONED + FIRST_WRITES + 64;
            Path data = sparse(dir, "data", dataBlocks * BLOCK_BYTES);
            long sectors = PROVISIONED * (long) BLOCK_SECTORS;
            if (target.equals("linear")) {
                fresh = sparse(dir, "fresh", (long) FIRST_WRITES * BLOCK_BYTES);
                dm.create("provisioned", null, "0 " + sectors + " linear " + data + " 0", false);
            } else {
                Path meta = sparse(dir, "meta", 64L << 20);
                dm.create("pool", null, "0 " + dataBlocks * BLOCK_SECTORS + " thin-pool " + meta + " " + data + " " + BLOCK_SECTORS + " 0", false);
                message("create_thin", "0");
                dm.create("provisioned", null, "0 " + sectors + " thin /dev/mapper/pool 0", false);
            }
            provisioned = dm.device("provisioned");
            ByteBuffer block = ByteBuffer.allocateDirect(BLOCK_BYTES);
            for (int i = 0; i < BLOCK_BYTES; i++) {
                block.put(i, (byte) (i * 31 + 7));
            }
            for (long b = 0; b < PROVISIONED; b++) {
                provisioned.write(b * BLOCK_BYTES, block.clear(), false);
            }
            provisioned.flush();
            // Page-aligned, as the NBD server's payload buffers are: allocateDirect's alignment varies with
            // what was allocated before, and a large copy's speed with it (by up to a quarter between forks).
            buffer = ByteBuffer.allocateDirect(io + 4096).alignedSlice(4096).slice(0, io);
            buffer.put(block.clear().limit(io)).flip();
            SplittableRandom random = new SplittableRandom(42);
            offsets = new long[1 << 14];
            for (int i = 0; i < offsets.length; i++) {
                offsets[i] = random.nextLong((long) PROVISIONED * BLOCK_BYTES / io) * io;
            }
        }

        /** Before each batch of first writes: a device none of whose blocks are provisioned. */
        @Setup(Level.Iteration)
        public void freshDevice() throws Exception {
            nextNew = 0;
            long sectors = (long) FIRST_WRITES * BLOCK_SECTORS;
            if (target.equals("linear")) {
                if (unprovisioned != null) {
                    dm.remove("unprovisioned", false, false);
                }
                try (RandomAccessFile f = new RandomAccessFile(fresh.toFile(), "rw")) {
                    f.setLength(0);
                    f.setLength((long) FIRST_WRITES * BLOCK_BYTES);
                }
                dm.create("unprovisioned", null, "0 " + sectors + " linear " + fresh + " 0", false);
            } else {
                if (unprovisioned != null) {
                    // Discarded first, as mkfs or blkdiscard would: the passdown punches the freed blocks out of the
                    // data file, so the next batch writes into holes, like linear's fresh sparse file. Blocks freed
                    // without a discard hold old data and must be zeroed (thin/linear ~0.1 for 4 KiB writes then).
                    unprovisioned.discard(0, unprovisioned.size());
                    dm.remove("unprovisioned", false, false);
                    message("delete", "1");
                }
                message("create_thin", "1");
                dm.create("unprovisioned", null, "0 " + sectors + " thin /dev/mapper/pool 1", false);
            }
            unprovisioned = dm.device("unprovisioned");
        }

        /** One batch of first writes, outside JMH (its warm-up, ThinHotPathMain): the device must be fresh. */
        void writeFirstBatch() throws IOException {
            for (int i = 0; i < FIRST_WRITES; i++) {
                unprovisioned.write((long) i * BLOCK_BYTES, buffer.clear(), false);
            }
        }

        void message(String... argv) throws Exception {
            dm.message("pool", 0, List.of(argv));
        }

        long nextOffset() {
            return offsets[next++ & (offsets.length - 1)];
        }

        @TearDown(Level.Trial)
        public void tearDown() throws IOException {
            dm.close();
            deleteTree(dir);
        }
    }

    /**
     * The CPU time of a batch of first writes, from its first write to its last: not {@link Io#freshDevice}'s
     * discard, delete and create, nor what the worker thread does between batches (some 17 ms of CPU after
     * each thin batch, outside JMH's timing too, went into a count taken from setup to teardown).
     */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class FirstWriteCpu {
        public long ops;
        public long cpuNanos;

        @Setup(Level.Iteration)
        public void begin() {
            ops = 0;
            cpuNanos = 0;
        }
    }

    /** (a) One write of {@code io} bytes at the start of a block never written before. */
    @Benchmark
    @BenchmarkMode(Mode.SingleShotTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    @Warmup(batchSize = FIRST_WRITES)
    @Measurement(batchSize = FIRST_WRITES)
    public ByteBuffer firstWrite(Io s, FirstWriteCpu cpu) throws IOException {
        cpu.ops++;
        if (s.nextNew == 0) {
            cpu.cpuNanos = -THREADS.getCurrentThreadCpuTime();
        }
        s.unprovisioned.write((long) s.nextNew++ * BLOCK_BYTES, s.buffer.clear(), false);
        if (s.nextNew == FIRST_WRITES) {
            cpu.cpuNanos += THREADS.getCurrentThreadCpuTime();
        }
        return s.buffer;
    }

    /** (b) A random overwrite inside provisioned blocks. */
    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    public ByteBuffer overwrite(Io s, CoreIoBenchmark.CpuAccount cpu) throws IOException {
        cpu.ops++;
        s.provisioned.write(s.nextOffset(), s.buffer.clear(), false);
        return s.buffer;
    }

    /** (c) A random read inside provisioned blocks. */
    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    public ByteBuffer read(Io s, CoreIoBenchmark.CpuAccount cpu) throws IOException {
        cpu.ops++;
        s.provisioned.read(s.nextOffset(), s.buffer.clear());
        return s.buffer;
    }

    /**
     * A pool whose thin 0 has {@code mappings} mapped blocks, written by thin_restore as 1024 runs spread over
     * the device's virtual size (1 GiB for 16 Ki mappings, 1 TiB for 1 Mi); the data file is sparse.
     */
    @State(Scope.Thread)
    public static class Origin {
        @Param({"16384", "1048576"})
        public int mappings;

        Path dir;
        DeviceMapper dm;
        int nextSnapshot;

        @Setup(Level.Trial)
        public void setUp() throws Exception {
            dir = newDir("snap");
            long virtualBlocks = mappings <= 16384 ? 16384 : 16L << 20;
            Path meta = restoredOrigin(dir, mappings, virtualBlocks);
            Path data = sparse(dir, "data", (long) mappings * BLOCK_BYTES);
            dm = DeviceMapper.create();
            dm.create("pool", null, "0 " + (long) mappings * BLOCK_SECTORS + " thin-pool " + meta + " " + data + " " + BLOCK_SECTORS + " 0", false);
            dm.create("origin", null, "0 " + virtualBlocks * BLOCK_SECTORS + " thin /dev/mapper/pool 0", false);
            nextSnapshot = 1;
        }

        /** Snapshots of one iteration go again, so every iteration starts from the same pool. */
        @TearDown(Level.Iteration)
        public void deleteSnapshots() throws Exception {
            for (int id = 1; id < nextSnapshot; id++) {
                dm.message("pool", 0, List.of("delete", Integer.toString(id)));
            }
            nextSnapshot = 1;
        }

        @TearDown(Level.Trial)
        public void tearDown() throws IOException {
            dm.close();
            deleteTree(dir);
        }
    }

    /** Metadata by thin_restore: thin 0 with {@code mappings} blocks in 1024 equal runs spaced over {@code virtualBlocks}. */
    static Path restoredOrigin(Path dir, int mappings, long virtualBlocks) throws IOException, InterruptedException {
        int runs = 1024;
        int runLength = mappings / runs;
        long stride = virtualBlocks / runs;
        StringBuilder xml = new StringBuilder("<superblock uuid=\"\" time=\"0\" transaction=\"1\" data_block_size=\"" + BLOCK_SECTORS
                + "\" nr_data_blocks=\"" + mappings + "\">\n");
        xml.append("  <device dev_id=\"0\" mapped_blocks=\"").append(mappings).append("\" transaction=\"0\" creation_time=\"0\" snap_time=\"0\">\n");
        for (int r = 0; r < runs; r++) {
            xml.append("    <range_mapping origin_begin=\"").append(r * stride).append("\" data_begin=\"").append((long) r * runLength)
                    .append("\" length=\"").append(runLength).append("\" time=\"0\"/>\n");
        }
        xml.append("  </device>\n</superblock>\n");
        Path x = dir.resolve("origin.xml");
        Files.writeString(x, xml);
        Path meta = sparse(dir, "meta", 256L << 20);
        Process p = new ProcessBuilder("thin_restore", "-i", x.toString(), "-o", meta.toString()).inheritIO().start();
        if (p.waitFor() != 0) {
            throw new IOException("thin_restore failed (is thin-provisioning-tools installed?)");
        }
        return meta;
    }

    /** (d) create_snap of thin 0 (the pool commits before it answers). */
    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public String createSnapshot(Origin s) throws Exception {
        return s.dm.message("pool", 0, List.of("create_snap", Integer.toString(s.nextSnapshot++), "0"));
    }
}
