package dev.jdm.bench;

import com.sun.management.OperatingSystemMXBean;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * snapshot-origin, snapshot and snapshot-merge next to linear over the same origin file (in
 * {@code $JDM_BENCH_DIR}, default /dev/shm), measured in alternation: every round runs linear and the snapshot
 * table one right after the other (which goes first alternates), and the ratio is taken within the round, so
 * load from other processes on the shared cores weighs on both. Prints, as Markdown, the median and the spread
 * of the per-round ratios, and the ratio of the CPU time the two sides took over all rounds ({@link Took}), for:
 * <ul>
 * <li>(a) origin writes into chunks no snapshot has copied yet, with 1 and with 4 snapshots: whole 64 KiB
 *     chunks, 4 KiB writes into 64 KiB chunks, and 4 KiB writes into 4 KiB chunks (LVM's default), from
 *     {@link #THREADS} writer threads (the store commits their exceptions together), a flush at the end;
 * <li>(b) 4 KiB overwrites of chunks already copied;
 * <li>(c) 4 KiB reads of a snapshot half of whose chunks were copied, against reads of linear;
 * <li>(d) the time a {@code snapshot-merge} takes to copy its exceptions back and report them gone, against
 *     a read/write loop copying the same chunks from the COW file to the origin file and an fsync;
 * <li>(e) the heap a snapshot holds per exception, for a COW with 1 Mi exceptions written in the kernel's
 *     format (header, then areas of 16-byte entries each followed by their data chunks).
 * </ul>
 * Each device is made in-process ({@link DeviceMapper}) with the kernel's table syntax; the snapshot and
 * origin name the origin file itself (linear names it too), the COW is a sparse file.
 *
 * <p>Arguments: {@code [rounds] [cases]}: default 7 rounds, the first 2 warm up and are not counted; cases
 * a comma list of {@code write,overwrite,read,merge,heap} (default all).
 */
public final class SnapshotMain {
    private static final int SECTOR = 512;
    /** Writer and reader threads ({@code $JDM_SNAPSHOT_THREADS}, default 4): more of them let the store commit more together. */
    private static final int THREADS = Integer.parseInt(System.getenv().getOrDefault("JDM_SNAPSHOT_THREADS", "4"));
    private static final int WARM_UP_ROUNDS = 2;
    /**
     * {@code $JDM_SNAPSHOT_COW=allocated}: each COW file written whole before the snapshot is made, as an LV or a
     * partition is (every block exists); the default is a sparse file, where every first write allocates.
     */
    private static final boolean ALLOCATED_COW = "allocated".equals(System.getenv("JDM_SNAPSHOT_COW"));
    /** Chunks one batch of first writes touches, and the chunks a merge copies back. */
    private static final int BATCH_CHUNKS = 2048;
    private static final long ORIGIN_BYTES = 256L << 20;
    private static final int OVERWRITES = 32768;
    private static final int READS = 65536;
    private static final int HEAP_EXCEPTIONS = 1 << 20;
    private static final ThreadMXBean THREADS_CPU = ManagementFactory.getThreadMXBean();
    private static final OperatingSystemMXBean OS = (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

    private final Path dir;
    private final Path origin;
    private final DeviceMapper dm = DeviceMapper.create();
    private int generation;

    private SnapshotMain(Path dir) throws IOException {
        this.dir = dir;
        this.origin = dir.resolve("origin");
        fill(origin, ORIGIN_BYTES);
    }

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 7;
        List<String> cases = List.of((args.length > 1 ? args[1] : "write,overwrite,read,merge,heap").split(","));
        Path dir = Files.createTempDirectory(Path.of(System.getenv().getOrDefault("JDM_BENCH_DIR", "/dev/shm")), "jdm-snapshot-bench-");
        System.out.println("files in " + dir + " (" + Files.getFileStore(dir).type() + "), " + THREADS + " I/O threads, "
                + rounds + " rounds of which " + WARM_UP_ROUNDS + " warm up");
        SnapshotMain bench = new SnapshotMain(dir);
        List<String> rows = new ArrayList<>();
        try {
            if (cases.contains("write")) {
                for (int snapshots : new int[] {1, 4}) {
                    rows.add(bench.firstWrites(rounds, snapshots, 128, 65536, ">= 0.3"));
                    rows.add(bench.firstWrites(rounds, snapshots, 128, 4096, "-"));
                    rows.add(bench.firstWrites(rounds, snapshots, 8, 4096, snapshots == 1 ? ">= 0.3" : "-"));
                }
            }
            if (cases.contains("overwrite")) {
                rows.add(bench.overwrites(rounds));
            }
            if (cases.contains("read")) {
                rows.add(bench.snapshotReads(rounds));
            }
            if (cases.contains("merge")) {
                rows.add(bench.merge(rounds));
            }
            System.out.println();
            System.out.println("| case | linear | snapshot | snapshot/linear (median) | min..max | per CPU second, snapshot/linear | goal |");
            System.out.println("|---|---:|---:|---:|---:|---:|---:|");
            rows.forEach(System.out::println);
            if (cases.contains("heap")) {
                System.out.println();
                bench.heapPerException();
            }
        } finally {
            bench.dm.close();
            ThinBenchmark.deleteTree(dir);
        }
    }

    /** One side of a round: runs its I/O and answers what the measured part of it took. */
    @FunctionalInterface
    private interface Timed {
        Took run() throws Exception;
    }

    /**
     * Wall time, and CPU time, which tells what a side needs from the cores however many of them other people's
     * builds left it: for I/O cases the I/O threads' own (the snapshot targets copy and commit in the writing
     * thread; per-thread CPU clocks count in nanoseconds), for the merge, which runs on the target's thread, the
     * whole process's (whose clock may tick in 10 ms steps here: the merge rounds take longer than that).
     */
    private record Took(long wallNanos, long cpuNanos) {
        static Took since(long wallStart, long cpuStart) {
            return new Took(System.nanoTime() - wallStart, OS.getProcessCpuTime() - cpuStart);
        }
    }

    /**
     * Runs a case's rounds, the two sides one right after the other, and prints one table row: each side's
     * median rate and the median and spread of the per-round ratios (snapshot rate over linear rate).
     */
    private String rounds(String name, String unit, double work, int rounds, Timed linear, Timed snapshot, String goal)
            throws Exception {
        List<Double> linearRates = new ArrayList<>();
        List<Double> snapshotRates = new ArrayList<>();
        List<Double> ratios = new ArrayList<>();
        long linearCpu = 0;
        long snapshotCpu = 0;
        for (int round = 0; round < rounds; round++) {
            Took l;
            Took s;
            if (round % 2 == 0) {
                l = linear.run();
                s = snapshot.run();
            } else {
                s = snapshot.run();
                l = linear.run();
            }
            if (round >= WARM_UP_ROUNDS) {
                linearRates.add(work * 1e9 / l.wallNanos());
                snapshotRates.add(work * 1e9 / s.wallNanos());
                ratios.add((double) l.wallNanos() / s.wallNanos());
                linearCpu += l.cpuNanos();
                snapshotCpu += s.cpuNanos();
            }
        }
        String row = String.format(Locale.ROOT, "| %s | %,.0f %s | %,.0f %s | %.3f | %.3f..%.3f | %.3f | %s |", name, median(linearRates), unit,
                median(snapshotRates), unit, median(ratios), min(ratios), max(ratios), (double) linearCpu / snapshotCpu, goal);
        System.out.println(row);
        return row;
    }

    /** (a) Writes of {@code io} bytes at the start of {@link #BATCH_CHUNKS} chunks no snapshot has copied. */
    private String firstWrites(int rounds, int snapshots, int chunkSectors, int io, String goal) throws Exception {
        int chunkBytes = chunkSectors * SECTOR;
        ByteBuffer data = pattern(io, 1);
        long[] offsets = new long[BATCH_CHUNKS];
        for (int i = 0; i < offsets.length; i++) {
            offsets[i] = (long) i * chunkBytes;
        }
        MappedDevice linear = linear("linear");
        Timed viaLinear = () -> timedWrites(linear, offsets, data);
        Timed viaSnapshots = () -> {
            List<String> names = freshSnapshots(snapshots, chunkSectors, BATCH_CHUNKS);
            try {
                return timedWrites(dm.device("origin"), offsets, data);
            } finally {
                dropSnapshots(names);
            }
        };
        try {
            return rounds(String.format(Locale.ROOT, "(a) origin writes of %d KiB into uncopied %d KiB chunks, %d snapshot%s",
                    io / 1024, chunkBytes / 1024, snapshots, snapshots == 1 ? "" : "s"), "writes/s", BATCH_CHUNKS, rounds,
                    viaLinear, viaSnapshots, goal);
        } finally {
            dm.remove("linear", false, false);
            dm.remove("origin", false, false);
        }
    }

    /** (b) 4 KiB random overwrites inside chunks the (one) snapshot has already copied. */
    private String overwrites(int rounds) throws Exception {
        int chunkSectors = 128;
        long region = (long) BATCH_CHUNKS * chunkSectors * SECTOR;
        MappedDevice linear = linear("linear");
        List<String> names = freshSnapshots(1, chunkSectors, BATCH_CHUNKS);
        try {
            MappedDevice originDevice = dm.device("origin");
            ByteBuffer chunk = pattern(chunkSectors * SECTOR, 2);
            for (long at = 0; at < region; at += chunk.capacity()) {
                originDevice.write(at, chunk.duplicate(), false);
            }
            originDevice.flush();
            long[] offsets = randomOffsets(OVERWRITES, region, 4096, 3);
            ByteBuffer data = pattern(4096, 4);
            return rounds("(b) 4 KiB overwrites of copied chunks (64 KiB), 1 snapshot", "writes/s", OVERWRITES, rounds,
                    () -> timedWrites(linear, offsets, data), () -> timedWrites(originDevice, offsets, data), ">= 0.9");
        } finally {
            dropSnapshots(names);
            dm.remove("linear", false, false);
            dm.remove("origin", false, false);
        }
    }

    /** (c) 4 KiB random reads of a snapshot whose every other chunk was copied (then overwritten on the origin). */
    private String snapshotReads(int rounds) throws Exception {
        int chunkSectors = 128;
        int chunkBytes = chunkSectors * SECTOR;
        long region = (long) BATCH_CHUNKS * chunkBytes;
        MappedDevice linear = linear("linear");
        List<String> names = freshSnapshots(1, chunkSectors, BATCH_CHUNKS);
        try {
            MappedDevice originDevice = dm.device("origin");
            ByteBuffer chunk = pattern(chunkBytes, 5);
            for (long at = 0; at < region; at += 2L * chunkBytes) {
                originDevice.write(at, chunk.duplicate(), false);
            }
            originDevice.flush();
            MappedDevice snapshot = dm.device(names.getFirst());
            long[] offsets = randomOffsets(READS, region, 4096, 6);
            return rounds("(c) 4 KiB reads of a snapshot, half its chunks copied", "reads/s", READS, rounds,
                    () -> timedReads(linear, offsets), () -> timedReads(snapshot, offsets), ">= 0.9");
        } finally {
            dropSnapshots(names);
            dm.remove("linear", false, false);
            dm.remove("origin", false, false);
        }
    }

    /**
     * (d) A snapshot with {@link #BATCH_CHUNKS} exceptions of 64 KiB merged back: from the resume of the
     * {@code snapshot-merge} table until its status shows no exceptions left; against copying the same chunks
     * from the COW file to the origin file (64 KiB reads and writes) and an fsync of the origin.
     */
    private String merge(int rounds) throws Exception {
        int chunkSectors = 128;
        int chunkBytes = chunkSectors * SECTOR;
        ByteBuffer chunk = pattern(chunkBytes, 7);
        Timed plainCopy = () -> {
            Path cow = sparse("copy-source", (long) (BATCH_CHUNKS + 2) * chunkBytes);
            fill(cow, (long) BATCH_CHUNKS * chunkBytes);
            try (FileChannel from = FileChannel.open(cow, StandardOpenOption.READ);
                 FileChannel to = FileChannel.open(origin, StandardOpenOption.WRITE)) {
                ByteBuffer buffer = ByteBuffer.allocateDirect(chunkBytes);
                long start = System.nanoTime();
                long cpu = OS.getProcessCpuTime();
                for (int i = 0; i < BATCH_CHUNKS; i++) {
                    from.read(buffer.clear(), (long) i * chunkBytes);
                    to.write(buffer.flip(), (long) i * chunkBytes);
                }
                to.force(false);
                return Took.since(start, cpu);
            } finally {
                Files.delete(cow);
            }
        };
        Timed snapshotMerge = () -> {
            List<String> names = freshSnapshots(1, chunkSectors, BATCH_CHUNKS);
            MappedDevice originDevice = dm.device("origin");
            for (int i = 0; i < BATCH_CHUNKS; i++) {
                originDevice.write((long) i * chunkBytes, chunk.duplicate(), false);
            }
            originDevice.flush();
            String cow = dm.table(names.getFirst(), false).getFirst().params().split(" ")[1];
            dm.remove(names.getFirst(), false, false);
            String mergeTable = "0 " + ORIGIN_BYTES / SECTOR + " snapshot-merge " + origin + " " + cow + " P " + chunkSectors;
            dm.suspend("origin", false);
            dm.load("origin", mergeTable, false);
            long seen = dm.info("origin").eventNumber();
            long start = System.nanoTime();
            long cpu = OS.getProcessCpuTime();
            dm.resume("origin");
            // The target raises an event when the merge ends; polling the status would take CPU from the merge.
            while (!mergeDone(dm.status("origin", false).getFirst().params())) {
                seen = dm.waitEvent("origin", seen, 1000).eventNumber();
            }
            Took took = Took.since(start, cpu);
            dm.remove("origin", false, false);
            Files.delete(Path.of(cow));
            return took;
        };
        return rounds("(d) merge of " + BATCH_CHUNKS + " exceptions of 64 KiB vs a plain copy of the same bytes", "MiB/s",
                (double) BATCH_CHUNKS * chunkBytes / (1 << 20), rounds, plainCopy, snapshotMerge, ">= 0.7");
    }

    /** The kernel's rule: a merge is done when the allocated sectors are down to the metadata sectors. */
    private static boolean mergeDone(String status) {
        String[] usage = status.split("[/ ]");
        if (usage.length != 3) {
            throw new IllegalStateException("the merge reports " + status);
        }
        return usage[0].equals(usage[2]);
    }

    /**
     * (e) Heap held per exception: a COW with {@link #HEAP_EXCEPTIONS} exceptions of 4 KiB chunks, written in the
     * kernel's format, loaded by a snapshot table; used heap after a GC, before and after.
     */
    private void heapPerException() throws Exception {
        int chunkSectors = 8;
        int chunkBytes = chunkSectors * SECTOR;
        int perArea = chunkBytes / 16;
        int areas = HEAP_EXCEPTIONS / perArea;
        long cowChunks = 1 + (long) areas * (perArea + 1) + 1;
        Path cow = sparse("heap-cow", cowChunks * chunkBytes);
        Path bigOrigin = sparse("heap-origin", (long) HEAP_EXCEPTIONS * chunkBytes);
        try (FileChannel c = FileChannel.open(cow, StandardOpenOption.WRITE)) {
            ByteBuffer header = ByteBuffer.allocate(chunkBytes).order(ByteOrder.LITTLE_ENDIAN);
            header.putInt(0x70416e53).putInt(1).putInt(1).putInt(chunkSectors).clear();
            c.write(header, 0);
            ByteBuffer area = ByteBuffer.allocate(chunkBytes).order(ByteOrder.LITTLE_ENDIAN);
            long oldChunk = 0;
            for (int a = 0; a < areas; a++) {
                long areaChunk = 1 + (long) a * (perArea + 1);
                area.clear();
                for (int e = 0; e < perArea; e++) {
                    area.putLong(oldChunk++).putLong(areaChunk + 1 + e);
                }
                c.write(area.flip(), areaChunk * chunkBytes);
            }
        }
        try {
            long before = Heap.used();
            dm.create("heap", null, "0 " + (long) HEAP_EXCEPTIONS * chunkSectors + " snapshot " + bigOrigin + " " + cow + " P "
                    + chunkSectors, false);
            long after = Heap.used();
            String status = dm.status("heap", false).getFirst().params();
            System.out.printf(Locale.ROOT, "(e) heap held by a snapshot of %,d exceptions (4 KiB chunks; status %s): %.1f MiB, %.1f bytes per exception%n",
                    HEAP_EXCEPTIONS, status, (after - before) / 1048576.0, (double) (after - before) / HEAP_EXCEPTIONS);
            dm.remove("heap", false, false);
        } finally {
            Files.delete(cow);
            Files.delete(bigOrigin);
        }
    }

    private MappedDevice linear(String name) throws Exception {
        dm.create(name, null, "0 " + ORIGIN_BYTES / SECTOR + " linear " + origin + " 0", false);
        return dm.device(name);
    }

    /**
     * {@code count} new snapshots of the origin, each on an empty sparse COW with room for {@code chunks}
     * exceptions (and their metadata areas), and the snapshot-origin device over the origin file.
     */
    private List<String> freshSnapshots(int count, int chunkSectors, int chunks) throws Exception {
        if (!dm.names().contains("origin")) {
            dm.create("origin", null, "0 " + ORIGIN_BYTES / SECTOR + " snapshot-origin " + origin, false);
        }
        long chunkBytes = (long) chunkSectors * SECTOR;
        long perArea = chunkBytes / 16;
        long cowChunks = 2 + chunks + (chunks + perArea - 1) / perArea + 1;
        List<String> names = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            String name = "snap" + generation++;
            Path cow = sparse(name + ".cow", cowChunks * chunkBytes);
            if (ALLOCATED_COW) {
                fill(cow, cowChunks * chunkBytes);
                zeroHeader(cow, chunkBytes);
            }
            dm.create(name, null, "0 " + ORIGIN_BYTES / SECTOR + " snapshot " + origin + " " + cow + " P " + chunkSectors, false);
            names.add(name);
        }
        return names;
    }

    private void dropSnapshots(List<String> names) throws Exception {
        for (String name : names) {
            dm.remove(name, false, false);
            Files.delete(dir.resolve(name + ".cow"));
        }
    }

    /** Writes {@code data} at every offset, split among {@link #THREADS} threads, then a flush: the time of it all. */
    private static Took timedWrites(MappedDevice device, long[] offsets, ByteBuffer data) throws Exception {
        long start = System.nanoTime();
        long cpu = -THREADS_CPU.getCurrentThreadCpuTime();
        cpu += inThreads(offsets, (at, buffer) -> device.write(at, buffer, false), data);
        device.flush();
        cpu += THREADS_CPU.getCurrentThreadCpuTime();
        return new Took(System.nanoTime() - start, cpu);
    }

    private static Took timedReads(MappedDevice device, long[] offsets) throws Exception {
        long start = System.nanoTime();
        long cpu = inThreads(offsets, device::read, ByteBuffer.allocateDirect(4096));
        return new Took(System.nanoTime() - start, cpu);
    }

    @FunctionalInterface
    private interface Io {
        void at(long offset, ByteBuffer buffer) throws IOException;
    }

    /**
     * Thread t does offsets t, t + THREADS, ...; each with its own copy of {@code template}. Answers the CPU time
     * the threads took for their I/O.
     */
    private static long inThreads(long[] offsets, Io io, ByteBuffer template) throws Exception {
        try (ExecutorService pool = Executors.newFixedThreadPool(THREADS)) {
            List<Future<Long>> done = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int first = t;
                done.add(pool.submit(() -> {
                    ByteBuffer buffer = ByteBuffer.allocateDirect(template.capacity()).put(template.duplicate().clear()).flip();
                    long cpu = THREADS_CPU.getCurrentThreadCpuTime();
                    for (int i = first; i < offsets.length; i += THREADS) {
                        io.at(offsets[i], buffer.clear());
                    }
                    return THREADS_CPU.getCurrentThreadCpuTime() - cpu;
                }));
            }
            long cpu = 0;
            for (Future<Long> f : done) {
                cpu += f.get();
            }
            return cpu;
        }
    }

    private static long[] randomOffsets(int count, long region, int io, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        long[] offsets = new long[count];
        for (int i = 0; i < count; i++) {
            offsets[i] = random.nextLong(region / io) * io;
        }
        return offsets;
    }

    private Path sparse(String name, long bytes) throws IOException {
        return ThinBenchmark.sparse(dir, name, bytes);
    }

    /** A COW that starts as a blank store: magic 0 in its first chunk, as lvcreate leaves a new COW volume. */
    private static void zeroHeader(Path file, long chunkBytes) throws IOException {
        try (FileChannel c = FileChannel.open(file, StandardOpenOption.WRITE)) {
            c.write(ByteBuffer.allocate((int) chunkBytes), 0);
            c.force(false);
        }
    }

    /** Writes {@code bytes} of a pattern into the file, so neither side writes into holes. */
    private static void fill(Path file, long bytes) throws IOException {
        try (FileChannel c = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            ByteBuffer block = pattern(1 << 20, 9);
            for (long at = 0; at < bytes; at += block.capacity()) {
                c.write(block.clear(), at);
            }
            c.force(false);
        }
    }

    private static ByteBuffer pattern(int bytes, long seed) {
        byte[] b = new byte[bytes];
        new SplittableRandom(seed).nextBytes(b);
        return ByteBuffer.allocateDirect(bytes).put(b).flip();
    }

    private static double median(List<Double> values) {
        double[] v = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    private static double min(List<Double> values) {
        return values.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN);
    }

    private static double max(List<Double> values) {
        return values.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
    }
}
