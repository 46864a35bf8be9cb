package dev.jdm.nbd;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** Encoding and decoding of NBD messages, the one codec both the server and the client use. */
final class Wire {
    private Wire() {
    }

    static final int REQUEST_SIZE = 28;
    static final int SIMPLE_REPLY_SIZE = 16;
    static final int CHUNK_HEADER_SIZE = 20;
    static final int OPTION_HEADER_SIZE = 16;
    static final int OPTION_REPLY_HEADER_SIZE = 20;

    /** A transmission request; {@code offset} and {@code length} are unsigned on the wire. */
    record Request(int flags, int type, long cookie, long offset, long length) {
        static Request read(Input in) throws IOException, ProtocolException {
            ByteBuffer b = in.need(REQUEST_SIZE);
            int magic = b.getInt();
            if (magic != Nbd.REQUEST_MAGIC) {
                throw new ProtocolException(String.format("bad request magic 0x%08x", magic));
            }
            int flags = Short.toUnsignedInt(b.getShort());
            int type = Short.toUnsignedInt(b.getShort());
            return new Request(flags, type, b.getLong(), b.getLong(), Integer.toUnsignedLong(b.getInt()));
        }

        ByteBuffer encode() {
            return ByteBuffer.allocate(REQUEST_SIZE).putInt(Nbd.REQUEST_MAGIC).putShort((short) flags).putShort((short) type)
                    .putLong(cookie).putLong(offset).putInt((int) length).flip();
        }
    }

    /** The header of a reply in transmission: simple ({@code structured} false, {@code error} set) or a structured chunk. */
    record ReplyHeader(boolean structured, int error, int flags, int type, long cookie, int length) {
        static ReplyHeader read(Input in) throws IOException, ProtocolException {
            int magic = in.need(4).getInt();
            if (magic == Nbd.SIMPLE_REPLY_MAGIC) {
                ByteBuffer b = in.need(12);
                return new ReplyHeader(false, b.getInt(), 0, 0, b.getLong(), 0);
            }
            if (magic == Nbd.STRUCTURED_REPLY_MAGIC) {
                ByteBuffer b = in.need(16);
                int flags = Short.toUnsignedInt(b.getShort());
                int type = Short.toUnsignedInt(b.getShort());
                long cookie = b.getLong();
                int length = b.getInt();
                if (length < 0) {
                    throw new ProtocolException("structured reply chunk of " + Integer.toUnsignedString(length) + " bytes");
                }
                return new ReplyHeader(true, 0, flags, type, cookie, length);
            }
            throw new ProtocolException(String.format("bad reply magic 0x%08x", magic));
        }

        boolean done() {
            return !structured || (flags & Nbd.REPLY_FLAG_DONE) != 0;
        }
    }

    static ByteBuffer simpleReply(long cookie, int error) {
        return ByteBuffer.allocate(SIMPLE_REPLY_SIZE).putInt(Nbd.SIMPLE_REPLY_MAGIC).putInt(error).putLong(cookie).flip();
    }

    /** A structured chunk header followed by room for {@code extra} bytes of fixed payload the caller puts. */
    static ByteBuffer chunk(long cookie, int flags, int type, int length, int extra) {
        return ByteBuffer.allocate(CHUNK_HEADER_SIZE + extra).putInt(Nbd.STRUCTURED_REPLY_MAGIC).putShort((short) flags)
                .putShort((short) type).putLong(cookie).putInt(length);
    }

    static ByteBuffer errorChunk(long cookie, int error, String message) {
        byte[] msg = truncatedUtf8(message, Nbd.MAX_STRING);
        return chunk(cookie, Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_ERROR, 6 + msg.length, 6 + msg.length)
                .putInt(error).putShort((short) msg.length).put(msg).flip();
    }

    // ---- handshake --------------------------------------------------------------------------------

    record OptionHeader(int option, int length) {
    }

    static ByteBuffer option(int option, ByteBuffer data) {
        return ByteBuffer.allocate(OPTION_HEADER_SIZE + data.remaining()).putLong(Nbd.OPTION_MAGIC).putInt(option)
                .putInt(data.remaining()).put(data).flip();
    }

    static ByteBuffer optionReply(int option, int type, ByteBuffer data) {
        return ByteBuffer.allocate(OPTION_REPLY_HEADER_SIZE + data.remaining()).putLong(Nbd.OPTION_REPLY_MAGIC)
                .putInt(option).putInt(type).putInt(data.remaining()).put(data).flip();
    }

    /** Name-and-queries payload of LIST/SET_META_CONTEXT: export name, then each query. */
    static ByteBuffer metaContextRequest(String export, String... queries) {
        byte[] name = utf8(export);
        int size = 4 + name.length + 4;
        byte[][] q = new byte[queries.length][];
        for (int i = 0; i < queries.length; i++) {
            q[i] = utf8(queries[i]);
            size += 4 + q[i].length;
        }
        ByteBuffer b = ByteBuffer.allocate(size).putInt(name.length).put(name).putInt(queries.length);
        for (byte[] s : q) {
            b.putInt(s.length).put(s);
        }
        return b.flip();
    }

    /** Payload of INFO/GO: export name and the information requests. */
    static ByteBuffer infoRequest(String export, int... infos) {
        byte[] name = utf8(export);
        ByteBuffer b = ByteBuffer.allocate(4 + name.length + 2 + 2 * infos.length).putInt(name.length).put(name)
                .putShort((short) infos.length);
        for (int i : infos) {
            b.putShort((short) i);
        }
        return b.flip();
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static byte[] truncatedUtf8(String s, int max) {
        byte[] b = utf8(s == null ? "" : s);
        return b.length <= max ? b : java.util.Arrays.copyOf(b, max);
    }

    /** A protocol violation by the peer: the connection cannot go on. */
    static final class ProtocolException extends Exception {
        ProtocolException(String message) {
            super(message);
        }
    }
}
