package dev.jdm.nbd;

import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.testing.TestFiles;

import java.io.IOException;
import java.nio.file.Path;

/** An engine with an NBD server on a Unix socket in a test directory. */
final class Served implements AutoCloseable {
    final Path dir;
    final DeviceMapper dm = DeviceMapper.create();
    final Path socket;
    final NbdServer server;

    Served(Path dir) throws IOException {
        this(dir, NbdServer.Config.unix(dir.resolve("nbd.sock")));
    }

    Served(Path dir, NbdServer.Config config) throws IOException {
        this.dir = dir;
        this.socket = config.unixSocket();
        this.server = new NbdServer(dm, config);
        server.start();
    }

    /** A sparse backing file and a linear device over all of it. */
    Path linear(String name, long size, boolean readOnly) throws Exception {
        Path file = TestFiles.sparse(dir, name + ".img", size);
        dm.create(name, null, "0 " + size / 512 + " linear " + file + " 0", readOnly);
        return file;
    }

    String uri(String export) {
        return "nbd+unix:///" + export + "?socket=" + socket;
    }

    @Override
    public void close() {
        server.close();
        dm.close();
    }
}
