package dev.jdm.targets.thin;

import dev.jdm.targets.thin.metadata.ThinTools;

import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.LongFunction;

/**
 * A thin pool as the kernel's dm-thin-metadata.c and dm-thin.c would leave it after the same messages and
 * writes: device details, per-device mappings stamped with the pool time, which data blocks are shared
 * (the same {@link Block} instance), and what a reserved metadata snapshot holds.
 */
final class ThinPoolModel {
    /** One data block: mappings that hold the same instance share it. */
    static final class Block {
        final byte[] bytes;

        Block(byte[] bytes) {
            this.bytes = bytes;
        }
    }

    /** A mapping: its block and the pool time stamped on it (what the kernel's sharing test reads). */
    record Mapped(Block block, int time) {
    }

    /** A thin device: details as the kernel keeps them, and its mappings by virtual block. */
    static final class Device {
        final long transaction;
        final int creationTime;
        int snapTime;
        final TreeMap<Long, Mapped> maps;

        Device(long transaction, int creationTime, TreeMap<Long, Mapped> maps) {
            this.transaction = transaction;
            this.creationTime = creationTime;
            this.snapTime = creationTime;
            this.maps = maps;
        }

        /** The thin target's status line: mapped sectors and the highest mapped sector, or {@code -}. */
        String status(int blockSectors) {
            return maps.isEmpty() ? "0 -" : maps.size() * (long) blockSectors + " " + ((maps.lastKey() + 1) * blockSectors - 1);
        }
    }

    final int blockBytes;
    final TreeMap<Long, Device> devices = new TreeMap<>();
    long transaction;
    int time;
    /** What a reserved metadata snapshot holds: each device's mappings when it was taken (null: none). */
    Map<Long, TreeMap<Long, Mapped>> held;

    ThinPoolModel(int blockBytes) {
        this.blockBytes = blockBytes;
    }

    /** The pool thin_restore wrote from {@code dump}: mappings of the same data block share one {@link Block}. */
    static ThinPoolModel restored(ThinTools.Dump dump, int blockBytes, LongFunction<byte[]> dataBlockContent) {
        ThinPoolModel model = new ThinPoolModel(blockBytes);
        model.transaction = dump.transaction();
        model.time = dump.time();
        Map<Long, Block> blocks = new HashMap<>();
        for (ThinTools.Device d : dump.devices().values()) {
            TreeMap<Long, Mapped> maps = new TreeMap<>();
            d.mappings().forEach((v, m) -> maps.put(v, new Mapped(
                    blocks.computeIfAbsent(m.dataBlock(), b -> new Block(dataBlockContent.apply(b))), m.time())));
            Device device = new Device(d.transaction(), d.creationTime(), maps);
            device.snapTime = d.snapTime();
            model.devices.put(d.id(), device);
        }
        return model;
    }

    void createThin(long id) {
        devices.put(id, new Device(transaction, time, new TreeMap<>()));
    }

    void createSnap(long id, long origin) {
        time++;
        Device o = devices.get(origin);
        o.snapTime = time;
        devices.put(id, new Device(transaction, time, new TreeMap<>(o.maps)));
    }

    void reserveMetadataSnap() {
        held = new TreeMap<>();
        devices.forEach((id, d) -> held.put(id, new TreeMap<>(d.maps)));
    }

    /** A write: in place into unshared blocks; a shared or unmapped block gets a new block first. */
    void write(long id, long offset, byte[] src) {
        Device d = devices.get(id);
        for (int done = 0; done < src.length; ) {
            long v = (offset + done) / blockBytes;
            int in = (int) ((offset + done) % blockBytes);
            int n = Math.min(src.length - done, blockBytes - in);
            Mapped m = d.maps.get(v);
            Block target;
            if (m != null && d.snapTime <= m.time()) {
                target = m.block();
            } else {
                target = new Block(m == null ? new byte[blockBytes] : m.block().bytes.clone());
                d.maps.put(v, new Mapped(target, time));
            }
            System.arraycopy(src, done, target.bytes, in, n);
            done += n;
        }
    }

    /** A discard of whole blocks unmaps them. */
    void discard(long id, long firstBlock, long count) {
        for (long v = firstBlock; v < firstBlock + count; v++) {
            devices.get(id).maps.remove(v);
        }
    }

    byte[] read(long id, long offset, int length) {
        byte[] out = new byte[length];
        Device d = devices.get(id);
        for (int done = 0; done < length; ) {
            long v = (offset + done) / blockBytes;
            int in = (int) ((offset + done) % blockBytes);
            int n = Math.min(length - done, blockBytes - in);
            Mapped m = d.maps.get(v);
            if (m != null) {
                System.arraycopy(m.block().bytes, in, out, done, n);
            }
            done += n;
        }
        return out;
    }

    /** Blocks some mapping or the held metadata snapshot refers to: the pool's used data blocks. */
    int usedDataBlocks() {
        Set<Block> used = Collections.newSetFromMap(new IdentityHashMap<>());
        devices.values().forEach(d -> d.maps.values().forEach(m -> used.add(m.block())));
        if (held != null) {
            held.values().forEach(maps -> maps.values().forEach(m -> used.add(m.block())));
        }
        return used.size();
    }
}
