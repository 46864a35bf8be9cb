package dev.jdm.targets.thin;

import dev.jdm.core.DmException;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.core.engine.TargetLine;
import dev.jdm.core.testing.TestFiles;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/** A pool over small sparse files in a temp dir, with helpers to drive it the way dmsetup would. */
final class ThinFixture implements AutoCloseable {
    static final int BLOCK_SECTORS = 128;
    static final int BLOCK = BLOCK_SECTORS * 512;
    static final long METADATA_BYTES = 4L << 20;

    final DeviceMapper dm = DeviceMapper.create();
    final Path metadata;
    final Path data;

    ThinFixture(Path dir, long dataBlocks) throws IOException {
        this(dir, dataBlocks, METADATA_BYTES);
    }

    ThinFixture(Path dir, long dataBlocks, long metadataBytes) throws IOException {
        metadata = TestFiles.sparse(dir, "meta", metadataBytes);
        data = TestFiles.sparse(dir, "data", dataBlocks * BLOCK);
    }

    long dataSectors() {
        return data.toFile().length() / 512;
    }

    /** Creates and resumes the pool device with the given low water mark and feature words. */
    void createPool(String name, long lowWater, String... features) throws DmException {
        dm.create(name, null, poolTable(dataSectors(), lowWater, features), false);
    }

    String poolTable(long sectors, long lowWater, String... features) {
        String f = features.length == 0 ? "" : " " + features.length + " " + String.join(" ", features);
        return "0 " + sectors + " thin-pool " + metadata + " " + data + " " + BLOCK_SECTORS + " " + lowWater + f;
    }

    MappedDevice createThin(String pool, String name, long id, long sectors) throws DmException {
        dm.create(name, null, "0 " + sectors + " thin /dev/mapper/" + pool + " " + id, false);
        return dm.device(name);
    }

    void message(String device, String... argv) throws DmException {
        dm.message(device, 0, List.of(argv));
    }

    String status(String device) throws DmException {
        return dm.status(device, false).stream().map(TargetLine::params).findFirst().orElseThrow();
    }

    String table(String device) throws DmException {
        return dm.table(device, false).stream().map(TargetLine::params).findFirst().orElseThrow();
    }


    static byte[] read(MappedDevice dev, long offset, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        dev.read(offset, b);
        return b.array();
    }

    static void write(MappedDevice dev, long offset, byte[] bytes) throws IOException {
        dev.write(offset, ByteBuffer.wrap(bytes), false);
    }

    static byte[] zeroes(int length) {
        return new byte[length];
    }

    static boolean allZero(byte[] b) {
        return Arrays.equals(b, new byte[b.length]);
    }

    @Override
    public void close() {
        dm.removeAll(true);
        dm.close();
    }
}
