package dev.jdm.daemon;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * An origin and its classic snapshots in a daemon, built and merged the LVM way through the control socket only
 * (ORIGIN keeps its name and serves on; its old table moves to ORIGIN-real; NAME-cow and NAME come beside it),
 * with a {@link UnitModel} of every device that can be read: the origin, and each snapshot under its name.
 */
final class SnapshotStack {
    static final String ORIGIN = "origin";
    static final String REAL = "origin-real";

    final NbdDaemonRig rig;
    private final Path dir;
    private final int units;
    private final int chunkSectors;
    private final String features;
    /** The origin first, then the snapshots, oldest first. */
    final Map<String, UnitModel> models = new LinkedHashMap<>();
    /** The snapshot the origin is merging, or null. */
    String merging;
    /** ORIGIN's own table until the first snapshot moves it to ORIGIN-real. */
    private String linearTable;

    /** {@code features}: the snapshot table's optional part, with its leading space, or "". */
    SnapshotStack(NbdDaemonRig rig, Path dir, int units, int chunkSectors, String features) {
        this.rig = rig;
        this.dir = dir;
        this.units = units;
        this.chunkSectors = chunkSectors;
        this.features = features;
    }

    long sectors() {
        return (long) units * UnitModel.UNIT / 512;
    }

    /** ORIGIN as a plain linear device over a new file, as before its first snapshot; the daemon's disk0 removed. */
    void createOrigin() throws Exception {
        rig.call(ControlClient.request("remove").put("name", JdmDaemon.DEFAULT_DEVICE));
        Path file = sparseFile("origin.img", (long) units * UnitModel.UNIT);
        linearTable = "0 " + sectors() + " linear " + file + " 0";
        create(ORIGIN, linearTable);
        models.put(ORIGIN, new UnitModel(units));
    }

    /**
     * lvcreate -s: the origin flushed and suspended, its table moved to ORIGIN-real (the first time), NAME-cow and
     * NAME made, snapshot-origin loaded on ORIGIN, ORIGIN resumed. NAME shows what ORIGIN held at that point.
     */
    void snapshot(String name, long cowBytes) throws Exception {
        flush(ORIGIN);
        rig.call(ControlClient.request("suspend").put("name", ORIGIN));
        boolean first = linearTable != null;
        if (first) {
            create(REAL, linearTable);
            linearTable = null;
        }
        Path cow = sparseFile(name + ".cow", cowBytes);
        create(name + "-cow", "0 " + cowBytes / 512 + " linear " + cow + " 0");
        create(name, "0 " + sectors() + " snapshot /dev/mapper/" + REAL + " /dev/mapper/" + name + "-cow P " + chunkSectors + features);
        if (first) {
            rig.call(ControlClient.request("load").put("name", ORIGIN).put("table", "0 " + sectors() + " snapshot-origin /dev/mapper/" + REAL));
        }
        rig.call(ControlClient.request("resume").put("name", ORIGIN));
        models.put(name, models.get(ORIGIN).copy());
    }

    /**
     * lvconvert --merge: the snapshot flushed and removed with the origin suspended, snapshot-merge loaded on
     * ORIGIN over ORIGIN-real and NAME-cow. From the resume on ORIGIN shows what NAME showed.
     */
    void startMerge(String name) throws Exception {
        flush(name);
        rig.closeExport(name);
        flush(ORIGIN);
        rig.call(ControlClient.request("suspend").put("name", ORIGIN));
        removeOnceClosed(name);
        rig.call(ControlClient.request("load").put("name", ORIGIN).put("table", "0 " + sectors() + " snapshot-merge /dev/mapper/" + REAL
                + " /dev/mapper/" + name + "-cow P " + chunkSectors));
        rig.call(ControlClient.request("resume").put("name", ORIGIN));
        models.put(ORIGIN, models.remove(name));
        merging = name;
    }

    /** Whether the merge has copied every exception back: allocated equals metadata in the origin's status. */
    boolean mergeDone() throws Exception {
        String status = rig.status(ORIGIN);
        String[] usage = status.split("[/ ]");
        assertEquals(3, usage.length, "the merging origin's status: " + status);
        return usage[0].equals(usage[2]);
    }

    /** What lvm does once the merge is done: snapshot-origin on ORIGIN again, NAME-cow removed. */
    void endMerge() throws Exception {
        rig.call(ControlClient.request("suspend").put("name", ORIGIN));
        rig.call(ControlClient.request("load").put("name", ORIGIN).put("table", "0 " + sectors() + " snapshot-origin /dev/mapper/" + REAL));
        rig.call(ControlClient.request("resume").put("name", ORIGIN));
        rig.call(ControlClient.request("remove").put("name", merging + "-cow"));
        merging = null;
    }

    /** Writes whole units to a device; the model knows them sent before they go, durable once answered with FUA. */
    void write(String name, int first, byte[] bytes, boolean fua) throws IOException {
        UnitModel m = models.get(name);
        m.wrote(first, bytes);
        rig.export(name).write((long) first * UnitModel.UNIT, ByteBuffer.wrap(bytes), fua);
        if (fua) {
            m.durable(first, bytes.length / UnitModel.UNIT);
        }
    }

    void flush(String name) throws IOException {
        rig.export(name).flush();
        models.get(name).flushed();
    }

    /** Reads {@code count} units of a live device: each must be the last value written. */
    void checkLive(String name, int first, int count) throws IOException {
        ByteBuffer got = ByteBuffer.allocate(count * UnitModel.UNIT);
        rig.export(name).read((long) first * UnitModel.UNIT, got);
        models.get(name).checkLive(first, got.array(), "live read of " + name);
    }

    /** Reads every device whole after a crash or restart: see {@link UnitModel#checkAfterCrash}. */
    void checkAfterCrash(String where) throws IOException {
        for (Map.Entry<String, UnitModel> m : models.entrySet()) {
            ByteBuffer all = ByteBuffer.allocate(units * UnitModel.UNIT);
            rig.export(m.getKey()).read(0, all);
            m.getValue().checkAfterCrash(all.array(), m.getKey() + " after " + where);
        }
    }

    /** The server notices a closed NBD connection a moment after the client closed it: until then the device is open. */
    private void removeOnceClosed(String name) throws Exception {
        for (int tries = 0; ; tries++) {
            try {
                rig.call(ControlClient.request("remove").put("name", name));
                return;
            } catch (ControlException e) {
                if (!e.errno().equals("EBUSY") || tries == 100) {
                    throw e;
                }
                Thread.sleep(10);
            }
        }
    }

    private void create(String name, String table) throws Exception {
        ObjectNode req = ControlClient.request("create").put("name", name).put("table", table);
        rig.call(req);
    }

    private Path sparseFile(String name, long bytes) throws IOException {
        Path p = dir.resolve(name);
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(bytes);
        }
        return p;
    }
}
