package dev.jdm.nbd;

import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.core.testing.TestFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Tables over remote exports: a linear device over an NBD URI served by jdm, nbdkit (memory and
 * file plugins) and qemu-nbd passes a random I/O model test byte for byte.
 */
@Timeout(120)
class RemoteBackingTest {
    static final int SIZE = 16 << 20;

    @TempDir
    Path dir;

    @ParameterizedTest(name = "server: {0}")
    @ValueSource(strings = {"jdm", "nbdkit-memory", "nbdkit-file", "qemu-nbd"})
    void linearOverARemoteExportMatchesAnInMemoryModel(String server) throws Exception {
        Path file = TestFiles.sparse(dir, "remote.img", SIZE);
        Path socket = dir.resolve("remote.sock");
        AutoCloseable remote;
        String uri;
        switch (server) {
            case "jdm" -> {
                Served s = new Served(dir, NbdServer.Config.unix(socket));
                s.dm.create("disk", null, "0 " + SIZE / 512 + " linear " + file + " 0", false);
                remote = s;
                uri = s.uri("disk");
            }
            case "nbdkit-memory" -> {
                ExternalServer e = ExternalServer.nbdkit(socket, "memory", "size=" + SIZE);
                remote = e;
                uri = e.uri();
            }
            case "nbdkit-file" -> {
                ExternalServer e = ExternalServer.nbdkit(socket, "file", file.toString());
                remote = e;
                uri = e.uri();
            }
            case "qemu-nbd" -> {
                ExternalServer e = ExternalServer.qemuNbd(socket, file);
                remote = e;
                uri = e.uri();
            }
            default -> throw new IllegalArgumentException(server);
        }
        try (remote; DeviceMapper local = DeviceMapper.create()) {
            // The remote export sits in the middle of a table, after a zero target, at a sector offset.
            long remoteSectors = SIZE / 512 - 8;
            local.create("over", null, "0 64 zero\n64 " + remoteSectors + " linear " + uri + " 8", false);
            assertEquals("64 " + remoteSectors + " linear " + uri + " 8", local.table("over", false).get(1).format());
            MappedDevice md = local.device("over");
            long size = md.size();
            byte[] model = new byte[(int) size];
            SplittableRandom random = new SplittableRandom(server.hashCode());
            for (int op = 0; op < 300; op++) {
                int length = 512 * (1 + random.nextInt(512));
                long offset = 32768 + 512L * random.nextInt((int) ((size - 32768 - length) / 512));
                switch (random.nextInt(10)) {
                    case 0 -> {
                        md.writeZeroes(offset, length, random.nextBoolean());
                        Arrays.fill(model, (int) offset, (int) offset + length, (byte) 0);
                    }
                    case 1 -> md.flush();
                    case 2, 3, 4 -> {
                        byte[] back = new byte[length];
                        md.read(offset, ByteBuffer.wrap(back));
                        assertArrayEquals(Arrays.copyOfRange(model, (int) offset, (int) offset + length), back, "read at " + offset);
                    }
                    default -> {
                        byte[] data = new byte[length];
                        random.nextBytes(data);
                        md.write(offset, ByteBuffer.wrap(data), random.nextInt(4) == 0);
                        System.arraycopy(data, 0, model, (int) offset, length);
                    }
                }
            }
            ByteBuffer all = ByteBuffer.allocateDirect((int) size);
            md.read(0, all);
            byte[] back = new byte[(int) size];
            all.flip().get(back);
            assertArrayEquals(model, back);
            local.remove("over", false, false);
        }
    }

    @Test
    void aMissingExportFailsTheTableLoadWithTheServersReason() throws Exception {
        try (Served s = new Served(dir); DeviceMapper local = DeviceMapper.create()) {
            var e = assertThrows(dev.jdm.core.DmException.class,
                    () -> local.create("over", null, "0 8 linear " + s.uri("absent") + " 0", false));
            assertTrue(e.getMessage().contains("server refused export 'absent': unknown export (export 'absent' does not exist)"), e.getMessage());
            assertTrue(local.names().isEmpty());
        }
    }

    @Test
    void uriForms() {
        NbdUri tcp = NbdUri.parse("nbd://example.com:10810/my%20disk");
        assertEquals("example.com", tcp.host());
        assertEquals(10810, tcp.port());
        assertEquals("my disk", tcp.export());
        assertEquals(NbdUri.DEFAULT_PORT, NbdUri.parse("nbd://localhost/x").port());
        NbdUri unix = NbdUri.parse("nbd+unix:///disk?socket=/run/jdm/nbd.sock");
        assertEquals(Path.of("/run/jdm/nbd.sock"), unix.socket());
        assertEquals("disk", unix.export());
        assertEquals("", NbdUri.parse("nbd+unix://?socket=/s").export());
        assertEquals("NBD URI nbd+unix:///disk needs ?socket=PATH",
                assertThrows(IllegalArgumentException.class, () -> NbdUri.parse("nbd+unix:///disk")).getMessage());
        assertEquals("NBD URI nbds://h/x asks for TLS, which jdm's NBD client does not speak",
                assertThrows(IllegalArgumentException.class, () -> NbdUri.parse("nbds://h/x")).getMessage());
    }
}
