package dev.jdm.nbd;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.Errno;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.ExtentSink;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A remote NBD export as a {@link BlockDevice}: the client side of the protocol (fixed newstyle, GO,
 * structured replies, base:allocation block status). Any number of threads may issue I/O at once;
 * requests are pipelined on one connection and a reader thread routes replies by cookie.
 */
public final class NbdClient implements BlockDevice {
    /** Largest TRIM / WRITE_ZEROES / BLOCK_STATUS length sent in one request (32-bit field, kept block aligned). */
    private static final long MAX_EFFECT_LENGTH = 1L << 30;
    private static final byte[] ZEROES = new byte[64 << 10];

    private final NbdUri uri;
    private final boolean readOnly;
    private final Transport transport;
    private final Input in;
    private final ReentrantLock writeLock = new ReentrantLock();
    private final Map<Long, Pending> pending = new ConcurrentHashMap<>();
    private final AtomicLong cookies = new AtomicLong();
    private final Thread reader;
    private long size;
    private int flags;
    private boolean structured;
    private int allocationContext = -1;
    private int minBlock = 1;
    private int maxPayload = Nbd.MAX_PAYLOAD;
    private volatile IOException broken;

    private NbdClient(NbdUri uri, boolean readOnly, Transport transport) {
        this.uri = uri;
        this.readOnly = readOnly;
        this.transport = transport;
        this.in = new Input(transport);
        this.reader = Thread.ofPlatform().daemon().name("nbd-client " + uri).unstarted(this::readReplies);
    }

    /** Connects, negotiates and starts transmission; fails with the server's reason (unknown export, ...). */
    public static NbdClient open(NbdUri uri, boolean readOnly) throws IOException {
        SocketChannel channel = uri.socket() != null
                ? SocketChannel.open(StandardProtocolFamily.UNIX)
                : SocketChannel.open();
        try {
            channel.connect(uri.socket() != null ? UnixDomainSocketAddress.of(uri.socket()) : new InetSocketAddress(uri.host(), uri.port()));
            NbdClient client = new NbdClient(uri, readOnly, new SocketTransport(channel));
            client.handshake();
            client.reader.start();
            return client;
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    // ---- handshake --------------------------------------------------------------------------------

    private record OptionReply(int type, ByteBuffer data) {
        boolean isError() {
            return type < 0;
        }
    }

    private void handshake() throws IOException {
        ByteBuffer h = in.need(18);
        long magic = h.getLong();
        long newstyle = h.getLong();
        int serverFlags = Short.toUnsignedInt(h.getShort());
        if (magic != Nbd.INIT_MAGIC || newstyle != Nbd.OPTION_MAGIC || (serverFlags & Nbd.FLAG_FIXED_NEWSTYLE) == 0) {
            throw new IOException(uri + ": not a fixed newstyle NBD server");
        }
        int clientFlags = Nbd.FLAG_C_FIXED_NEWSTYLE | (serverFlags & Nbd.FLAG_NO_ZEROES);
        transport.write(ByteBuffer.allocate(4).putInt(clientFlags).flip());

        structured = request(Nbd.OPT_STRUCTURED_REPLY, ByteBuffer.allocate(0)).getLast().type == Nbd.REP_ACK;
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
            exportName();
            return;
        }
        if (last.isError()) {
            throw new IOException(uri + ": server refused export '" + uri.export() + "': " + optionError(last));
        }
        boolean gotExport = false;
        for (OptionReply r : go) {
            if (r.type != Nbd.REP_INFO || r.data.remaining() < 2) {
                continue;
            }
            int info = Short.toUnsignedInt(r.data.getShort());
            if (info == Nbd.INFO_EXPORT && r.data.remaining() >= 10) {
                size = r.data.getLong();
                flags = Short.toUnsignedInt(r.data.getShort());
                gotExport = true;
            } else if (info == Nbd.INFO_BLOCK_SIZE && r.data.remaining() >= 12) {
                minBlock = Math.max(1, r.data.getInt());
                r.data.getInt();
                maxPayload = (int) Math.min(Nbd.MAX_PAYLOAD, Math.max(minBlock, Integer.toUnsignedLong(r.data.getInt())));
            }
        }
        if (!gotExport) {
            throw new IOException(uri + ": server accepted GO without NBD_INFO_EXPORT");
        }
    }

    /** The old way in, for servers without GO: no error is possible, a refusal closes the connection. */
    private void exportName() throws IOException {
        transport.write(Wire.option(Nbd.OPT_EXPORT_NAME, ByteBuffer.wrap(Wire.utf8(uri.export()))));
        ByteBuffer b;
        try {
            b = in.need(10);
        } catch (IOException e) {
            throw new IOException(uri + ": server closed the connection: no export '" + uri.export() + "'", e);
        }
        size = b.getLong();
        flags = Short.toUnsignedInt(b.getShort());
        allocationContext = -1;
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

    // ---- transmission -----------------------------------------------------------------------------

    /** A request waiting for its reply; the reader fills {@code dst} or feeds {@code extents}. */
    private static final class Pending {
        final Wire.Request request;
        final ByteBuffer dst;
        final ExtentSink extents;
        final CompletableFuture<Void> done = new CompletableFuture<>();
        int error;
        String message = "";

        Pending(Wire.Request request, ByteBuffer dst, ExtentSink extents) {
            this.request = request;
            this.dst = dst;
            this.extents = extents;
        }
    }

    private Pending send(int type, int cmdFlags, long offset, long length, ByteBuffer payload, ByteBuffer dst, ExtentSink extents)
            throws IOException {
        IOException b = broken;
        if (b != null) {
            throw new BlockIoException(Errno.EIO, uri + ": connection lost: " + b.getMessage(), b);
        }
        Wire.Request r = new Wire.Request(cmdFlags, type, cookies.incrementAndGet(), offset, length);
        Pending p = new Pending(r, dst, extents);
        pending.put(r.cookie(), p);
        writeLock.lock();
        try {
            if (payload != null) {
                transport.write(r.encode(), payload);
            } else {
                transport.write(r.encode());
            }
        } catch (IOException e) {
            pending.remove(r.cookie());
            fail(e);
            throw new BlockIoException(Errno.EIO, uri + ": " + e.getMessage(), e);
        } finally {
            writeLock.unlock();
        }
        return p;
    }

    private void await(Pending p) throws IOException {
        try {
            p.done.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BlockIoException(Errno.EIO, uri + ": interrupted");
        } catch (ExecutionException e) {
            throw new BlockIoException(Errno.EIO, uri + ": connection lost: " + e.getCause().getMessage(), e.getCause());
        }
        if (p.error != 0) {
            throw new BlockIoException(Nbd.errnoOf(p.error), uri + ": " + (p.message.isEmpty() ? "NBD error " + p.error : p.message));
        }
    }

    private void readReplies() {
        try {
            while (true) {
                Wire.ReplyHeader h = Wire.ReplyHeader.read(in);
                Pending p = pending.get(h.cookie());
                if (p == null) {
                    throw new IOException("reply for unknown cookie " + h.cookie());
                }
                if (!h.structured()) {
                    p.error = h.error();
                    if (h.error() == 0 && p.request.type() == Nbd.CMD_READ) {
                        in.readFully(p.dst.duplicate());
                    }
                } else {
                    chunk(h, p);
                }
                if (h.done()) {
                    pending.remove(h.cookie());
                    p.done.complete(null);
                }
            }
        } catch (IOException | Wire.ProtocolException e) {
            fail(e instanceof IOException io ? io : new IOException(e.getMessage(), e));
        }
    }

    private void chunk(Wire.ReplyHeader h, Pending p) throws IOException {
        int length = h.length();
        switch (h.type()) {
            case Nbd.REPLY_TYPE_NONE -> in.skip(length);
            case Nbd.REPLY_TYPE_OFFSET_DATA -> {
                long at = in.need(8).getLong() - p.request.offset();
                int n = length - 8;
                checkWithin(p, at, n);
                in.readFully(p.dst.duplicate().position(p.dst.position() + (int) at).limit(p.dst.position() + (int) at + n));
            }
            case Nbd.REPLY_TYPE_OFFSET_HOLE -> {
                ByteBuffer b = in.need(12);
                long at = b.getLong() - p.request.offset();
                int n = b.getInt();
                checkWithin(p, at, n);
                ByteBuffer zero = p.dst.duplicate().position(p.dst.position() + (int) at);
                while (n > 0) {
                    int step = Math.min(n, ZEROES.length);
                    zero.put(ZEROES, 0, step);
                    n -= step;
                }
            }
            case Nbd.REPLY_TYPE_BLOCK_STATUS -> {
                int context = in.need(4).getInt();
                for (int i = 0; i < (length - 4) / 8; i++) {
                    ByteBuffer d = in.need(8);
                    long extent = Integer.toUnsignedLong(d.getInt());
                    int state = d.getInt();
                    if (context == allocationContext && p.extents != null) {
                        p.extents.extent(extent, state & (ExtentSink.HOLE | ExtentSink.ZERO));
                    }
                }
                in.skip((length - 4) % 8);
            }
            default -> {
                if ((h.type() & 0x8000) == 0) {
                    throw new IOException("unexpected reply chunk type " + h.type());
                }
                ByteBuffer b = in.need(6);
                p.error = b.getInt();
                int messageLength = Short.toUnsignedInt(b.getShort());
                if (messageLength > length - 6) {
                    throw new IOException("error chunk message overruns its chunk");
                }
                p.message = Nbd.utf8(ByteBuffer.wrap(in.bytes(messageLength)));
                in.skip(length - 6 - messageLength);
                if (p.error == 0) {
                    p.error = Nbd.EINVAL; // An error chunk must carry an error; treat a zero as unknown.
                }
            }
        }
    }

    private static void checkWithin(Pending p, long at, long n) throws IOException {
        if (p.dst == null || at < 0 || n < 0 || at + n > p.dst.remaining()) {
            throw new IOException("reply chunk outside the request");
        }
    }

    /** The connection is unusable: every waiting request fails, later ones fail at once. */
    private void fail(IOException cause) {
        if (broken == null) {
            broken = cause;
        }
        for (Pending p : pending.values()) {
            p.done.completeExceptionally(cause);
        }
        pending.clear();
        try {
            transport.close();
        } catch (IOException ignored) {
            // Already failing.
        }
    }

    // ---- BlockDevice ------------------------------------------------------------------------------

    @Override
    public String id() {
        return uri.text();
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public int logicalBlockSize() {
        return Math.max(512, minBlock);
    }

    @Override
    public boolean isReadOnly() {
        return readOnly || (flags & Nbd.FLAG_READ_ONLY) != 0;
    }

    @Override
    public boolean supportsDiscard() {
        return (flags & Nbd.FLAG_SEND_TRIM) != 0;
    }

    private void check(long offset, long length, boolean write) throws BlockIoException {
        if (write && isReadOnly()) {
            throw new BlockIoException(Errno.EROFS, uri + " is read-only");
        }
        if (offset < 0 || length < 0 || offset > size - length) {
            throw new BlockIoException(Errno.EIO, "I/O of " + length + " bytes at " + offset + " is beyond the end of " + uri + " (" + size + " bytes)");
        }
        if (offset % minBlock != 0 || length % minBlock != 0) {
            throw new BlockIoException(Errno.EINVAL, "I/O of " + length + " bytes at " + offset + " is not aligned to "
                    + uri + "'s minimum block of " + minBlock + " bytes");
        }
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        check(offset, dst.remaining(), false);
        List<Pending> sent = new ArrayList<>();
        int start = dst.position();
        for (int done = 0; done < dst.remaining(); ) {
            int n = Math.min(maxPayload, dst.remaining() - done);
            ByteBuffer piece = dst.slice(start + done, n);
            sent.add(send(Nbd.CMD_READ, 0, offset + done, n, null, piece, null));
            done += n;
        }
        awaitAll(sent);
        dst.position(dst.limit());
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        check(offset, src.remaining(), true);
        boolean serverFua = fua && (flags & Nbd.FLAG_SEND_FUA) != 0;
        List<Pending> sent = new ArrayList<>();
        int start = src.position();
        int total = src.remaining();
        for (int done = 0; done < total; ) {
            int n = Math.min(maxPayload, total - done);
            sent.add(send(Nbd.CMD_WRITE, serverFua ? Nbd.CMD_FLAG_FUA : 0, offset + done, n, src.slice(start + done, n), null, null));
            done += n;
        }
        awaitAll(sent);
        src.position(src.limit());
        if (fua && !serverFua) {
            flush();
        }
    }

    private void awaitAll(List<Pending> sent) throws IOException {
        IOException first = null;
        for (Pending p : sent) {
            try {
                await(p);
            } catch (IOException e) {
                first = first == null ? e : first;
            }
        }
        if (first != null) {
            throw first;
        }
    }

    @Override
    public void flush() throws IOException {
        if ((flags & Nbd.FLAG_SEND_FLUSH) != 0) {
            await(send(Nbd.CMD_FLUSH, 0, 0, 0, null, null, null));
        }
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        check(offset, length, true);
        if (supportsDiscard()) {
            effect(Nbd.CMD_TRIM, 0, offset, length);
        }
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayUnmap) throws IOException {
        check(offset, length, true);
        if ((flags & Nbd.FLAG_SEND_WRITE_ZEROES) != 0) {
            effect(Nbd.CMD_WRITE_ZEROES, mayUnmap ? 0 : Nbd.CMD_FLAG_NO_HOLE, offset, length);
            return;
        }
        ByteBuffer zeroes = ByteBuffer.allocateDirect((int) Math.min(length, maxPayload));
        for (long done = 0; done < length; ) {
            int n = (int) Math.min(zeroes.capacity(), length - done);
            write(offset + done, zeroes.clear().limit(n), false);
            done += n;
        }
    }

    /** TRIM and WRITE_ZEROES: no payload, split only because the length field is 32 bits. */
    private void effect(int type, int cmdFlags, long offset, long length) throws IOException {
        List<Pending> sent = new ArrayList<>();
        for (long done = 0; done < length; ) {
            long n = Math.min(MAX_EFFECT_LENGTH, length - done);
            sent.add(send(type, cmdFlags, offset + done, n, null, null, null));
            done += n;
        }
        awaitAll(sent);
    }

    @Override
    public void allocation(long offset, long length, ExtentSink sink) throws IOException {
        check(offset, length, false);
        if (allocationContext < 0) {
            sink.extent(length, 0);
            return;
        }
        long end = offset + length;
        long at = offset;
        while (at < end) {
            long window = Math.min(MAX_EFFECT_LENGTH, end - at);
            long[] reached = {at};
            long limit = at + window;
            await(send(Nbd.CMD_BLOCK_STATUS, 0, at, window, null, null, (len, state) -> {
                // Servers may answer past the window (the last extent) or short of it; clip and go on.
                long n = Math.min(len, limit - reached[0]);
                if (n > 0) {
                    sink.extent(n, state);
                    reached[0] += n;
                }
            }));
            if (reached[0] == at) {
                throw new BlockIoException(Errno.EIO, uri + ": block status at " + at + " returned no extent");
            }
            at = reached[0];
        }
    }

    /** Ends the session politely (NBD_CMD_DISC) and closes the socket. */
    @Override
    public void close() throws IOException {
        if (broken == null) {
            try {
                writeLock.lock();
                try {
                    transport.write(new Wire.Request(0, Nbd.CMD_DISC, cookies.incrementAndGet(), 0, 0).encode());
                } finally {
                    writeLock.unlock();
                }
            } catch (IOException ignored) {
                // The server is gone already; closing is all that is left.
            }
        }
        broken = new IOException("closed");
        transport.close();
        try {
            reader.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String toString() {
        return "NbdClient[" + uri + "]";
    }
}
