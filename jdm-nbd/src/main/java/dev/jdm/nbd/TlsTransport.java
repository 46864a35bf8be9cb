package dev.jdm.nbd;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLException;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.concurrent.locks.ReentrantLock;

/**
 * TLS 1.3 over a socket channel with the JDK's SSLEngine, entered after NBD_OPT_STARTTLS. Reading
 * and writing may run on different threads, as SSLEngine allows wrap and unwrap to.
 */
final class TlsTransport implements Transport {
    private final SocketChannel channel;
    private final SSLEngine engine;
    private final ByteBuffer netIn;
    private final ByteBuffer appIn;
    private final ByteBuffer netOut;
    private final ReentrantLock readLock = new ReentrantLock();
    private final ReentrantLock writeLock = new ReentrantLock();

    private TlsTransport(SocketChannel channel, SSLEngine engine) {
        this.channel = channel;
        this.engine = engine;
        int net = engine.getSession().getPacketBufferSize();
        netIn = ByteBuffer.allocateDirect(net).flip();
        appIn = ByteBuffer.allocateDirect(engine.getSession().getApplicationBufferSize()).flip();
        netOut = ByteBuffer.allocateDirect(net);
    }

    /** Runs the TLS handshake on the channel; the peer must not have sent anything past the STARTTLS exchange. */
    static TlsTransport start(SocketTransport plain, SSLContext context, boolean clientMode) throws IOException {
        SSLEngine engine = context.createSSLEngine();
        engine.setUseClientMode(clientMode);
        engine.setEnabledProtocols(new String[]{"TLSv1.3"});
        TlsTransport t = new TlsTransport(plain.channel(), engine);
        engine.beginHandshake();
        t.handshake();
        return t;
    }

    private void handshake() throws IOException {
        while (true) {
            switch (engine.getHandshakeStatus()) {
                case NEED_WRAP -> wrap(ByteBuffer.allocate(0));
                case NEED_UNWRAP, NEED_UNWRAP_AGAIN -> {
                    if (unwrapOnce() < 0) {
                        throw new EOFException("connection closed during the TLS handshake");
                    }
                }
                case NEED_TASK -> runTasks();
                case FINISHED, NOT_HANDSHAKING -> {
                    return;
                }
            }
        }
    }

    private void runTasks() {
        Runnable task;
        while ((task = engine.getDelegatedTask()) != null) {
            task.run();
        }
    }

    /** Unwraps one record into appIn, reading from the socket as needed; -1 at end of stream. */
    private int unwrapOnce() throws IOException {
        while (true) {
            appIn.compact();
            SSLEngineResult r;
            try {
                r = engine.unwrap(netIn, appIn);
            } finally {
                appIn.flip();
            }
            switch (r.getStatus()) {
                case OK -> {
                    if (r.getHandshakeStatus() == SSLEngineResult.HandshakeStatus.NEED_TASK) {
                        runTasks();
                    }
                    if (r.getHandshakeStatus() == SSLEngineResult.HandshakeStatus.NEED_WRAP) {
                        wrap(ByteBuffer.allocate(0));
                    }
                    return r.bytesProduced();
                }
                case BUFFER_UNDERFLOW -> {
                    netIn.compact();
                    int n;
                    try {
                        n = channel.read(netIn);
                    } finally {
                        netIn.flip();
                    }
                    if (n < 0) {
                        return -1;
                    }
                }
                case BUFFER_OVERFLOW -> throw new SSLException("TLS record larger than the application buffer");
                case CLOSED -> {
                    return -1;
                }
            }
        }
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        readLock.lock();
        try {
            while (!appIn.hasRemaining()) {
                if (unwrapOnce() < 0) {
                    return -1;
                }
            }
            int n = Math.min(appIn.remaining(), dst.remaining());
            int limit = appIn.limit();
            appIn.limit(appIn.position() + n);
            dst.put(appIn);
            appIn.limit(limit);
            return n;
        } finally {
            readLock.unlock();
        }
    }

    @Override
    public void write(ByteBuffer... srcs) throws IOException {
        writeLock.lock();
        try {
            for (ByteBuffer src : srcs) {
                do {
                    wrap(src);
                } while (src.hasRemaining());
            }
        } finally {
            writeLock.unlock();
        }
    }

    /** Wraps what one record holds of {@code src} and sends it. */
    private void wrap(ByteBuffer src) throws IOException {
        writeLock.lock();
        try {
            netOut.clear();
            SSLEngineResult r = engine.wrap(src, netOut);
            if (r.getStatus() != SSLEngineResult.Status.OK && r.getStatus() != SSLEngineResult.Status.CLOSED) {
                throw new SSLException("TLS wrap failed: " + r.getStatus());
            }
            if (r.getHandshakeStatus() == SSLEngineResult.HandshakeStatus.NEED_TASK) {
                runTasks();
            }
            netOut.flip();
            while (netOut.hasRemaining()) {
                channel.write(netOut);
            }
        } finally {
            writeLock.unlock();
        }
    }

    @Override
    public boolean isTls() {
        return true;
    }

    @Override
    public void close() throws IOException {
        try {
            if (writeLock.tryLock()) {
                try {
                    engine.closeOutbound();
                    wrap(ByteBuffer.allocate(0));
                } finally {
                    writeLock.unlock();
                }
            }
        } catch (IOException ignored) {
            // The peer may already be gone; the socket closes below either way.
        } finally {
            channel.close();
        }
    }
}
