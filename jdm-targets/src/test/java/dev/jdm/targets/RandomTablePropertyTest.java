package dev.jdm.targets;

import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.core.engine.TargetLine;
import dev.jdm.core.testing.ReferenceModel;
import dev.jdm.core.testing.TestFiles;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Random tables of linear, striped and zero lines over several backing files, driven by concurrent
 * random reads, writes and write-zeroes aimed at target and chunk boundaries, checked byte for byte
 * against {@link ReferenceModel}: the device's reads, and afterwards the backing files themselves.
 */
class RandomTablePropertyTest {
    private static final int THREADS = 4;
    private static final int OPS_PER_THREAD = 40;
    private static final int MAX_IO = 64 * 1024;

    /** One generated table line, in sectors; which file each piece uses is taken modulo the file count. */
    sealed interface LineSpec {
    }

    record ZeroSpec(int length) implements LineSpec {
    }

    record LinearSpec(int length, int file, int gap) implements LineSpec {
    }

    record StripedSpec(int stripes, int chunk, int chunksPerStripe, List<Integer> files, List<Integer> gaps) implements LineSpec {
    }

    record TableSpec(int fileCount, List<LineSpec> lines) {
    }

    @Provide
    Arbitrary<TableSpec> tables() {
        Arbitrary<LineSpec> zero = Arbitraries.integers().between(1, 256).map(ZeroSpec::new);
        Arbitrary<LineSpec> linear = Combinators.combine(Arbitraries.integers().between(1, 512),
                Arbitraries.integers().between(0, 3), Arbitraries.integers().between(0, 64)).as(LinearSpec::new);
        Arbitrary<LineSpec> striped = Combinators.combine(Arbitraries.integers().between(1, 4),
                Arbitraries.integers().between(1, 32), Arbitraries.integers().between(1, 8),
                Arbitraries.integers().between(0, 3).list().ofSize(4),
                Arbitraries.integers().between(0, 64).list().ofSize(4)).as(StripedSpec::new);
        Arbitrary<List<LineSpec>> lines = Arbitraries.frequencyOf(Tuple.of(1, zero), Tuple.of(3, linear), Tuple.of(3, striped))
                .list().ofMinSize(1).ofMaxSize(6);
        return Combinators.combine(Arbitraries.integers().between(2, 4), lines).as(TableSpec::new);
    }

    /** The table text, the model, and the backing files it needs, laid out without overlaps. */
    private record Layout(String table, List<String> expectedTable, ReferenceModel model, List<Path> files) {
    }

    private static Layout layout(TableSpec spec, Path dir) throws IOException {
        long[] cursor = new long[spec.fileCount()];
        List<Path> files = new ArrayList<>();
        for (int i = 0; i < spec.fileCount(); i++) {
            files.add(dir.resolve("f" + i + ".img"));
        }
        StringBuilder table = new StringBuilder();
        List<String> expected = new ArrayList<>();
        List<ReferenceModel.Segment> segments = new ArrayList<>();
        long start = 0;
        for (LineSpec line : spec.lines()) {
            String text = switch (line) {
                case ZeroSpec z -> {
                    segments.add(new ReferenceModel.Zero(z.length() * 512L));
                    yield start + " " + z.length() + " zero";
                }
                case LinearSpec l -> {
                    int file = l.file() % spec.fileCount();
                    long offset = cursor[file] + l.gap();
                    cursor[file] = offset + l.length();
                    segments.add(new ReferenceModel.Linear(l.length() * 512L, file, offset * 512));
                    yield start + " " + l.length() + " linear " + files.get(file) + " " + offset;
                }
                case StripedSpec s -> {
                    long perStripe = (long) s.chunk() * s.chunksPerStripe();
                    int[] stripeFiles = new int[s.stripes()];
                    long[] offsets = new long[s.stripes()];
                    StringBuilder args = new StringBuilder();
                    for (int i = 0; i < s.stripes(); i++) {
                        stripeFiles[i] = s.files().get(i) % spec.fileCount();
                        long offset = cursor[stripeFiles[i]] + s.gaps().get(i);
                        cursor[stripeFiles[i]] = offset + perStripe;
                        offsets[i] = offset * 512;
                        args.append(' ').append(files.get(stripeFiles[i])).append(' ').append(offset);
                    }
                    segments.add(new ReferenceModel.Striped(perStripe * s.stripes() * 512, s.chunk() * 512L, stripeFiles, offsets));
                    yield start + " " + perStripe * s.stripes() + " striped " + s.stripes() + " " + s.chunk() + args;
                }
            };
            long length = Long.parseLong(text.split(" ")[1]);
            table.append(text).append('\n');
            expected.add(text.split(" ").length == 3 ? text + " " : text);
            start += length;
        }
        long[] sizes = new long[spec.fileCount()];
        for (int i = 0; i < sizes.length; i++) {
            sizes[i] = (cursor[i] + 8) * 512; // a little slack past the last mapped sector
            TestFiles.sparse(dir, "f" + i + ".img", sizes[i]);
        }
        return new Layout(table.toString(), expected, new ReferenceModel(segments, sizes), files);
    }

    @Property(tries = 40, seed = "20261125")
    void concurrentIoThroughRandomTablesMatchesTheModel(@ForAll("tables") TableSpec spec, @ForAll long workloadSeed) throws Exception {
        Path dir = Files.createTempDirectory("jdm-property-");
        try (DeviceMapper dm = DeviceMapper.create()) {
            Layout layout = layout(spec, dir);
            dm.create("p", null, layout.table(), false);
            assertEquals(layout.expectedTable(), dm.table("p", false).stream().map(TargetLine::format).toList());
            MappedDevice md = dm.device("p");
            ReferenceModel model = layout.model();
            assertEquals(model.size(), md.size());

            // Each thread owns a slice of the device; slices map to disjoint bytes of the files.
            long slice = model.size() / THREADS;
            try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                List<Future<?>> done = new ArrayList<>();
                for (int t = 0; t < THREADS; t++) {
                    long from = t * slice;
                    long to = t == THREADS - 1 ? model.size() : from + slice;
                    SplittableRandom random = new SplittableRandom(workloadSeed + t);
                    done.add(pool.submit(() -> {
                        runWorkload(md, model, from, to, random);
                        return null;
                    }));
                }
                for (Future<?> f : done) {
                    f.get();
                }
            }
            assertArrayEquals(model.read(0, (int) model.size()), readAll(md, model.size()));
            md.flush();
            for (int i = 0; i < layout.files().size(); i++) {
                assertArrayEquals(model.file(i), Files.readAllBytes(layout.files().get(i)), "backing file " + i);
            }
        } finally {
            try (Stream<Path> files = Files.walk(dir)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
    }

    private static void runWorkload(MappedDevice md, ReferenceModel model, long from, long to, SplittableRandom random) throws IOException {
        if (to <= from) {
            return;
        }
        List<Long> boundaries = model.boundaries().stream().filter(b -> b > from && b < to).toList();
        for (int op = 0; op < OPS_PER_THREAD; op++) {
            long offset;
            if (!boundaries.isEmpty() && random.nextBoolean()) {
                long b = boundaries.get(random.nextInt(boundaries.size()));
                offset = Math.max(from, b - 1 - random.nextInt(2048));
            } else {
                offset = from + random.nextLong(to - from);
            }
            int length = (int) Math.min(to - offset, 1 + random.nextInt(MAX_IO));
            int kind = random.nextInt(10);
            if (kind < 5) {
                byte[] data = new byte[length];
                random.nextBytes(data);
                ByteBuffer src = random.nextBoolean() ? ByteBuffer.wrap(data) : ByteBuffer.allocateDirect(length).put(data).flip();
                md.write(offset, src, random.nextInt(8) == 0);
                model.write(offset, data);
            } else if (kind < 6) {
                md.writeZeroes(offset, length, random.nextBoolean());
                model.write(offset, new byte[length]);
            } else {
                ByteBuffer dst = ByteBuffer.allocate(length);
                md.read(offset, dst);
                byte[] expected = model.read(offset, length);
                if (!Arrays.equals(expected, dst.array())) {
                    throw new AssertionError("read of " + length + " bytes at " + offset + " differs from the model");
                }
            }
        }
    }

    private static byte[] readAll(MappedDevice md, long size) throws IOException {
        ByteBuffer all = ByteBuffer.allocate((int) size);
        md.read(0, all);
        return all.array();
    }
}
