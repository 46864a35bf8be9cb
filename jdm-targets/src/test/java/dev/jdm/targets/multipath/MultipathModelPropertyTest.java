package dev.jdm.targets.multipath;

import dev.jdm.core.engine.MappedDevice;
import dev.jdm.core.testing.TestFiles;
import dev.jdm.core.testing.TestPattern;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * Random reads and writes through a multipath device of three paths in two groups, with random selectors,
 * while paths are failed and reinstated by message and path devices break (an error table) and are repaired;
 * one path that is both in use and working is always left. Every read returns what a byte-array model holds.
 */
class MultipathModelPropertyTest {
    private static final int PATHS = 3;

    sealed interface Op {
    }

    record Write(int offset, int length, long seed) implements Op {
    }

    record Read(int offset, int length) implements Op {
    }

    record FailPath(int path) implements Op {
    }

    record ReinstatePath(int path) implements Op {
    }

    record Break(int path) implements Op {
    }

    record Repair(int path) implements Op {
    }

    record Setup(String selector1, String selector2, int initialGroup, boolean queueIfNoPath) {
        String table() {
            return (queueIfNoPath ? "1 queue_if_no_path" : "0") + " 0 2 " + initialGroup
                    + " " + selector1 + " 0 2 0 /dev/mapper/p1 /dev/mapper/p2 " + selector2 + " 0 1 0 /dev/mapper/p3";
        }
    }

    @Provide
    Arbitrary<Setup> setups() {
        Arbitrary<String> selector = Arbitraries.of("round-robin", "queue-length", "service-time", "historical-service-time");
        return Combinators.combine(selector, selector, Arbitraries.integers().between(1, 2), Arbitraries.of(true, false))
                .as(Setup::new);
    }

    @Provide
    Arbitrary<List<Op>> operations() {
        Arbitrary<Integer> offset = Arbitraries.integers().between(0, MultipathFixture.SECTORS - 64).map(s -> s * 512);
        Arbitrary<Integer> length = Arbitraries.integers().between(1, 64).map(s -> s * 512);
        Arbitrary<Integer> path = Arbitraries.integers().between(1, PATHS);
        Arbitrary<Op> op = Arbitraries.frequencyOf(
                Tuple.of(6, Combinators.combine(offset, length, Arbitraries.longs()).as(Write::new)),
                Tuple.of(6, Combinators.combine(offset, length).as(Read::new)),
                Tuple.of(2, path.map(FailPath::new)),
                Tuple.of(2, path.map(ReinstatePath::new)),
                Tuple.of(2, path.map(Break::new)),
                Tuple.of(2, path.map(Repair::new)));
        return op.list().ofMinSize(5).ofMaxSize(40);
    }

    @Property(tries = 20)
    void everyReadReturnsTheModelsBytes(@ForAll("setups") Setup setup, @ForAll("operations") List<Op> ops) throws Exception {
        TestFiles.inTemporaryFolder("multipath-model", dir -> {
            try (MultipathFixture f = new MultipathFixture(dir, PATHS)) {
                new Run(f, setup).run(ops);
            }
        });
    }

    @Example
    void brokenPathsAreFailedOnTheWayAndReinstatedOnesServeAgain() throws Exception {
        everyReadReturnsTheModelsBytes(new Setup("round-robin", "queue-length", 1, false), List.of(
                new Write(0, 8192, 1), new Break(1), new Read(0, 8192), new Write(4096, 4096, 2), new Break(2),
                new Read(0, 8192), new Repair(1), new ReinstatePath(1), new FailPath(3), new Read(0, 8192)));
    }

    private static final class Run {
        private final MultipathFixture f;
        private final MappedDevice mp;
        private final byte[] model = TestPattern.pattern(MultipathFixture.BYTES, MultipathFixture.SEED);
        private final boolean[] works = {true, true, true};

        Run(MultipathFixture f, Setup setup) throws Exception {
            this.f = f;
            f.create("mp", setup.table());
            mp = f.device("mp");
        }

        /** Whether the map has path {@code i} (1-based) in use, from its status line. */
        private boolean active(int i) throws Exception {
            return f.status("mp").contains(" 253:" + (i - 1) + " A ");
        }

        /** Whether some path other than {@code except} is in use and works (so an I/O will find one). */
        private boolean anotherServes(int except) throws Exception {
            for (int i = 1; i <= PATHS; i++) {
                if (i != except && works[i - 1] && active(i)) {
                    return true;
                }
            }
            return false;
        }

        void run(List<Op> ops) throws Exception {
            for (Op op : ops) {
                switch (op) {
                    case Write w -> {
                        byte[] data = TestPattern.pattern(w.length(), w.seed());
                        mp.write(w.offset(), ByteBuffer.wrap(data), false);
                        System.arraycopy(data, 0, model, w.offset(), w.length());
                    }
                    case Read r -> assertArrayEquals(Arrays.copyOfRange(model, r.offset(), r.offset() + r.length()),
                            MultipathFixture.read(mp, r.offset(), r.length()), op.toString());
                    case FailPath p -> {
                        if (anotherServes(p.path())) {
                            f.message("mp", "fail_path", "/dev/mapper/p" + p.path());
                        }
                    }
                    case ReinstatePath p -> f.message("mp", "reinstate_path", "253:" + (p.path() - 1));
                    case Break b -> {
                        if (anotherServes(b.path())) {
                            f.breakPath(b.path());
                            works[b.path() - 1] = false;
                        }
                    }
                    case Repair r -> {
                        f.repairPath(r.path());
                        works[r.path() - 1] = true;
                    }
                }
            }
            assertArrayEquals(model, MultipathFixture.read(mp, 0, MultipathFixture.BYTES), "the whole device at the end");
        }
    }
}
