package dev.jdm.nbd;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The TCP listener: loopback unless asked otherwise, the same exports as the Unix socket. */
@Timeout(60)
class TcpTest {
    @TempDir
    Path dir;

    @Test
    void tcpListensOnLoopbackByDefaultAndServesTheSameExports() throws Exception {
        try (Served s = new Served(dir, NbdServer.Config.unix(dir.resolve("nbd.sock")).withTcp(null, 0))) {
            s.linear("disk", 1 << 20, false);
            InetSocketAddress address = s.server.tcpAddress();
            assertTrue(address.getAddress().isLoopbackAddress(), address.toString());
            String uri = "nbd://127.0.0.1:" + address.getPort() + "/disk";
            var info = new ObjectMapper().readTree(Tool.run("nbdinfo", "libnbd-bin", "--json", uri).ok().out());
            assertEquals(1 << 20, info.get("exports").get(0).get("export-size").asLong());
            byte[] data = new byte[8192];
            new java.util.SplittableRandom(1).nextBytes(data);
            try (NbdClient tcp = NbdClient.open(NbdUri.parse(uri), false);
                 NbdClient unix = NbdClient.open(NbdUri.parse(s.uri("disk")), false)) {
                tcp.write(4096, ByteBuffer.wrap(data), true);
                byte[] back = new byte[8192];
                unix.read(4096, ByteBuffer.wrap(back));
                assertArrayEquals(data, back, "both listeners serve the same device");
            }
        }
    }
}
