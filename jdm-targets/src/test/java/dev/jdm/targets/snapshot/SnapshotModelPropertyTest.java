package dev.jdm.targets.snapshot;

import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.core.testing.TestFiles;
import dev.jdm.core.testing.TestPattern;
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
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * Random writes and discards to an origin and up to three persistent snapshots of it (chunk sizes 8, 16 and 32
 * sectors) against a model of every device's bytes; at random points and at the end every table is removed and
 * rebuilt from the same files (the restart case) and compared again.
 */
class SnapshotModelPropertyTest {
    private static final int ORIGIN_BYTES = 256 << 10;
    private static final long COW_SECTORS = 1024;
    private static final int ORIGIN = -1;

    sealed interface Op {
    }

    record Snap(int id) implements Op {
    }

    record Write(int device, int offset, int length, long seed) implements Op {
    }

    record Discard(int device, int offset, int length) implements Op {
    }

    record Restart() implements Op {
    }

    @Provide
    Arbitrary<List<Op>> operations() {
        Arbitrary<Integer> device = Arbitraries.integers().between(ORIGIN, 2);
        Arbitrary<Integer> offset = Arbitraries.integers().between(0, ORIGIN_BYTES / 512 - 1).map(s -> s * 512);
        Arbitrary<Integer> length = Arbitraries.integers().between(1, 80).map(s -> s * 512);
        Arbitrary<Op> op = Arbitraries.frequencyOf(
                Tuple.of(2, Arbitraries.integers().between(0, 2).map(Snap::new)),
                Tuple.of(8, Combinators.combine(device, offset, length, Arbitraries.longs()).as(Write::new)),
                Tuple.of(2, Combinators.combine(device, offset, length).as(Discard::new)),
                Tuple.of(1, Arbitraries.just(new Restart())));
        return op.list().ofMinSize(5).ofMaxSize(40);
    }

    @Property(tries = 25)
    void everyDeviceReadsAsTheModelSaysBeforeAndAfterRestarting(@ForAll("operations") List<Op> ops) throws Exception {
        TestFiles.inTemporaryFolder("snapshot-model", dir -> new Run(dir).run(ops));
    }

    @net.jqwik.api.Example
    void snapshotsOfSnapshotTimesKeepTheirOwnPointInTime() throws Exception {
        everyDeviceReadsAsTheModelSaysBeforeAndAfterRestarting(List.of(new Write(ORIGIN, 0, 8192, 1), new Snap(0),
                new Write(ORIGIN, 4096, 8192, 2), new Snap(1), new Write(ORIGIN, 0, 20480, 3), new Write(1, 512, 512, 4),
                new Discard(1, 0, 8192), new Restart(), new Discard(ORIGIN, 0, 4096), new Snap(2),
                new Write(2, 16384, 4096, 5)));
    }

    private static int chunkBytes(int snapshot) {
        return (8 << snapshot) * 512;
    }

    /** One sequence: the engine and the model side by side. */
    private static final class Run {
        private final Path dir;
        private final Path originFile;
        private final byte[] origin = new byte[ORIGIN_BYTES];
        private final Map<Integer, byte[]> snapshots = new TreeMap<>();
        /** The chunks each snapshot holds an exception for. */
        private final Map<Integer, BitSet> exceptions = new TreeMap<>();
        private DeviceMapper dm;

        Run(Path dir) throws IOException {
            this.dir = dir;
            this.originFile = TestFiles.sparse(dir, "origin", ORIGIN_BYTES);
        }

        void run(List<Op> ops) throws Exception {
            open();
            try {
                for (Op op : ops) {
                    apply(op);
                }
                restart();
            } finally {
                dm.removeAll(true);
                dm.close();
            }
        }

        private void open() throws Exception {
            dm = DeviceMapper.create();
            long sectors = ORIGIN_BYTES / 512;
            dm.create("base-real", null, "0 " + sectors + " linear " + originFile + " 0", false);
            dm.create("base", null, "0 " + sectors + " snapshot-origin /dev/mapper/base-real", false);
            for (int id : snapshots.keySet()) {
                activate(id, "P 0"); // the chunk size comes from the header
            }
            compareAll();
        }

        private void restart() throws Exception {
            dm.removeAll(false);
            dm.close();
            open();
        }

        private void activate(int id, String store) throws Exception {
            dm.create("s" + id + "-cow", null, "0 " + COW_SECTORS + " linear " + dir.resolve("cow" + id) + " 0", false);
            dm.suspend("base", false);
            dm.create("s" + id, null, "0 " + ORIGIN_BYTES / 512 + " snapshot /dev/mapper/base-real /dev/mapper/s" + id
                    + "-cow " + store + " 1 discard_zeroes_cow", false);
            dm.resume("base");
        }

        private MappedDevice device(int id) throws Exception {
            return dm.device(id == ORIGIN ? "base" : "s" + id);
        }

        private byte[] model(int id) {
            return id == ORIGIN ? origin : snapshots.get(id);
        }

        /** An origin change: every snapshot lacking an exception for a touched chunk gets one first. */
        private void copyOut(int offset, int length) {
            for (int id : snapshots.keySet()) {
                int chunk = chunkBytes(id);
                for (int c = offset / chunk; c <= (offset + length - 1) / chunk; c++) {
                    exceptions.get(id).set(c);
                }
            }
        }

        private void apply(Op op) throws Exception {
            switch (op) {
                case Snap s when !snapshots.containsKey(s.id()) -> {
                    TestFiles.sparse(dir, "cow" + s.id(), COW_SECTORS * 512);
                    activate(s.id(), "P " + chunkBytes(s.id()) / 512);
                    snapshots.put(s.id(), origin.clone());
                    exceptions.put(s.id(), new BitSet());
                }
                case Write w when w.device() == ORIGIN || snapshots.containsKey(w.device()) -> {
                    int length = Math.min(w.length(), ORIGIN_BYTES - w.offset());
                    byte[] bytes = TestPattern.pattern(length, w.seed());
                    device(w.device()).write(w.offset(), ByteBuffer.wrap(bytes), false);
                    if (w.device() == ORIGIN) {
                        copyOut(w.offset(), length);
                    } else {
                        int chunk = chunkBytes(w.device());
                        exceptions.get(w.device()).set(w.offset() / chunk, (w.offset() + length - 1) / chunk + 1);
                    }
                    System.arraycopy(bytes, 0, model(w.device()), w.offset(), length);
                    compareAll();
                }
                case Discard d when d.device() == ORIGIN -> {
                    int length = Math.min(d.length(), ORIGIN_BYTES - d.offset());
                    device(ORIGIN).discard(d.offset(), length);
                    copyOut(d.offset(), length);
                    Arrays.fill(origin, d.offset(), d.offset() + length, (byte) 0); // a punched hole in the file
                    compareAll();
                }
                case Discard d when snapshots.containsKey(d.device()) -> {
                    // discard_zeroes_cow: the ranges of chunks with an exception read zeroes; others keep theirs.
                    int length = Math.min(d.length(), ORIGIN_BYTES - d.offset());
                    device(d.device()).discard(d.offset(), length);
                    int chunk = chunkBytes(d.device());
                    for (int at = d.offset(); at < d.offset() + length; at = (at / chunk + 1) * chunk) {
                        int end = Math.min(d.offset() + length, (at / chunk + 1) * chunk);
                        if (exceptions.get(d.device()).get(at / chunk)) {
                            Arrays.fill(snapshots.get(d.device()), at, end, (byte) 0);
                        }
                    }
                    compareAll();
                }
                case Restart r -> restart();
                default -> {
                }
            }
        }

        private void compareAll() throws Exception {
            compare(ORIGIN);
            for (int id : snapshots.keySet()) {
                compare(id);
            }
        }

        private void compare(int id) throws Exception {
            ByteBuffer b = ByteBuffer.allocate(ORIGIN_BYTES);
            device(id).read(0, b);
            assertArrayEquals(model(id), b.array(), id == ORIGIN ? "origin" : "snapshot " + id);
        }
    }
}
