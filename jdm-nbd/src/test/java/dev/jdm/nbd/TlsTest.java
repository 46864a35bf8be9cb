package dev.jdm.nbd;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** STARTTLS with the JDK's TLS 1.3 against libnbd's GnuTLS client, in nbdkit's --tls=on and --tls=require modes. */
@Timeout(120)
class TlsTest {
    static final int SIZE = 8 << 20;

    @TempDir
    Path dir;

    private Served serve(NbdServer.TlsMode mode) throws Exception {
        Path certs = Files.createDirectories(dir.resolve("certs"));
        Path key = certs.resolve("key.pem");
        Path cert = certs.resolve("ca-cert.pem"); // Self-signed: it is its own CA, under the name libnbd looks for.
        if (!Files.exists(cert)) {
            Tool.run("openssl", "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key.toString(), "-out", cert.toString(), "-days", "2", "-subj", "/CN=localhost").ok();
        }
        Served s = new Served(dir, NbdServer.Config.unix(dir.resolve("tls.sock")).withTls(mode, key, cert));
        s.linear("disk", SIZE, false);
        return s;
    }

    private String tlsUri(Served s) {
        return "nbds+unix:///disk?socket=" + s.socket + "&tls-certificates=" + dir.resolve("certs");
    }

    @Test
    void requireRefusesPlainClientsAndServesTlsOnes() throws Exception {
        try (Served s = serve(NbdServer.TlsMode.REQUIRE)) {
            try (RawClient c = new RawClient(s.socket).hello(Nbd.FLAG_C_FIXED_NEWSTYLE)) {
                RawClient.OptionReply r = c.ask(Nbd.OPT_LIST, new byte[0]);
                assertEquals(Nbd.REP_ERR_TLS_REQD, r.type());
                assertEquals("TLS is required: send NBD_OPT_STARTTLS first", r.text());
                assertEquals(Nbd.REP_ERR_TLS_REQD, c.ask(Nbd.OPT_GO, RawClient.bytes(Wire.infoRequest("disk"))).type());
                assertEquals(Nbd.REP_ERR_INVALID, c.ask(Nbd.OPT_STARTTLS, new byte[]{1}).type(), "STARTTLS takes no data");
                c.send(RawClient.option(Nbd.OPT_EXPORT_NAME, "disk".getBytes()));
                assertTrue(c.closedByServer(), "EXPORT_NAME cannot be refused, so the connection ends");
            }
            assertNotEquals(0, Tool.run("nbdinfo", "libnbd-bin", s.uri("disk")).exit());
            JsonNode info = new ObjectMapper().readTree(Tool.run("nbdinfo", "libnbd-bin", "--json", tlsUri(s)).ok().out());
            assertTrue(info.get("TLS").asBoolean());
            assertEquals(SIZE, info.get("exports").get(0).get("export-size").asLong());
            // Data through TLS in both directions, byte for byte.
            byte[] content = new byte[SIZE];
            new SplittableRandom(5).nextBytes(content);
            Path source = Files.write(dir.resolve("source.raw"), content);
            Tool.run("nbdcopy", "libnbd-bin", source.toString(), tlsUri(s)).ok();
            Path back = dir.resolve("back.raw");
            Tool.run("nbdcopy", "libnbd-bin", tlsUri(s), back.toString()).ok();
            assertArrayEquals(content, Files.readAllBytes(back));
        }
    }

    @Test
    void onServesPlainAndTlsClients() throws Exception {
        try (Served s = serve(NbdServer.TlsMode.ON)) {
            JsonNode plain = new ObjectMapper().readTree(Tool.run("nbdinfo", "libnbd-bin", "--json", s.uri("disk")).ok().out());
            assertEquals(false, plain.get("TLS").asBoolean());
            JsonNode tls = new ObjectMapper().readTree(Tool.run("nbdinfo", "libnbd-bin", "--json", tlsUri(s)).ok().out());
            assertTrue(tls.get("TLS").asBoolean());
            assertEquals("""
                             0     8388608    3  hole,zero
                    """, Tool.run("nbdinfo", "libnbd-bin", "--map", tlsUri(s)).ok().out());
        }
    }
}
