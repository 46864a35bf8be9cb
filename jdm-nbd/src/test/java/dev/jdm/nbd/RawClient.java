package dev.jdm.nbd;

import java.io.DataInputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** A deliberately dumb NBD client for tests: sends exactly the bytes it is told and reads replies field by field. */
final class RawClient implements AutoCloseable {
    final SocketChannel channel;
    final DataInputStream in;

    RawClient(Path socket) throws IOException {
        channel = SocketChannel.open(StandardProtocolFamily.UNIX);
        channel.connect(UnixDomainSocketAddress.of(socket));
        in = new DataInputStream(Channels.newInputStream(channel));
    }

    static final byte[] GREETING = ByteBuffer.allocate(18).putLong(Nbd.INIT_MAGIC).putLong(Nbd.OPTION_MAGIC).putShort((short) 3).array();

    /** Reads the server's greeting (asserting its exact bytes) and sends the client flags. */
    RawClient hello(int clientFlags) throws IOException {
        assertArrayEquals(GREETING, in.readNBytes(18));
        send(ByteBuffer.allocate(4).putInt(clientFlags).array());
        return this;
    }

    void send(byte[] bytes) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        while (b.hasRemaining()) {
            channel.write(b);
        }
    }

    record OptionReply(int option, int type, byte[] data) {
        String text() {
            return new String(data, StandardCharsets.UTF_8);
        }
    }

    static byte[] option(int option, byte[] data) {
        return ByteBuffer.allocate(16 + data.length).putLong(Nbd.OPTION_MAGIC).putInt(option).putInt(data.length).put(data).array();
    }

    OptionReply optionReply() throws IOException {
        assertEquals(Nbd.OPTION_REPLY_MAGIC, in.readLong());
        int option = in.readInt();
        int type = in.readInt();
        int length = in.readInt();
        return new OptionReply(option, type, in.readNBytes(length));
    }

    OptionReply ask(int option, byte[] data) throws IOException {
        send(option(option, data));
        return optionReply();
    }

    static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    /** Negotiates (optionally structured replies and base:allocation) and enters transmission with GO; returns size and flags. */
    long[] go(String export, boolean structured, boolean allocation) throws IOException {
        hello(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
        if (structured) {
            assertEquals(Nbd.REP_ACK, ask(Nbd.OPT_STRUCTURED_REPLY, new byte[0]).type());
        }
        if (allocation) {
            assertEquals(Nbd.REP_META_CONTEXT, ask(Nbd.OPT_SET_META_CONTEXT, bytes(Wire.metaContextRequest(export, Nbd.BASE_ALLOCATION))).type());
            assertEquals(Nbd.REP_ACK, optionReply().type());
        }
        send(option(Nbd.OPT_GO, bytes(Wire.infoRequest(export))));
        long[] sizeAndFlags = null;
        while (true) {
            OptionReply r = optionReply();
            if (r.type() == Nbd.REP_ACK) {
                return sizeAndFlags;
            }
            assertEquals(Nbd.REP_INFO, r.type(), r.text());
            ByteBuffer d = ByteBuffer.wrap(r.data());
            if (d.getShort() == Nbd.INFO_EXPORT) {
                sizeAndFlags = new long[]{d.getLong(), d.getShort()};
            }
        }
    }

    void request(int flags, int type, long cookie, long offset, long length) throws IOException {
        send(new Wire.Request(flags, type, cookie, offset, length).encode().array());
    }

    void write(long cookie, long offset, byte[] data) throws IOException {
        send(ByteBuffer.allocate(28 + data.length).put(new Wire.Request(0, Nbd.CMD_WRITE, cookie, offset, data.length).encode()).put(data).array());
    }

    /** The next 16-byte simple reply: {error, cookie}. */
    long[] simpleReply() throws IOException {
        assertEquals(Nbd.SIMPLE_REPLY_MAGIC, in.readInt());
        return new long[]{in.readInt(), in.readLong()};
    }

    record Chunk(int flags, int type, long cookie, byte[] payload) {
        ByteBuffer data() {
            return ByteBuffer.wrap(payload);
        }

        int error() {
            return data().getInt();
        }

        String message() {
            ByteBuffer d = data();
            d.getInt();
            byte[] m = new byte[d.getShort()];
            d.get(m);
            return new String(m, StandardCharsets.UTF_8);
        }
    }

    Chunk chunk() throws IOException {
        assertEquals(Nbd.STRUCTURED_REPLY_MAGIC, in.readInt());
        int flags = in.readUnsignedShort();
        int type = in.readUnsignedShort();
        long cookie = in.readLong();
        int length = in.readInt();
        return new Chunk(flags, type, cookie, in.readNBytes(length));
    }

    /** True if the server closed the connection: the next read sees end of stream. */
    boolean closedByServer() throws IOException {
        try {
            return in.read() < 0;
        } catch (IOException e) {
            return true;
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
