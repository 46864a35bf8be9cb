package dev.jdm.nbd;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The client's side of the handshake: fixed newstyle, STRUCTURED_REPLY, SET_META_CONTEXT
 * {@code base:allocation}, then GO with BLOCK_SIZE (EXPORT_NAME for servers without GO). Runs once
 * per connection, so a reconnect reads the export's flags afresh.
 */
final class ClientHandshake {

    /** What the server told about the export; {@code allocationContext} is -1 without base:allocation. */
    record Export(long size, int flags, boolean structured, int allocationContext, int minBlock, int maxPayload) {
    }

    private record OptionReply(int type, ByteBuffer data) {
        boolean isError() {
            return type < 0;
        }
    }

    private final NbdUri uri;
    private final Transport transport;
    private final Input in;

    ClientHandshake(NbdUri uri, Transport transport, Input in) {
        this.uri = uri;
        this.transport = transport;
        this.in = in;
    }

    Export run() throws IOException {
        ByteBuffer h = in.need(18);
        long magic = h.getLong();
        long newstyle = h.getLong();
        int serverFlags = Short.toUnsignedInt(h.getShort());
        if (magic != Nbd.INIT_MAGIC || newstyle != Nbd.OPTION_MAGIC || (serverFlags & Nbd.FLAG_FIXED_NEWSTYLE) == 0) {
            throw new IOException(uri + ": not a fixed newstyle NBD server");
        }
        int clientFlags = Nbd.FLAG_C_FIXED_NEWSTYLE | (serverFlags & Nbd.FLAG_NO_ZEROES);
        transport.write(ByteBuffer.allocate(4).putInt(clientFlags).flip());

        boolean structured = request(Nbd.OPT_STRUCTURED_REPLY, ByteBuffer.allocate(0)).getLast().type == Nbd.REP_ACK;
        int allocationContext = -1;
        if (structured) {
            for (OptionReply r : request(Nbd.OPT_SET_META_CONTEXT, Wire.metaContextRequest(uri.export(), Nbd.BASE_ALLOCATION))) {
                if (r.type == Nbd.REP_META_CONTEXT && r.data.remaining() > 4) {
                    int id = r.data.getInt();
                    if (Nbd.BASE_ALLOCATION.equals(Nbd.utf8(r.data))) {
                        allocationContext = id;
                    }
                }
            }
        }
        List<OptionReply> go = request(Nbd.OPT_GO, Wire.infoRequest(uri.export(), Nbd.INFO_BLOCK_SIZE));
        OptionReply last = go.getLast();
        if (last.type == Nbd.REP_ERR_UNSUP) {
            return exportName(structured);
        }
        if (last.isError()) {
            throw new IOException(uri + ": server refused export '" + uri.export() + "': " + optionError(last));
        }
        long size = -1;
        int flags = 0;
        int minBlock = 1;
        int maxPayload = Nbd.MAX_PAYLOAD;
        for (OptionReply r : go) {
            if (r.type != Nbd.REP_INFO || r.data.remaining() < 2) {
                continue;
            }
            int info = Short.toUnsignedInt(r.data.getShort());
            if (info == Nbd.INFO_EXPORT && r.data.remaining() >= 10) {
                size = r.data.getLong();
                flags = Short.toUnsignedInt(r.data.getShort());
            } else if (info == Nbd.INFO_BLOCK_SIZE && r.data.remaining() >= 12) {
                minBlock = Math.max(1, r.data.getInt());
                r.data.getInt();
                maxPayload = (int) Math.min(Nbd.MAX_PAYLOAD, Math.max(minBlock, Integer.toUnsignedLong(r.data.getInt())));
            }
        }
        if (size < 0) {
            throw new IOException(uri + ": server accepted GO without NBD_INFO_EXPORT");
        }
        return new Export(size, flags, structured, allocationContext, minBlock, maxPayload);
    }

    /** The old way in, for servers without GO: no error is possible, a refusal closes the connection. */
    private Export exportName(boolean structured) throws IOException {
        transport.write(Wire.option(Nbd.OPT_EXPORT_NAME, ByteBuffer.wrap(Wire.utf8(uri.export()))));
        ByteBuffer b;
        try {
            b = in.need(10);
        } catch (IOException e) {
            throw new IOException(uri + ": server closed the connection: no export '" + uri.export() + "'", e);
        }
        long size = b.getLong();
        int flags = Short.toUnsignedInt(b.getShort());
        return new Export(size, flags, structured, -1, 1, Nbd.MAX_PAYLOAD);
    }

    /** Sends one option and collects its replies up to the final one (ACK or an error). */
    private List<OptionReply> request(int option, ByteBuffer data) throws IOException {
        transport.write(Wire.option(option, data));
        List<OptionReply> replies = new ArrayList<>();
        while (true) {
            ByteBuffer h = in.need(Wire.OPTION_REPLY_HEADER_SIZE);
            long magic = h.getLong();
            int replyTo = h.getInt();
            int type = h.getInt();
            int length = h.getInt();
            if (magic != Nbd.OPTION_REPLY_MAGIC || replyTo != option || length < 0 || length > (1 << 20)) {
                throw new IOException(uri + ": malformed reply to option " + option);
            }
            OptionReply r = new OptionReply(type, ByteBuffer.wrap(in.bytes(length)));
            replies.add(r);
            if (type == Nbd.REP_ACK || r.isError()) {
                return replies;
            }
        }
    }

    private static String optionError(OptionReply r) {
        String name = switch (r.type) {
            case Nbd.REP_ERR_UNKNOWN -> "unknown export";
            case Nbd.REP_ERR_TLS_REQD -> "TLS required";
            case Nbd.REP_ERR_POLICY -> "refused by policy";
            case Nbd.REP_ERR_INVALID -> "invalid request";
            case Nbd.REP_ERR_SHUTDOWN -> "server shutting down";
            default -> String.format("error 0x%08x", r.type);
        };
        String message = Nbd.utf8(r.data);
        return message.isEmpty() ? name : name + " (" + message + ")";
    }
}
