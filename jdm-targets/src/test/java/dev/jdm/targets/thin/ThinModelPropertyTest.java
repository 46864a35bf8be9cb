package dev.jdm.targets.thin;

import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.core.testing.TestFiles;
import dev.jdm.core.testing.TestPattern;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static dev.jdm.core.testing.TestPattern.pattern;
import static dev.jdm.targets.thin.ThinFixture.BLOCK;
import static dev.jdm.targets.thin.ThinFixture.BLOCK_SECTORS;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Random messages and I/O over several thin devices against a model of every device's bytes; at the end,
 * and at random points, the pool is closed and reopened from its metadata file and compared again.
 */
class ThinModelPropertyTest {
    private static final int DEVICE_BLOCKS = 12;
    private static final int DEVICE_BYTES = DEVICE_BLOCKS * BLOCK;
    private static final int DATA_BLOCKS = 128;

    sealed interface Op {
    }

    record CreateThin(int id) implements Op {
    }

    record CreateSnap(int id, int origin) implements Op {
    }

    record Delete(int id) implements Op {
    }

    record Write(int id, int offset, int length, long seed) implements Op {
    }

    record Discard(int id, int offset, int length) implements Op {
    }

    record Reopen() implements Op {
    }

    @Provide
    Arbitrary<List<Op>> operations() {
        Arbitrary<Integer> id = Arbitraries.integers().between(0, 5);
        Arbitrary<Integer> offset = Arbitraries.integers().between(0, DEVICE_BYTES / 512 - 1).map(s -> s * 512);
        Arbitrary<Integer> length = Arbitraries.integers().between(1, 3 * BLOCK / 512).map(s -> s * 512);
        Arbitrary<Op> op = Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(2, id.map(CreateThin::new)),
                net.jqwik.api.Tuple.of(2, net.jqwik.api.Combinators.combine(id, id).as(CreateSnap::new)),
                net.jqwik.api.Tuple.of(1, id.map(Delete::new)),
                net.jqwik.api.Tuple.of(8, net.jqwik.api.Combinators.combine(id, offset, length, Arbitraries.longs())
                        .as(Write::new)),
                net.jqwik.api.Tuple.of(2, net.jqwik.api.Combinators.combine(id, offset, length).as(Discard::new)),
                net.jqwik.api.Tuple.of(1, Arbitraries.just(new Reopen())));
        return op.list().ofMinSize(5).ofMaxSize(40);
    }

    @Property(tries = 25)
    void everyDeviceReadsAsTheModelSaysBeforeAndAfterReopening(@ForAll("operations") List<Op> ops) throws Exception {
        TestFiles.inTemporaryFolder("thin-model", dir -> new Run(dir).run(ops));
    }

    /** A write to the origin leaves its snapshot alone, also once the origin's blocks were seen unshared; an id deleted and created again starts empty. */
    @net.jqwik.api.Example
    void aWriteToTheOriginLeavesItsSnapshotAlone() throws Exception {
        everyDeviceReadsAsTheModelSaysBeforeAndAfterReopening(List.of(new CreateThin(0), new Write(0, 0, BLOCK, 1),
                new Write(0, 0, 512, 4), new CreateSnap(1, 0), new Write(0, 512, 512, 2), new Write(1, BLOCK + 512, 512, 3),
                new Delete(1), new CreateThin(1), new Write(1, 2 * BLOCK, 512, 5)));
    }

    /** One sequence: the engine under test and the model side by side. */
    private static final class Run {
        private final Path metadata;
        private final Path data;
        private final Map<Integer, byte[]> model = new TreeMap<>();
        private DeviceMapper dm;

        Run(Path dir) throws IOException {
            metadata = TestFiles.sparse(dir, "meta", ThinFixture.METADATA_BYTES);
            data = TestFiles.sparse(dir, "data", (long) DATA_BLOCKS * BLOCK);
        }

        void run(List<Op> ops) throws Exception {
            open();
            try {
                for (Op op : ops) {
                    apply(op);
                }
                reopen();
            } finally {
                dm.removeAll(true);
                dm.close();
            }
        }

        private void open() throws Exception {
            dm = DeviceMapper.create();
            dm.create("pool", null, "0 " + (long) DATA_BLOCKS * BLOCK_SECTORS + " thin-pool " + metadata + " " + data
                    + " " + BLOCK_SECTORS + " 0 1 error_if_no_space", false);
            for (int id : model.keySet()) {
                activate(id);
            }
            compareAll();
        }

        private void reopen() throws Exception {
            dm.removeAll(false);
            dm.close();
            open();
        }

        private void activate(int id) throws Exception {
            dm.create("thin" + id, null, "0 " + DEVICE_BYTES / 512 + " thin /dev/mapper/pool " + id, false);
        }

        private MappedDevice device(int id) throws Exception {
            return dm.device("thin" + id);
        }

        private void message(String... argv) throws Exception {
            dm.message("pool", 0, List.of(argv));
        }

        private void apply(Op op) throws Exception {
            switch (op) {
                case CreateThin c when !model.containsKey(c.id()) -> {
                    message("create_thin", Integer.toString(c.id()));
                    model.put(c.id(), new byte[DEVICE_BYTES]);
                    activate(c.id());
                }
                case CreateSnap s when !model.containsKey(s.id()) && model.containsKey(s.origin()) -> {
                    dm.suspend("thin" + s.origin(), false);
                    message("create_snap", Integer.toString(s.id()), Integer.toString(s.origin()));
                    dm.resume("thin" + s.origin());
                    model.put(s.id(), model.get(s.origin()).clone());
                    activate(s.id());
                }
                case Delete d when model.containsKey(d.id()) -> {
                    dm.remove("thin" + d.id(), false, false);
                    message("delete", Integer.toString(d.id()));
                    model.remove(d.id());
                }
                case Write w when model.containsKey(w.id()) -> {
                    int length = Math.min(w.length(), DEVICE_BYTES - w.offset());
                    byte[] bytes = TestPattern.pattern(length, w.seed());
                    device(w.id()).write(w.offset(), ByteBuffer.wrap(bytes), false);
                    System.arraycopy(bytes, 0, model.get(w.id()), w.offset(), length);
                    compare(w.id());
                }
                case Discard d when model.containsKey(d.id()) -> {
                    int length = Math.min(d.length(), DEVICE_BYTES - d.offset());
                    device(d.id()).discard(d.offset(), length);
                    int first = (d.offset() + BLOCK - 1) / BLOCK;
                    int end = (d.offset() + length) / BLOCK;
                    if (first < end) {
                        Arrays.fill(model.get(d.id()), first * BLOCK, end * BLOCK, (byte) 0);
                    }
                    compare(d.id());
                }
                case Reopen r -> reopen();
                default -> {
                }
            }
        }

        private void compareAll() throws Exception {
            for (int id : model.keySet()) {
                compare(id);
            }
        }

        private void compare(int id) throws Exception {
            assertArrayEquals(model.get(id), ThinFixture.read(device(id), 0, DEVICE_BYTES), "device " + id);
        }
    }
}
