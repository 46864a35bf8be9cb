package dev.jdm.nbd;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static dev.jdm.nbd.RawClient.bytes;
import static dev.jdm.nbd.RawClient.option;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The option haggling, good and bad, checked byte for byte with a raw socket. */
@Timeout(30)
class HandshakeTest {
    @TempDir
    Path dir;
    Served served;

    @BeforeEach
    void serve() throws Exception {
        served = new Served(dir);
        served.linear("disk", 1 << 20, false);
        served.linear("ro", 1 << 20, true);
    }

    @AfterEach
    void stop() {
        served.close();
    }

    private RawClient client() throws Exception {
        return new RawClient(served.socket).hello(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
    }

    /** A reply header with no data: magic, option, type, zero length. */
    private static byte[] header(int option, int type) {
        return ByteBuffer.allocate(20).putLong(Nbd.OPTION_REPLY_MAGIC).putInt(option).putInt(type).putInt(0).array();
    }

    @Test
    void listNamesEveryDeviceWithItsDescriptionThenAcks() throws Exception {
        try (RawClient c = client()) {
            c.send(option(Nbd.OPT_LIST, new byte[0]));
            byte[] diskDetails = "jdm mapped device 253:0".getBytes();
            byte[] roDetails = "jdm mapped device 253:1".getBytes();
            byte[] expected = ByteBuffer.allocate(28 + 26 + 2 * 23 + 20)
                    .putLong(Nbd.OPTION_REPLY_MAGIC).putInt(Nbd.OPT_LIST).putInt(Nbd.REP_SERVER).putInt(8 + 23).putInt(4).put("disk".getBytes()).put(diskDetails)
                    .putLong(Nbd.OPTION_REPLY_MAGIC).putInt(Nbd.OPT_LIST).putInt(Nbd.REP_SERVER).putInt(6 + 23).putInt(2).put("ro".getBytes()).put(roDetails)
                    .put(header(Nbd.OPT_LIST, Nbd.REP_ACK)).array();
            assertArrayEquals(expected, c.in.readNBytes(expected.length));
        }
    }

    @Test
    void infoReportsSizeFlagsNameDescriptionAndBlockSizes() throws Exception {
        try (RawClient c = client()) {
            assertEquals(Nbd.REP_ACK, c.ask(Nbd.OPT_STRUCTURED_REPLY, new byte[0]).type());
            c.send(option(Nbd.OPT_INFO, bytes(Wire.infoRequest("ro", Nbd.INFO_NAME, Nbd.INFO_DESCRIPTION, Nbd.INFO_BLOCK_SIZE))));
            RawClient.OptionReply export = c.optionReply();
            int flags = Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_READ_ONLY | Nbd.FLAG_SEND_FLUSH | Nbd.FLAG_SEND_FUA | Nbd.FLAG_SEND_DF
                    | Nbd.FLAG_CAN_MULTI_CONN | Nbd.FLAG_SEND_CACHE;
            assertArrayEquals(ByteBuffer.allocate(12).putShort((short) 0).putLong(1 << 20).putShort((short) flags).array(), export.data());
            assertArrayEquals(ByteBuffer.allocate(4).putShort((short) 1).put("ro".getBytes()).array(), c.optionReply().data());
            assertEquals("\0\2jdm mapped device 253:1", c.optionReply().text());
            assertArrayEquals(ByteBuffer.allocate(14).putShort((short) 3).putInt(1).putInt(4096).putInt(32 << 20).array(), c.optionReply().data());
            assertEquals(Nbd.REP_ACK, c.optionReply().type());
            // INFO does not end the handshake: GO on the writable device still works, with its own flags.
            long[] sizeAndFlags = goAfterHello(c, "disk");
            assertEquals(1 << 20, sizeAndFlags[0]);
            assertEquals(Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_SEND_FLUSH | Nbd.FLAG_SEND_FUA | Nbd.FLAG_SEND_DF | Nbd.FLAG_CAN_MULTI_CONN
                    | Nbd.FLAG_SEND_CACHE | Nbd.FLAG_SEND_WRITE_ZEROES | Nbd.FLAG_SEND_FAST_ZERO | Nbd.FLAG_SEND_TRIM, sizeAndFlags[1]);
        }
    }

    private static long[] goAfterHello(RawClient c, String export) throws Exception {
        c.send(option(Nbd.OPT_GO, bytes(Wire.infoRequest(export))));
        long[] result = null;
        for (RawClient.OptionReply r = c.optionReply(); r.type() != Nbd.REP_ACK; r = c.optionReply()) {
            ByteBuffer d = ByteBuffer.wrap(r.data());
            if (d.getShort() == Nbd.INFO_EXPORT) {
                result = new long[]{d.getLong(), d.getShort() & 0xffff};
            }
        }
        return result;
    }

    @Test
    void unknownOptionIsUnsupportedAndTheSessionGoesOn() throws Exception {
        try (RawClient c = client()) {
            RawClient.OptionReply r = c.ask(99, "junk".getBytes());
            assertEquals(99, r.option());
            assertEquals(Nbd.REP_ERR_UNSUP, r.type());
            assertEquals("option 99 is not supported", r.text());
            assertEquals(1 << 20, goAfterHello(c, "disk")[0]);
        }
    }

    @Test
    void malformedOptionsAreInvalid() throws Exception {
        try (RawClient c = client()) {
            assertEquals(Nbd.REP_ERR_INVALID, c.ask(Nbd.OPT_LIST, new byte[]{1}).type());
            assertEquals(Nbd.REP_ERR_INVALID, c.ask(Nbd.OPT_STRUCTURED_REPLY, new byte[]{1}).type());
            // Name length pointing past the data.
            RawClient.OptionReply r = c.ask(Nbd.OPT_GO, ByteBuffer.allocate(8).putInt(100).putShort((short) 0).putShort((short) 0).array());
            assertEquals(Nbd.REP_ERR_INVALID, r.type());
            assertEquals("export name length 100 exceeds the option data", r.text());
            // Two information requests announced, one sent.
            r = c.ask(Nbd.OPT_INFO, ByteBuffer.allocate(12).putInt(4).put("disk".getBytes()).putShort((short) 2).putShort((short) 0).array());
            assertEquals("2 information requests do not fill 2 bytes", r.text());
            assertEquals(Nbd.REP_ERR_INVALID, c.ask(Nbd.OPT_INFO, new byte[3]).type());
            // Meta contexts need structured replies first.
            assertEquals(Nbd.REP_ERR_INVALID, c.ask(Nbd.OPT_SET_META_CONTEXT, bytes(Wire.metaContextRequest("disk", "base:allocation"))).type());
            assertEquals(Nbd.REP_ACK, c.ask(Nbd.OPT_STRUCTURED_REPLY, new byte[0]).type());
            assertEquals(Nbd.REP_ERR_INVALID, c.ask(Nbd.OPT_STRUCTURED_REPLY, new byte[0]).type(), "negotiated twice");
            assertEquals("query 'nocolon' has no namespace",
                    c.ask(Nbd.OPT_LIST_META_CONTEXT, bytes(Wire.metaContextRequest("disk", "nocolon"))).text());
            // Still alive after all that.
            assertEquals(1 << 20, goAfterHello(c, "disk")[0]);
        }
    }

    @Test
    void unknownExportIsUnknownForInfoGoAndMetaContexts() throws Exception {
        try (RawClient c = client()) {
            RawClient.OptionReply r = c.ask(Nbd.OPT_GO, bytes(Wire.infoRequest("nope")));
            assertEquals(Nbd.REP_ERR_UNKNOWN, r.type());
            assertEquals("export 'nope' does not exist", r.text());
            assertEquals(Nbd.REP_ERR_UNKNOWN, c.ask(Nbd.OPT_INFO, bytes(Wire.infoRequest("nope"))).type());
            c.ask(Nbd.OPT_STRUCTURED_REPLY, new byte[0]);
            assertEquals(Nbd.REP_ERR_UNKNOWN, c.ask(Nbd.OPT_SET_META_CONTEXT, bytes(Wire.metaContextRequest("nope", "base:allocation"))).type());
        }
    }

    @Test
    void metaContextsListAndSelectBaseAllocationOnly() throws Exception {
        try (RawClient c = client()) {
            c.ask(Nbd.OPT_STRUCTURED_REPLY, new byte[0]);
            byte[] listed = ByteBuffer.allocate(4 + 15).putInt(0).put("base:allocation".getBytes()).array();
            for (String[] queries : new String[][]{{}, {"base:"}, {"base:allocation", "qemu:dirty-bitmap:x"}}) {
                c.send(option(Nbd.OPT_LIST_META_CONTEXT, bytes(Wire.metaContextRequest("disk", queries))));
                RawClient.OptionReply r = c.optionReply();
                assertEquals(Nbd.REP_META_CONTEXT, r.type());
                assertArrayEquals(listed, r.data());
                assertEquals(Nbd.REP_ACK, c.optionReply().type());
            }
            // Unknown namespaces are ignored: just an ACK.
            assertArrayEquals(header(Nbd.OPT_LIST_META_CONTEXT, Nbd.REP_ACK), ackBytes(c, Nbd.OPT_LIST_META_CONTEXT, "x-other:thing"));
            // "base:" selects nothing in SET.
            assertArrayEquals(header(Nbd.OPT_SET_META_CONTEXT, Nbd.REP_ACK), ackBytes(c, Nbd.OPT_SET_META_CONTEXT, "base:"));
            c.send(option(Nbd.OPT_SET_META_CONTEXT, bytes(Wire.metaContextRequest("disk", "base:allocation"))));
            RawClient.OptionReply r = c.optionReply();
            assertArrayEquals(ByteBuffer.allocate(19).putInt(Nbd.BASE_ALLOCATION_ID).put("base:allocation".getBytes()).array(), r.data());
        }
    }

    private static byte[] ackBytes(RawClient c, int option, String query) throws Exception {
        c.send(option(option, bytes(Wire.metaContextRequest("disk", query))));
        return c.in.readNBytes(20);
    }

    @Test
    void exportNameEntersTransmissionWithOrWithoutZeroPadding() throws Exception {
        try (RawClient c = client()) {
            c.send(option(Nbd.OPT_EXPORT_NAME, "disk".getBytes(StandardCharsets.UTF_8)));
            int flags = Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_SEND_FLUSH | Nbd.FLAG_SEND_FUA | Nbd.FLAG_CAN_MULTI_CONN | Nbd.FLAG_SEND_CACHE
                    | Nbd.FLAG_SEND_WRITE_ZEROES | Nbd.FLAG_SEND_FAST_ZERO | Nbd.FLAG_SEND_TRIM;
            assertArrayEquals(ByteBuffer.allocate(10).putLong(1 << 20).putShort((short) flags).array(), c.in.readNBytes(10));
            c.request(0, Nbd.CMD_FLUSH, 7, 0, 0);
            assertArrayEquals(new long[]{0, 7}, c.simpleReply());
        }
        try (RawClient c = new RawClient(served.socket).hello(Nbd.FLAG_C_FIXED_NEWSTYLE)) {
            c.send(option(Nbd.OPT_EXPORT_NAME, "disk".getBytes(StandardCharsets.UTF_8)));
            byte[] reply = c.in.readNBytes(134);
            assertEquals(134, reply.length);
            assertArrayEquals(new byte[124], java.util.Arrays.copyOfRange(reply, 10, 134));
        }
    }

    @Test
    void unknownExportNameClosesTheConnection() throws Exception {
        try (RawClient c = client()) {
            c.send(option(Nbd.OPT_EXPORT_NAME, "nope".getBytes()));
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void abortIsAcknowledgedThenClosed() throws Exception {
        try (RawClient c = client()) {
            c.send(option(Nbd.OPT_ABORT, new byte[0]));
            assertArrayEquals(header(Nbd.OPT_ABORT, Nbd.REP_ACK), c.in.readNBytes(20));
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void startTlsWithoutTlsIsRefusedByPolicy() throws Exception {
        try (RawClient c = client()) {
            RawClient.OptionReply r = c.ask(Nbd.OPT_STARTTLS, new byte[0]);
            assertEquals(Nbd.REP_ERR_POLICY, r.type());
            assertEquals("TLS is not enabled on this server", r.text());
        }
    }

    @Test
    void unknownClientFlagsBadMagicAndHugeOptionsCloseTheConnection() throws Exception {
        try (RawClient c = new RawClient(served.socket).hello(0x80)) {
            assertTrue(c.closedByServer());
        }
        try (RawClient c = client()) {
            c.send(ByteBuffer.allocate(16).putLong(0x1234).putInt(Nbd.OPT_LIST).putInt(0).array());
            assertTrue(c.closedByServer());
        }
        try (RawClient c = client()) {
            c.send(ByteBuffer.allocate(16).putLong(Nbd.OPTION_MAGIC).putInt(Nbd.OPT_GO).putInt(2 << 20).array());
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void largeOptionIsTooBigAndTheSessionGoesOn() throws Exception {
        try (RawClient c = client()) {
            RawClient.OptionReply r = c.ask(Nbd.OPT_GO, new byte[100 << 10]);
            assertEquals(Nbd.REP_ERR_TOO_BIG, r.type());
            assertEquals("option data of 102400 bytes is too large", r.text());
            assertEquals(1 << 20, goAfterHello(c, "disk")[0]);
        }
    }

    @Test
    void truncatedHandshakesDoNotDisturbOtherClients() throws Exception {
        for (int cut : new int[]{0, 2, 4 + 10, 4 + 16 + 3}) {
            RawClient c = client();
            byte[] goOption = option(Nbd.OPT_GO, bytes(Wire.infoRequest("disk")));
            c.send(java.util.Arrays.copyOf(goOption, Math.max(0, cut - 4)));
            c.close();
        }
        try (RawClient c = client()) {
            assertEquals(1 << 20, goAfterHello(c, "disk")[0]);
        }
    }
}
