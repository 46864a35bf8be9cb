package dev.jdm.targets.snapshot;

import dev.jdm.core.DmException;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.TargetLine;
import dev.jdm.core.testing.TestFiles;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * An origin file under {@code base-real} (linear) and {@code base} (snapshot-origin), and snapshots made the way
 * LVM makes them: COW files under linear devices, snapshot tables over base-real.
 */
final class SnapshotFixture implements AutoCloseable {
    final DeviceMapper dm = DeviceMapper.create();
    final Path dir;
    final long originSectors;
    final Path originFile;

    SnapshotFixture(Path dir, long originSectors) throws IOException, DmException {
        this.dir = dir;
        this.originSectors = originSectors;
        this.originFile = TestFiles.sparse(dir, "origin.img", originSectors * 512);
        dm.create("base-real", null, "0 " + originSectors + " linear " + originFile + " 0", false);
        dm.create("base", null, "0 " + originSectors + " snapshot-origin /dev/mapper/base-real", false);
    }

    /** A COW file under a linear device {@code name-cow}; returns the file. */
    Path cow(String name, long sectors) throws IOException, DmException {
        Path file = dir.resolve(name + "-cow.img");
        if (!file.toFile().exists()) {
            TestFiles.sparse(dir, name + "-cow.img", sectors * 512);
        }
        dm.create(name + "-cow", null, "0 " + sectors + " linear " + file + " 0", false);
        return file;
    }

    /** The snapshot: suspend the origin (as LVM does, so no write slips by), create it, resume. */
    void snapshot(String name, long cowSectors, String store) throws IOException, DmException {
        cow(name, cowSectors);
        dm.suspend("base", false);
        try {
            dm.create(name, null, snapshotTable(name, store), false);
        } finally {
            dm.resume("base");
        }
    }

    String snapshotTable(String name, String store) {
        return "0 " + originSectors + " snapshot /dev/mapper/base-real /dev/mapper/" + name + "-cow " + store;
    }

    String status(String device) throws DmException {
        return dm.status(device, false).stream().map(TargetLine::params).findFirst().orElseThrow();
    }

    String table(String device) throws DmException {
        return dm.table(device, false).stream().map(TargetLine::params).findFirst().orElseThrow();
    }

    void write(String device, long offset, byte[] data) throws IOException, DmException {
        dm.device(device).write(offset, ByteBuffer.wrap(data), false);
    }

    byte[] read(String device, long offset, int length) throws IOException, DmException {
        ByteBuffer b = ByteBuffer.allocate(length);
        dm.device(device).read(offset, b);
        return b.array();
    }

    static byte[] filled(int length, int value) {
        byte[] b = new byte[length];
        java.util.Arrays.fill(b, (byte) value);
        return b;
    }

    @Override
    public void close() {
        dm.close();
    }
}
