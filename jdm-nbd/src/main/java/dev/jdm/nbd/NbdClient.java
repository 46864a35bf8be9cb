package dev.jdm.nbd;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.Errno;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.ExtentSink;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A remote NBD export as a {@link BlockDevice}: the client side of the protocol (fixed newstyle, GO,
 * structured replies, base:allocation block status). Any number of threads may issue I/O at once;
 * requests are pipelined on one {@link ClientConnection}.
 *
 * <p>Like the kernel's nbd driver it bounds every request by a timeout and survives a server that
 * goes away: a request unanswered within the timeout fails with ETIMEDOUT and breaks the
 * connection; the first request after a break connects again (one attempt at a time, shared by the
 * requests waiting for it, at most one a second after a failed one). Failed requests are never
 * sent again here: the caller (multipath) decides where to retry them.
 */
public final class NbdClient implements BlockDevice {
    /** Largest TRIM / WRITE_ZEROES / BLOCK_STATUS length sent in one request (32-bit field, kept block aligned). */
    private static final long MAX_EFFECT_LENGTH = 1L << 30;
    /** After a failed reconnect, requests fail at once with its reason for this long (from its end) instead of trying again. */
    private static final long RECONNECT_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(1);

    /**
     * How the client treats its server: {@code timeout} bounds connecting (TCP connect and handshake) and
     * every request; zero means no limit, as nbd-client's {@code -t 0}.
     */
    public record Options(Duration timeout) {
        public Options {
            Objects.requireNonNull(timeout, "timeout");
            if (timeout.isNegative()) {
                throw new IllegalArgumentException("an NBD timeout cannot be negative: " + timeout);
            }
        }

        /** The kernel nbd driver's default: 30 seconds. */
        public static Options defaults() {
            return new Options(Duration.ofSeconds(30));
        }
    }

    private final NbdUri uri;
    private final boolean readOnly;
    private final Options options;
    /** The export's size when first opened: a reconnect to anything else is refused. */
    private final long size;
    private final ReentrantLock reconnecting = new ReentrantLock();
    private volatile ClientConnection connection;
    private volatile boolean closed;
    /** Why the last reconnect attempt failed, null if it did not, and when it gave up (guarded by {@link #reconnecting}). */
    private BlockIoException lastFailure;
    private long lastFailureAt;

    private NbdClient(NbdUri uri, boolean readOnly, Options options, ClientConnection connection) {
        this.uri = uri;
        this.readOnly = readOnly;
        this.options = options;
        this.connection = connection;
        this.size = connection.export().size();
    }

    /** Connects with the {@link Options#defaults() default options}. */
    public static NbdClient open(NbdUri uri, boolean readOnly) throws IOException {
        return open(uri, readOnly, Options.defaults());
    }

    /** Connects, negotiates and starts transmission; fails with the server's reason (unknown export, ...) or ETIMEDOUT. */
    public static NbdClient open(NbdUri uri, boolean readOnly, Options options) throws IOException {
        return new NbdClient(uri, readOnly, options, ClientConnection.open(uri, options.timeout()));
    }

    public Options options() {
        return options;
    }

    /** The connection to send on: the current one, or a new one if it broke. */
    private ClientConnection connection() throws IOException {
        ClientConnection c = connection;
        return c.isBroken() ? reconnect() : c;
    }

    private ClientConnection reconnect() throws IOException {
        reconnecting.lock();
        try {
            ClientConnection c = connection;
            if (closed) {
                throw c.lost(new IOException("closed"));
            }
            if (!c.isBroken()) {
                return c; // Another request's attempt, which this one waited for, succeeded.
            }
            if (lastFailure != null && System.nanoTime() - lastFailureAt < RECONNECT_INTERVAL_NANOS) {
                throw new BlockIoException(Errno.EIO, lastFailure.getMessage(), lastFailure);
            }
            ClientConnection fresh;
            try {
                fresh = ClientConnection.open(uri, options.timeout());
                if (fresh.export().size() != size) {
                    fresh.close();
                    throw new IOException("the export's size changed from " + size + " to " + fresh.export().size()
                            + " bytes: not the same device");
                }
            } catch (IOException e) {
                lastFailure = reconnectFailed(e);
                lastFailureAt = System.nanoTime();
                throw lastFailure;
            }
            connection = fresh;
            if (closed) { // close() may have missed the new connection: close it here.
                fresh.close();
                throw fresh.lost(new IOException("closed"));
            }
            lastFailure = null;
            return fresh;
        } finally {
            reconnecting.unlock();
        }
    }

    private BlockIoException reconnectFailed(IOException e) {
        String reason = e.getMessage() == null ? e.toString() : e.getMessage();
        String ours = uri + ": ";
        return new BlockIoException(Errno.EIO, ours + "reconnect failed: " + (reason.startsWith(ours) ? reason.substring(ours.length()) : reason), e);
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

    /** What the server said in the last handshake (flags are read again on every reconnect). */
    private ClientHandshake.Export export() {
        return connection.export();
    }

    @Override
    public int logicalBlockSize() {
        return Math.max(512, export().minBlock());
    }

    @Override
    public boolean isReadOnly() {
        return readOnly || (export().flags() & Nbd.FLAG_READ_ONLY) != 0;
    }

    @Override
    public boolean supportsDiscard() {
        return (export().flags() & Nbd.FLAG_SEND_TRIM) != 0;
    }

    /** Refuses what no server would do before anything is sent (or a broken connection is replaced). */
    private void check(long offset, long length, boolean write) throws BlockIoException {
        if (write && isReadOnly()) {
            throw new BlockIoException(Errno.EROFS, uri + " is read-only");
        }
        if (offset < 0 || length < 0 || offset > size - length) {
            throw new BlockIoException(Errno.EIO, "I/O of " + length + " bytes at " + offset + " is beyond the end of " + uri + " (" + size + " bytes)");
        }
        int minBlock = export().minBlock();
        if (offset % minBlock != 0 || length % minBlock != 0) {
            throw new BlockIoException(Errno.EINVAL, "I/O of " + length + " bytes at " + offset + " is not aligned to "
                    + uri + "'s minimum block of " + minBlock + " bytes");
        }
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        check(offset, dst.remaining(), false);
        ClientConnection c = connection();
        int maxPayload = c.export().maxPayload();
        List<ClientConnection.Pending> sent = new ArrayList<>();
        int start = dst.position();
        for (int done = 0; done < dst.remaining(); ) {
            int n = Math.min(maxPayload, dst.remaining() - done);
            ByteBuffer piece = dst.slice(start + done, n);
            sent.add(c.send(Nbd.CMD_READ, 0, offset + done, n, null, piece, null));
            done += n;
        }
        awaitAll(c, sent);
        dst.position(dst.limit());
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        check(offset, src.remaining(), true);
        ClientConnection c = connection();
        int maxPayload = c.export().maxPayload();
        boolean serverFua = fua && (c.export().flags() & Nbd.FLAG_SEND_FUA) != 0;
        List<ClientConnection.Pending> sent = new ArrayList<>();
        int start = src.position();
        int total = src.remaining();
        for (int done = 0; done < total; ) {
            int n = Math.min(maxPayload, total - done);
            sent.add(c.send(Nbd.CMD_WRITE, serverFua ? Nbd.CMD_FLAG_FUA : 0, offset + done, n, src.slice(start + done, n), null, null));
            done += n;
        }
        awaitAll(c, sent);
        src.position(src.limit());
        if (fua && !serverFua) {
            flush();
        }
    }

    private static void awaitAll(ClientConnection c, List<ClientConnection.Pending> sent) throws IOException {
        IOException first = null;
        for (ClientConnection.Pending p : sent) {
            try {
                c.await(p);
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
        if ((export().flags() & Nbd.FLAG_SEND_FLUSH) != 0) {
            ClientConnection c = connection();
            c.await(c.send(Nbd.CMD_FLUSH, 0, 0, 0, null, null, null));
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
        if ((export().flags() & Nbd.FLAG_SEND_WRITE_ZEROES) != 0) {
            effect(Nbd.CMD_WRITE_ZEROES, mayUnmap ? 0 : Nbd.CMD_FLAG_NO_HOLE, offset, length);
            return;
        }
        ByteBuffer zeroes = ByteBuffer.allocateDirect((int) Math.min(length, export().maxPayload()));
        for (long done = 0; done < length; ) {
            int n = (int) Math.min(zeroes.capacity(), length - done);
            write(offset + done, zeroes.clear().limit(n), false);
            done += n;
        }
    }

    /** TRIM and WRITE_ZEROES: no payload, split only because the length field is 32 bits. */
    private void effect(int type, int cmdFlags, long offset, long length) throws IOException {
        ClientConnection c = connection();
        List<ClientConnection.Pending> sent = new ArrayList<>();
        for (long done = 0; done < length; ) {
            long n = Math.min(MAX_EFFECT_LENGTH, length - done);
            sent.add(c.send(type, cmdFlags, offset + done, n, null, null, null));
            done += n;
        }
        awaitAll(c, sent);
    }

    @Override
    public void allocation(long offset, long length, ExtentSink sink) throws IOException {
        check(offset, length, false);
        if (export().allocationContext() < 0) {
            sink.extent(length, 0);
            return;
        }
        long end = offset + length;
        long at = offset;
        while (at < end) {
            long window = Math.min(MAX_EFFECT_LENGTH, end - at);
            long[] reached = {at};
            long limit = at + window;
            ClientConnection c = connection();
            c.await(c.send(Nbd.CMD_BLOCK_STATUS, 0, at, window, null, null, (len, state) -> {
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

    /**
     * Ends the session politely (NBD_CMD_DISC) and closes the socket, for good: no reconnect after this.
     * Declares IOException as it always has, for the callers that catch it.
     */
    @Override
    public void close() throws IOException {
        closed = true;
        connection.close();
    }

    @Override
    public String toString() {
        return "NbdClient[" + uri + "]";
    }
}
