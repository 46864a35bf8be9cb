package dev.jdm.targets.thin;

import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Drives a pool device named {@code pool} the way dmsetup and lvm would (messages, thin tables, I/O) and
 * a {@link ThinPoolModel} alongside; after each operation the pool's and the thin device's status must be
 * the model's, and every read must return the model's bytes. Operations name devices by their position
 * among the existing ones (modulo their number), so any sequence of operations is valid.
 */
final class ThinPoolDriver {
    sealed interface Op {
    }

    record CreateThin(long id) implements Op {
    }

    record CreateSnap(long id, int origin) implements Op {
    }

    record Delete(int device) implements Op {
    }

    record SetTransactionId(int step) implements Op {
    }

    /** reserve_metadata_snap, or release_metadata_snap when one is held. */
    record MetadataSnap() implements Op {
    }

    record Write(int device, long sector, int sectors, long seed, boolean fua) implements Op {
    }

    /** Whole blocks only: the kernel leaves the partial blocks of a discard alone. */
    record Discard(int device, long block, int blocks) implements Op {
    }

    record Read(int device, long sector, int sectors) implements Op {
    }

    static final int MAX_DEVICES = 6;

    final DeviceMapper dm;
    final int blockSectors;
    final long virtualBlocks;
    final long nrDataBlocks;
    final ThinPoolModel model;
    final Set<Long> active = new HashSet<>();
    final List<Op> log = new ArrayList<>();

    ThinPoolDriver(DeviceMapper dm, int blockSectors, long virtualBlocks, long nrDataBlocks) {
        this(dm, blockSectors, virtualBlocks, nrDataBlocks, new ThinPoolModel(blockSectors * 512));
    }

    /** Drives a pool whose metadata already holds what {@code model} says (e.g. written by thin_restore). */
    ThinPoolDriver(DeviceMapper dm, int blockSectors, long virtualBlocks, long nrDataBlocks, ThinPoolModel model) {
        this.dm = dm;
        this.blockSectors = blockSectors;
        this.virtualBlocks = virtualBlocks;
        this.nrDataBlocks = nrDataBlocks;
        this.model = model;
    }

    /** An operation drawn from {@code rnd}: mostly I/O, now and then a message. */
    static Op randomOp(Random rnd, long virtualBlocks, int blockSectors) {
        int op = rnd.nextInt(100);
        int device = rnd.nextInt(MAX_DEVICES);
        long sector = rnd.nextLong(virtualBlocks * blockSectors);
        int sectors = 1 + rnd.nextInt(3 * blockSectors);
        if (op < 8) {
            return new CreateThin(rnd.nextInt(20));
        } else if (op < 16) {
            return new CreateSnap(rnd.nextInt(20), device);
        } else if (op < 20) {
            return new Delete(device);
        } else if (op < 24) {
            return new SetTransactionId(1 + rnd.nextInt(3));
        } else if (op < 27) {
            return new MetadataSnap();
        } else if (op < 37) {
            return new Discard(device, sector / blockSectors, 1 + rnd.nextInt(4));
        } else if (op < 50) {
            return new Read(device, sector, sectors);
        }
        return new Write(device, sector, sectors, rnd.nextLong(), rnd.nextInt(8) == 0);
    }

    void apply(Op op) throws Exception {
        log.add(op);
        List<Long> ids = new ArrayList<>(model.devices.keySet());
        switch (op) {
            case CreateThin(long id) -> {
                if (model.devices.containsKey(id) || ids.size() >= MAX_DEVICES) {
                    return;
                }
                msg("create_thin", id);
                model.createThin(id);
            }
            case CreateSnap(long id, int origin) -> {
                if (ids.isEmpty() || model.devices.containsKey(id) || ids.size() >= MAX_DEVICES) {
                    return;
                }
                long o = ids.get(origin % ids.size());
                // as lvm does: the origin is quiet while the snapshot is taken
                boolean originActive = active.contains(o);
                if (originActive) {
                    dm.suspend(name(o), false);
                }
                msg("create_snap", id, o);
                if (originActive) {
                    dm.resume(name(o));
                }
                model.createSnap(id, o);
            }
            case Delete(int device) -> {
                if (ids.isEmpty()) {
                    return;
                }
                long id = ids.get(device % ids.size());
                if (active.remove(id)) {
                    dm.remove(name(id), false, false);
                }
                msg("delete", id);
                model.devices.remove(id);
            }
            case SetTransactionId(int step) -> {
                msg("set_transaction_id", model.transaction, model.transaction + step);
                model.transaction += step;
            }
            case MetadataSnap() -> {
                if (model.held == null) {
                    msg("reserve_metadata_snap");
                    model.reserveMetadataSnap();
                } else {
                    msg("release_metadata_snap");
                    model.held = null;
                }
            }
            case Write(int device, long sector, int sectors, long seed, boolean fua) -> {
                if (ids.isEmpty()) {
                    return;
                }
                long id = ids.get(device % ids.size());
                byte[] bytes = new byte[clip(sector, sectors) * 512];
                new Random(seed).nextBytes(bytes);
                activate(id).write(sector * 512, ByteBuffer.wrap(bytes), fua);
                model.write(id, sector * 512, bytes);
                assertThinStatus(id, op);
            }
            case Discard(int device, long block, int blocks) -> {
                if (ids.isEmpty()) {
                    return;
                }
                long id = ids.get(device % ids.size());
                long count = Math.min(blocks, virtualBlocks - block);
                activate(id).discard(block * blockSectors * 512, count * blockSectors * 512);
                model.discard(id, block, count);
                assertThinStatus(id, op);
            }
            case Read(int device, long sector, int sectors) -> {
                if (ids.isEmpty()) {
                    return;
                }
                long id = ids.get(device % ids.size());
                int length = clip(sector, sectors) * 512;
                ByteBuffer got = ByteBuffer.allocate(length);
                activate(id).read(sector * 512, got);
                assertArrayEquals(model.read(id, sector * 512, length), got.array(), () -> "read of device " + id + " after " + log);
            }
        }
        String[] status = dm.status("pool", false).getFirst().params().split(" ");
        assertEquals(model.transaction + " " + model.usedDataBlocks() + "/" + nrDataBlocks + " " + (model.held == null ? "-" : "held"),
                status[0] + " " + status[2] + " " + (status[3].equals("-") ? "-" : "held"), () -> "pool status after " + log);
    }

    /** Removes the thin devices (the pool stays). */
    void deactivateAll() throws Exception {
        for (long id : active) {
            dm.remove(name(id), false, false);
        }
        active.clear();
    }

    private int clip(long sector, int sectors) {
        return (int) Math.min(sectors, virtualBlocks * blockSectors - sector);
    }

    private void assertThinStatus(long id, Op op) throws Exception {
        assertEquals(model.devices.get(id).status(blockSectors), dm.status(name(id), false).getFirst().params(),
                () -> "status of thin " + id + " after " + log);
    }

    private MappedDevice activate(long id) throws Exception {
        if (active.add(id)) {
            dm.create(name(id), null, "0 " + virtualBlocks * blockSectors + " thin /dev/mapper/pool " + id, false);
        }
        return dm.device(name(id));
    }

    static String name(long id) {
        return "thin" + id;
    }

    private void msg(Object... argv) throws Exception {
        dm.message("pool", 0, Arrays.stream(argv).map(String::valueOf).toList());
    }
}
