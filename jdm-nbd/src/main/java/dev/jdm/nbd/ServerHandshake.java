package dev.jdm.nbd;

import dev.jdm.core.DmException;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;

import javax.net.ssl.SSLContext;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The server's side of the fixed newstyle handshake: option haggling until the client picks an
 * export (GO or EXPORT_NAME) or leaves. Answers every option the spec's way; anything that breaks a
 * MUST of the spec ends the connection (a hard disconnect), as the spec allows.
 */
final class ServerHandshake {
    /** Options larger than this are refused with ERR_TOO_BIG after skipping them; far larger ones end the connection. */
    private static final int MAX_OPTION = 64 << 10;
    private static final int MAX_SKIPPED_OPTION = 1 << 20;
    static final int PREFERRED_BLOCK = 4096;

    /** What the client chose: transmission runs on this. */
    record Outcome(Transport transport, Input input, MappedDevice device, MappedDevice.Opener opener,
                   long size, boolean structured, boolean blockStatus, int transmissionFlags) {
    }

    private final DeviceMapper dm;
    private final NbdServer.TlsMode tlsMode;
    private final SSLContext tls;
    private final Runnable onForcedRemove;
    private Transport transport;
    private Input in;
    private boolean structured;
    /** The export the last SET_META_CONTEXT selected base:allocation for, or null. */
    private String metaExport;

    ServerHandshake(DeviceMapper dm, Transport transport, NbdServer.TlsMode tlsMode, SSLContext tls, Runnable onForcedRemove) {
        this.dm = dm;
        this.transport = transport;
        this.in = new Input(transport);
        this.tlsMode = tlsMode;
        this.tls = tls;
        this.onForcedRemove = onForcedRemove;
    }

    /** Runs the handshake; null when the session ends without transmission (abort, bad input, closed). */
    Outcome run() throws IOException {
        transport.write(ByteBuffer.allocate(18).putLong(Nbd.INIT_MAGIC).putLong(Nbd.OPTION_MAGIC)
                .putShort((short) (Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES)).flip());
        int clientFlags = in.need(4).getInt();
        if ((clientFlags & ~(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES)) != 0) {
            return null; // The spec: drop the connection on unknown client flags.
        }
        boolean noZeroes = (clientFlags & Nbd.FLAG_C_NO_ZEROES) != 0;
        while (true) {
            ByteBuffer h = in.need(Wire.OPTION_HEADER_SIZE);
            if (h.getLong() != Nbd.OPTION_MAGIC) {
                return null;
            }
            int option = h.getInt();
            long length = Integer.toUnsignedLong(h.getInt());
            if (length > MAX_OPTION) {
                if (length > MAX_SKIPPED_OPTION) {
                    return null;
                }
                in.skip(length);
                error(option, Nbd.REP_ERR_TOO_BIG, "option data of " + length + " bytes is too large");
                continue;
            }
            ByteBuffer data = ByteBuffer.wrap(in.bytes((int) length));
            if (tlsMode == NbdServer.TlsMode.REQUIRE && !transport.isTls()
                    && option != Nbd.OPT_STARTTLS && option != Nbd.OPT_ABORT) {
                if (option == Nbd.OPT_EXPORT_NAME) {
                    return null;
                }
                error(option, Nbd.REP_ERR_TLS_REQD, "TLS is required: send NBD_OPT_STARTTLS first");
                continue;
            }
            Outcome outcome;
            try {
                outcome = option(option, data, noZeroes);
            } catch (Malformed e) {
                error(option, Nbd.REP_ERR_INVALID, e.getMessage());
                continue;
            } catch (Hangup e) {
                return null;
            }
            if (outcome != null) {
                return outcome;
            }
        }
    }

    /** Handles one option; returns an outcome when transmission starts. */
    private Outcome option(int option, ByteBuffer data, boolean noZeroes) throws IOException, Malformed, Hangup {
        switch (option) {
            case Nbd.OPT_EXPORT_NAME -> {
                String name = string(data, data.remaining());
                Outcome o = enter(name);
                if (o == null) {
                    throw new Hangup(); // EXPORT_NAME cannot answer with an error.
                }
                ByteBuffer reply = ByteBuffer.allocate(noZeroes ? 10 : 134).putLong(o.size).putShort((short) o.transmissionFlags);
                transport.write(reply.position(reply.capacity()).flip());
                return o;
            }
            case Nbd.OPT_ABORT -> {
                reply(option, Nbd.REP_ACK, ByteBuffer.allocate(0));
                throw new Hangup();
            }
            case Nbd.OPT_LIST -> {
                noData(data);
                for (String name : dm.names()) {
                    MappedDevice md = find(name);
                    if (md == null) {
                        continue; // Removed while listing.
                    }
                    // The name, then the human-readable details the spec allows (libnbd shows them as the description).
                    byte[] n = Wire.utf8(name);
                    byte[] d = Wire.utf8(description(md));
                    reply(option, Nbd.REP_SERVER, ByteBuffer.allocate(4 + n.length + d.length).putInt(n.length).put(n).put(d).flip());
                }
                reply(option, Nbd.REP_ACK, ByteBuffer.allocate(0));
            }
            case Nbd.OPT_STARTTLS -> startTls(data);
            case Nbd.OPT_INFO, Nbd.OPT_GO -> {
                return infoOrGo(option, data);
            }
            case Nbd.OPT_STRUCTURED_REPLY -> {
                noData(data);
                if (structured) {
                    throw new Malformed("structured replies are already negotiated");
                }
                structured = true;
                reply(option, Nbd.REP_ACK, ByteBuffer.allocate(0));
            }
            case Nbd.OPT_LIST_META_CONTEXT, Nbd.OPT_SET_META_CONTEXT -> metaContext(option, data);
            default -> error(option, Nbd.REP_ERR_UNSUP, "option " + option + " is not supported");
        }
        return null;
    }

    private void startTls(ByteBuffer data) throws IOException, Malformed, Hangup {
        if (tlsMode == NbdServer.TlsMode.OFF) {
            error(Nbd.OPT_STARTTLS, Nbd.REP_ERR_POLICY, "TLS is not enabled on this server");
            return;
        }
        noData(data);
        if (transport.isTls()) {
            throw new Malformed("TLS is already negotiated");
        }
        reply(Nbd.OPT_STARTTLS, Nbd.REP_ACK, ByteBuffer.allocate(0));
        if (in.hasBuffered()) {
            throw new Hangup(); // The client spoke before the TLS handshake: nothing it sent can be trusted.
        }
        try {
            transport = TlsTransport.start((SocketTransport) transport, tls, false);
        } catch (IOException e) {
            throw new Hangup();
        }
        in = new Input(transport);
        // The spec: nothing negotiated before STARTTLS survives it.
        structured = false;
        metaExport = null;
    }

    private Outcome infoOrGo(int option, ByteBuffer data) throws IOException, Malformed {
        if (data.remaining() < 6) {
            throw new Malformed("option data of " + data.remaining() + " bytes is shorter than 6");
        }
        long nameLength = Integer.toUnsignedLong(data.getInt());
        if (nameLength > data.remaining() - 2) {
            throw new Malformed("export name length " + nameLength + " exceeds the option data");
        }
        String name = string(data, (int) nameLength);
        int count = Short.toUnsignedInt(data.getShort());
        if (data.remaining() != 2 * count) {
            throw new Malformed(count + " information requests do not fill " + data.remaining() + " bytes");
        }
        List<Integer> requests = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            requests.add(Short.toUnsignedInt(data.getShort()));
        }
        MappedDevice md = find(name);
        if (md == null) {
            error(option, Nbd.REP_ERR_UNKNOWN, "export '" + name + "' does not exist");
            return null;
        }
        Outcome o = null;
        if (option == Nbd.OPT_GO) {
            o = enter(name);
            if (o == null) {
                error(option, Nbd.REP_ERR_UNKNOWN, "export '" + name + "' went away");
                return null;
            }
        }
        try {
            describe(option, md, o, requests);
        } catch (IOException e) {
            if (o != null) {
                o.opener.close(); // The client is gone before transmission started.
            }
            throw e;
        }
        return o;
    }

    /** The INFO replies and the final ACK of INFO/GO. */
    private void describe(int option, MappedDevice md, Outcome o, List<Integer> requests) throws IOException {
        int flags = o != null ? o.transmissionFlags : transmissionFlags(md, structured);
        long size = o != null ? o.size : md.size();
        reply(option, Nbd.REP_INFO, ByteBuffer.allocate(12).putShort((short) Nbd.INFO_EXPORT).putLong(size).putShort((short) flags).flip());
        if (requests.contains(Nbd.INFO_NAME)) {
            reply(option, Nbd.REP_INFO, info(Nbd.INFO_NAME, md.name()));
        }
        if (requests.contains(Nbd.INFO_DESCRIPTION)) {
            reply(option, Nbd.REP_INFO, info(Nbd.INFO_DESCRIPTION, description(md)));
        }
        // The engine takes any byte range (targets that cannot refuse with EINVAL), so the minimum is 1.
        reply(option, Nbd.REP_INFO, ByteBuffer.allocate(14).putShort((short) Nbd.INFO_BLOCK_SIZE).putInt(1)
                .putInt(Math.max(PREFERRED_BLOCK, md.logicalBlockSize())).putInt(Nbd.MAX_PAYLOAD).flip());
        reply(option, Nbd.REP_ACK, ByteBuffer.allocate(0));
    }

    private static String description(MappedDevice md) {
        return "jdm mapped device " + md.id();
    }

    private static ByteBuffer info(int type, String text) {
        byte[] b = Wire.truncatedUtf8(text, Nbd.MAX_STRING);
        return ByteBuffer.allocate(2 + b.length).putShort((short) type).put(b).flip();
    }

    private void metaContext(int option, ByteBuffer data) throws IOException, Malformed {
        boolean set = option == Nbd.OPT_SET_META_CONTEXT;
        if (set) {
            metaExport = null; // The spec: a SET replaces the selection even when it fails.
        }
        if (!structured) {
            throw new Malformed("structured replies must be negotiated first");
        }
        if (data.remaining() < 8) {
            throw new Malformed("option data of " + data.remaining() + " bytes is shorter than 8");
        }
        String name = string(data, lengthPrefix(data, "export name"));
        if (data.remaining() < 4) {
            throw new Malformed("missing number of queries");
        }
        long queries = Integer.toUnsignedLong(data.getInt());
        boolean selected = !set && queries == 0;
        for (long i = 0; i < queries; i++) {
            if (data.remaining() < 4) {
                throw new Malformed("query " + (i + 1) + " of " + queries + " is missing");
            }
            String query = string(data, lengthPrefix(data, "query"));
            if (query.indexOf(':') < 0) {
                throw new Malformed("query '" + query + "' has no namespace");
            }
            selected |= query.equals(Nbd.BASE_ALLOCATION) || (!set && query.equals("base:"));
        }
        if (data.hasRemaining()) {
            throw new Malformed(data.remaining() + " bytes after the last query");
        }
        if (find(name) == null) {
            error(option, Nbd.REP_ERR_UNKNOWN, "export '" + name + "' does not exist");
            return;
        }
        if (selected) {
            byte[] ctx = Wire.utf8(Nbd.BASE_ALLOCATION);
            int id = set ? Nbd.BASE_ALLOCATION_ID : 0;
            reply(option, Nbd.REP_META_CONTEXT, ByteBuffer.allocate(4 + ctx.length).putInt(id).put(ctx).flip());
            if (set) {
                metaExport = name;
            }
        }
        reply(option, Nbd.REP_ACK, ByteBuffer.allocate(0));
    }

    /** Opens the export for transmission, or null if it does not exist (any more). */
    private Outcome enter(String name) {
        MappedDevice md = find(name);
        if (md == null) {
            return null;
        }
        try {
            MappedDevice.Opener opener = md.open("nbd export " + name, false, onForcedRemove);
            // The size the client is told, fixed for the session; a resize shows to new connections.
            return new Outcome(transport, in, md, opener, md.size(), structured, structured && name.equals(metaExport),
                    transmissionFlags(md, structured));
        } catch (DmException e) {
            return null;
        }
    }

    private MappedDevice find(String name) {
        try {
            return dm.device(name);
        } catch (DmException e) {
            return null;
        }
    }

    /** What the export offers, told truthfully per device. Every connection shares the engine, so multi-conn is safe. */
    static int transmissionFlags(MappedDevice md, boolean structured) {
        int flags = Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_SEND_FLUSH | Nbd.FLAG_SEND_FUA | Nbd.FLAG_SEND_CACHE | Nbd.FLAG_CAN_MULTI_CONN;
        if (md.isReadOnly()) {
            flags |= Nbd.FLAG_READ_ONLY;
        } else {
            flags |= Nbd.FLAG_SEND_WRITE_ZEROES | Nbd.FLAG_SEND_FAST_ZERO;
            if (md.supportsDiscard()) {
                flags |= Nbd.FLAG_SEND_TRIM;
            }
        }
        if (structured) {
            flags |= Nbd.FLAG_SEND_DF;
        }
        return flags;
    }

    private static int lengthPrefix(ByteBuffer data, String what) throws Malformed {
        long n = Integer.toUnsignedLong(data.getInt());
        if (n > data.remaining()) {
            throw new Malformed(what + " length " + n + " exceeds the option data");
        }
        return (int) n;
    }

    private static String string(ByteBuffer data, int length) throws Malformed {
        if (length > Nbd.MAX_STRING) {
            throw new Malformed("string of " + length + " bytes exceeds " + Nbd.MAX_STRING);
        }
        ByteBuffer b = data.slice(data.position(), length);
        data.position(data.position() + length);
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(b).toString();
        } catch (CharacterCodingException e) {
            throw new Malformed("string is not valid UTF-8");
        }
    }

    private static void noData(ByteBuffer data) throws Malformed {
        if (data.hasRemaining()) {
            throw new Malformed("option takes no data but " + data.remaining() + " bytes came");
        }
    }

    private void reply(int option, int type, ByteBuffer data) throws IOException {
        transport.write(Wire.optionReply(option, type, data));
    }

    private void error(int option, int type, String message) throws IOException {
        reply(option, type, ByteBuffer.wrap(Wire.truncatedUtf8(message, Nbd.MAX_STRING)));
    }

    /** The option is known but its data is wrong: answered with NBD_REP_ERR_INVALID. */
    private static final class Malformed extends Exception {
        Malformed(String message) {
            super(message, null, false, false);
        }
    }

    /** The session ends here without an error reply. */
    private static final class Hangup extends Exception {
        Hangup() {
            super(null, null, false, false);
        }
    }
}
