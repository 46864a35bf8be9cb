package dev.jdm.nbd;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.Errno;
import dev.jdm.core.io.ExtentSink;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One socket of an {@link NbdClient}: the handshake, then pipelined requests from any number of
 * threads with a reader thread routing replies by cookie. Once broken (the peer went away, a write
 * failed, a request outlived the timeout, or close) it stays broken: every request still waiting
 * fails and the client opens a new connection for later ones.
 */
final class ClientConnection {
    private static final byte[] ZEROES = new byte[64 << 10];
    /** How long breaking off waits for the reader to leave the caller's buffers (it stops as soon as its socket closes). */
    private static final long READER_STOP_MILLIS = 5000;

    /** One thread checks the deadlines of every connection in the process: a connect's, and those of requests in flight. */
    private static final ScheduledThreadPoolExecutor DEADLINES = new ScheduledThreadPoolExecutor(1,
            r -> Thread.ofPlatform().daemon().name("nbd-client-deadlines").unstarted(r));

    static {
        DEADLINES.setRemoveOnCancelPolicy(true);
    }

    private final NbdUri uri;
    private final ClientHandshake.Export export;
    private final Transport transport;
    private final Input in;
    private final long timeoutNanos;
    private final ReentrantLock writeLock = new ReentrantLock();
    private final Map<Long, Pending> pending = new ConcurrentHashMap<>();
    private final AtomicLong cookies = new AtomicLong();
    /** Why the connection broke: the error given to requests that arrive or wait past that moment. */
    private final AtomicReference<BlockIoException> broken = new AtomicReference<>();
    private final Thread reader;
    private volatile ScheduledFuture<?> watchdog;

    private ClientConnection(NbdUri uri, Transport transport, Input in, ClientHandshake.Export export, Duration timeout) {
        this.uri = uri;
        this.transport = transport;
        this.in = in;
        this.export = export;
        this.timeoutNanos = timeout.toNanos();
        this.reader = Thread.ofPlatform().daemon().name("nbd-client " + uri).unstarted(this::readReplies);
    }

    /**
     * Connects and negotiates, both within {@code timeout} (zero: no limit): past it the socket is
     * closed under the attempt, which fails with ETIMEDOUT. Fails with the server's reason otherwise.
     */
    static ClientConnection open(NbdUri uri, Duration timeout) throws IOException {
        SocketChannel channel = uri.socket() != null ? SocketChannel.open(StandardProtocolFamily.UNIX) : SocketChannel.open();
        SocketAddress address = uri.socket() != null ? UnixDomainSocketAddress.of(uri.socket()) : new InetSocketAddress(uri.host(), uri.port());
        // 0 connecting, 1 connected, 2 given up by the deadline: whichever moves first from 0 wins.
        AtomicInteger outcome = new AtomicInteger();
        ScheduledFuture<?> deadline = timeout.isZero() ? null : DEADLINES.schedule(() -> {
            if (outcome.compareAndSet(0, 2)) {
                closeQuietly(channel);
            }
        }, timeout.toNanos(), TimeUnit.NANOSECONDS);
        try {
            channel.connect(address);
            Transport transport = new SocketTransport(channel);
            Input in = new Input(transport);
            ClientHandshake.Export export = new ClientHandshake(uri, transport, in).run();
            if (!outcome.compareAndSet(0, 1)) {
                throw new IOException("deadline passed");
            }
            ClientConnection c = new ClientConnection(uri, transport, in, export, timeout);
            c.start();
            return c;
        } catch (IOException | RuntimeException e) {
            channel.close();
            if (outcome.get() == 2) {
                throw new BlockIoException(Errno.ETIMEDOUT, uri + ": connecting timed out after " + text(timeout), e);
            }
            throw e;
        } finally {
            if (deadline != null) {
                deadline.cancel(false);
            }
        }
    }

    private void start() {
        if (timeoutNanos > 0) {
            // A tenth of the timeout late at most (within 10 ms .. 1 s), at the cost of a few scans a second.
            long period = Math.clamp(timeoutNanos / 10, TimeUnit.MILLISECONDS.toNanos(10), TimeUnit.SECONDS.toNanos(1));
            watchdog = DEADLINES.scheduleAtFixedRate(this::checkDeadlines, period, period, TimeUnit.NANOSECONDS);
        }
        reader.start(); // After the watchdog is set: a reader that breaks off at once must find it to cancel it.
    }

    ClientHandshake.Export export() {
        return export;
    }

    boolean isBroken() {
        return broken.get() != null;
    }

    static String text(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }

    /** The error for a request that arrives after (or waited across) a break whose cause is {@code cause}. */
    BlockIoException lost(IOException cause) {
        String why = cause.getMessage() != null ? cause.getMessage() : cause.getClass().getSimpleName();
        return new BlockIoException(Errno.EIO, uri + ": connection lost: " + why, cause);
    }

    // ---- requests ---------------------------------------------------------------------------------

    /** A request waiting for its reply; the reader fills {@code dst} or feeds {@code extents}. */
    static final class Pending {
        final Wire.Request request;
        final ByteBuffer dst;
        final ExtentSink extents;
        final long sentAt;
        final CompletableFuture<Void> done = new CompletableFuture<>();
        int error;
        String message = "";

        Pending(Wire.Request request, ByteBuffer dst, ExtentSink extents, long sentAt) {
            this.request = request;
            this.dst = dst;
            this.extents = extents;
            this.sentAt = sentAt;
        }
    }

    Pending send(int type, int cmdFlags, long offset, long length, ByteBuffer payload, ByteBuffer dst, ExtentSink extents)
            throws IOException {
        Wire.Request r = new Wire.Request(cmdFlags, type, cookies.incrementAndGet(), offset, length);
        Pending p = new Pending(r, dst, extents, System.nanoTime());
        pending.put(r.cookie(), p);
        // Checked after the put: a break either sees this request among the pending or is seen here.
        BlockIoException b = broken.get();
        if (b != null) {
            pending.remove(r.cookie());
            throw copy(b);
        }
        IOException failed = null;
        writeLock.lock();
        try {
            if (payload != null) {
                transport.write(r.encode(), payload);
            } else {
                transport.write(r.encode());
            }
        } catch (IOException e) {
            failed = e;
        } finally {
            writeLock.unlock();
        }
        if (failed != null) {
            // Fails every waiting request, this one too, unless a break (a timeout that closed the socket under
            // this write, say) came first and failed it already with its own reason, which await reports.
            breakOff(lost(failed), null, 0);
        }
        return p;
    }

    void await(Pending p) throws IOException {
        try {
            p.done.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BlockIoException(Errno.EIO, uri + ": interrupted");
        } catch (ExecutionException e) {
            throw copy((BlockIoException) e.getCause());
        }
        if (p.error != 0) {
            throw new BlockIoException(Nbd.errnoOf(p.error), uri + ": " + (p.message.isEmpty() ? "NBD error " + p.error : p.message));
        }
    }

    /** The same failure with the caller's stack (the original, raised on another thread, is its cause). */
    private static BlockIoException copy(BlockIoException e) {
        return new BlockIoException(e.errno(), e.getMessage(), e);
    }

    // ---- replies ----------------------------------------------------------------------------------

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
            breakOff(lost(e instanceof IOException io ? io : new IOException(e.getMessage(), e)), null, 0);
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
                    if (context == export.allocationContext() && p.extents != null) {
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

    // ---- breaking off -----------------------------------------------------------------------------

    /** Runs on the deadline thread: the first request past its deadline breaks the connection. */
    private void checkDeadlines() {
        long now = System.nanoTime();
        for (Pending p : pending.values()) {
            if (now - p.sentAt >= timeoutNanos) {
                String after = text(Duration.ofNanos(timeoutNanos));
                breakOff(new BlockIoException(Errno.EIO, uri + ": connection dropped after a request timed out after " + after),
                        new BlockIoException(Errno.ETIMEDOUT, uri + ": request timed out after " + after), now - timeoutNanos);
                return;
            }
        }
    }

    /**
     * Declares the connection broken (the first cause wins): closes the socket, so the server sees
     * nothing more from it and the reader stops, waits until the reader is out of the callers'
     * buffers, then fails every waiting request: with {@code timedOut} those sent by
     * {@code sentBefore} (when given), with {@code dropped} the others.
     */
    private void breakOff(BlockIoException dropped, BlockIoException timedOut, long sentBefore) {
        boolean first = broken.compareAndSet(null, dropped);
        if (first) {
            ScheduledFuture<?> w = watchdog;
            if (w != null) {
                w.cancel(false);
            }
            closeQuietly(transport);
        }
        if (Thread.currentThread() != reader) {
            try {
                reader.join(READER_STOP_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (first) {
            for (Iterator<Pending> i = pending.values().iterator(); i.hasNext(); ) {
                Pending p = i.next();
                i.remove();
                p.done.completeExceptionally(timedOut != null && p.sentAt - sentBefore <= 0 ? timedOut : dropped);
            }
        }
    }

    /** Ends the session politely (NBD_CMD_DISC) unless a request is being written, and closes the socket. */
    void close() {
        if (!isBroken() && writeLock.tryLock()) {
            try {
                transport.write(new Wire.Request(0, Nbd.CMD_DISC, cookies.incrementAndGet(), 0, 0).encode());
            } catch (IOException ignored) {
                // The server is gone already; closing is all that is left.
            } finally {
                writeLock.unlock();
            }
        }
        breakOff(lost(new IOException("closed")), null, 0);
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) {
            // Breaking off: the error that matters is already known.
        }
    }
}
