package dev.jdm.targets.multipath;

import dev.jdm.core.DmException;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.core.testing.TestFiles;
import dev.jdm.core.testing.TestPattern;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * An engine with paths that are mapped devices of the same engine, {@code /dev/mapper/p1}, {@code p2}, ...:
 * each a linear table over one shared file of 1 MiB holding a pattern, so every path shows the same storage
 * (253:0, 253:1, ...). A path device fails by loading an {@code error} table into it, and comes back with its
 * linear table.
 */
final class MultipathFixture implements AutoCloseable {
    static final int SECTORS = 2048;
    static final int BYTES = SECTORS * 512;
    static final long SEED = 18;

    final DeviceMapper dm = DeviceMapper.create();
    final Path file;

    MultipathFixture(Path dir, int paths) throws Exception {
        file = TestFiles.sparse(dir, "storage.img", BYTES);
        Files.write(file, TestPattern.pattern(BYTES, SEED));
        for (int i = 1; i <= paths; i++) {
            dm.create("p" + i, null, linear(), false);
        }
    }

    private String linear() {
        return "0 " + SECTORS + " linear " + file + " 0";
    }

    void create(String name, String multipathArgs) throws DmException {
        dm.create(name, null, "0 " + SECTORS + " multipath " + multipathArgs, false);
    }

    MappedDevice device(String name) throws DmException {
        return dm.device(name);
    }

    void breakPath(int i) throws DmException {
        dm.load("p" + i, "0 " + SECTORS + " error", false);
        dm.resume("p" + i);
    }

    void repairPath(int i) throws DmException {
        dm.load("p" + i, linear(), false);
        dm.resume("p" + i);
    }

    String status(String name) throws DmException {
        return dm.status(name, false).getFirst().format();
    }

    String table(String name) throws DmException {
        return dm.table(name, false).getFirst().format();
    }

    String message(String name, String... words) throws DmException {
        return dm.message(name, 0, List.of(words));
    }

    long events(String name) throws DmException {
        return dm.info(name).eventNumber();
    }

    static byte[] read(MappedDevice d, long offset, int length) throws IOException {
        ByteBuffer dst = ByteBuffer.allocate(length);
        d.read(offset, dst);
        return dst.array();
    }

    static byte[] expected(long offset, int length) {
        return Arrays.copyOfRange(TestPattern.pattern(BYTES, SEED), (int) offset, (int) offset + length);
    }

    @Override
    public void close() {
        dm.removeAll(true);
        dm.close();
    }
}
