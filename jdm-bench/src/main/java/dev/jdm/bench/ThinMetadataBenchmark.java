package dev.jdm.bench;

import dev.jdm.core.io.FileBlockDevice;
import dev.jdm.targets.thin.metadata.ThinMetadata;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.io.IOException;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The thin metadata operations a pool's I/O path calls, on one device of {@code mappings} mappings (even
 * virtual blocks) in a 1 TiB pool of 64 KiB blocks, metadata in /dev/shm (or {@code $JDM_BENCH_DIR}):
 * lookup of a mapped block; allocate + insert of a new mapping at a random odd virtual block (the
 * transaction is committed after each iteration); 1,000 of those followed by a commit; the removal of a
 * device's 200,000 mappings in one call (a whole-device discard); and lookups while
 * another thread inserts (the write lock against the readers). The single-thread ones also count operations
 * and their thread's CPU time ({@link CoreIoBenchmark.CpuAccount}: ops / cpuNanos is what an operation
 * costs, which shared cores distort less than throughput).
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class ThinMetadataBenchmark {
    static final long DATA_BLOCKS = 1L << 24;

    @State(Scope.Benchmark)
    public static class Pool {
        @Param("1000000")
        public int mappings;
        @Param("4096")
        public int cacheBlocks;

        Path dir;
        FileBlockDevice device;
        ThinMetadata md;

        @Setup(Level.Trial)
        public void setUp() throws IOException {
            dir = ThinBenchmark.newDir("metadata");
            device = FileBlockDevice.open(ThinBenchmark.sparse(dir, "meta", 4L << 30), FileBlockDevice.Options.READ_WRITE);
            md = ThinMetadata.format(device, 128, DATA_BLOCKS, cacheBlocks);
            md.createThin(0);
            for (long v = 0; v < mappings; v++) {
                md.insert(0, 2 * v, md.allocateDataBlock());
                if (v % 100_000 == 99_999) {
                    md.commit();
                }
            }
            md.commit();
        }

        @TearDown(Level.Iteration)
        public void commit() throws IOException {
            md.commit();
        }

        @TearDown(Level.Trial)
        public void tearDown() throws IOException {
            md.close();
            device.close();
            ThinBenchmark.deleteTree(dir);
        }

        long mappedBlock(SplittableRandom rnd) {
            return 2L * rnd.nextInt(mappings);
        }

        /** A random unmapped (odd) block, or one a previous insert mapped: then it is remapped. */
        long newBlock(SplittableRandom rnd) {
            return 2L * rnd.nextInt(mappings) + 1;
        }

        void allocateAndInsert(SplittableRandom rnd) throws IOException {
            md.insert(0, newBlock(rnd), md.allocateDataBlock());
        }
    }

    /** Device 1 with {@link #BLOCKS} mappings made and committed before each measured discard of them all. */
    @State(Scope.Thread)
    public static class Discard {
        static final int BLOCKS = 200_000;

        @Setup(Level.Iteration)
        public void map(Pool pool) throws IOException {
            if (!pool.md.devices().containsKey(1L)) {
                pool.md.createThin(1);
            }
            for (long v = 0; v < BLOCKS; v++) {
                pool.md.insert(1, v, pool.md.allocateDataBlock());
            }
            pool.md.commit();
        }
    }

    @State(Scope.Thread)
    public static class Random {
        final SplittableRandom rnd = new SplittableRandom(42);
    }

    @Benchmark
    public ThinMetadata.Mapping lookupHit(Pool pool, Random r, CoreIoBenchmark.CpuAccount cpu) throws IOException {
        cpu.ops++;
        return pool.md.lookup(0, pool.mappedBlock(r.rnd));
    }

    @Benchmark
    public void allocateAndInsert(Pool pool, Random r, CoreIoBenchmark.CpuAccount cpu) throws IOException {
        cpu.ops++;
        pool.allocateAndInsert(r.rnd);
    }

    @Benchmark
    @OperationsPerInvocation(1000)
    public void insert1000ThenCommit(Pool pool, Random r, CoreIoBenchmark.CpuAccount cpu) throws IOException {
        for (int i = 0; i < 1000; i++) {
            pool.allocateAndInsert(r.rnd);
        }
        pool.md.commit();
        cpu.ops += 1000;
    }

    /** What a discard of a whole 12.5 GiB thin device costs the metadata (one call, as the pool makes it). */
    @Benchmark
    @BenchmarkMode(Mode.SingleShotTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    public long removeRange200k(Pool pool, Discard d) throws IOException {
        return pool.md.removeRange(1, 0, Discard.BLOCKS, b -> { });
    }

    @Benchmark
    @Group("lookupWhileInserting")
    @GroupThreads(1)
    public ThinMetadata.Mapping reader(Pool pool, Random r) throws IOException {
        return pool.md.lookup(0, pool.mappedBlock(r.rnd));
    }

    @Benchmark
    @Group("lookupWhileInserting")
    @GroupThreads(1)
    public void writer(Pool pool, Random r) throws IOException {
        pool.allocateAndInsert(r.rnd);
    }
}
