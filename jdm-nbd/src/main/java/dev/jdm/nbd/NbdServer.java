package dev.jdm.nbd;

import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.DeviceSnapshot;
import dev.jdm.core.engine.MappedDevice;

import javax.net.ssl.SSLContext;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Serves every mapped device of a {@link DeviceMapper} over NBD, under its name as export name, on
 * a Unix socket and optionally TCP (loopback unless another address is asked for), with optional
 * TLS. Connections are independent: each has its own reader and virtual threads for its requests.
 */
public final class NbdServer implements AutoCloseable {

    /** The TLS policy, as nbdkit's --tls: off (NOTLS), on (clients may upgrade), require (FORCEDTLS). */
    public enum TlsMode { OFF, ON, REQUIRE }

    /**
     * Where and how to listen. {@code tcpPort} -1 means no TCP listener, 0 an ephemeral port;
     * {@code tcpHost} null means the loopback address.
     */
    public record Config(Path unixSocket, String tcpHost, int tcpPort, TlsMode tls, Path tlsKey, Path tlsCert) {
        public Config {
            if (unixSocket == null && tcpPort < 0) {
                throw new IllegalArgumentException("an NBD server needs a Unix socket or a TCP port");
            }
            if (tls != TlsMode.OFF && (tlsKey == null || tlsCert == null)) {
                throw new IllegalArgumentException("TLS needs a key and a certificate");
            }
        }

        public static Config unix(Path socket) {
            return new Config(socket, null, -1, TlsMode.OFF, null, null);
        }

        public Config withTcp(String host, int port) {
            return new Config(unixSocket, host, port, tls, tlsKey, tlsCert);
        }

        public Config withTls(TlsMode mode, Path key, Path cert) {
            return new Config(unixSocket, tcpHost, tcpPort, mode, key, cert);
        }
    }

    /** How long close() waits for connections still busy with the device (one held up by a suspended device, say). */
    private static final long CLOSE_WAIT_MILLIS = 10_000;

    private final DeviceMapper dm;
    private final Config config;
    private final BufferPool pool = new BufferPool(256L << 20);
    /** Connections whose threads have not ended yet. */
    private final Set<Connection> connections = ConcurrentHashMap.newKeySet();
    private final List<ServerSocketChannel> listeners = new ArrayList<>();
    private final List<Thread> acceptors = new ArrayList<>();
    private final DeviceMapper.Listener removal = this::deviceChanged;
    private SSLContext tls;
    private InetSocketAddress tcpAddress;
    private volatile boolean closed;

    public NbdServer(DeviceMapper dm, Config config) {
        this.dm = dm;
        this.config = config;
    }

    /** Binds the sockets and starts accepting. A stale Unix socket file at the path is replaced. */
    public synchronized void start() throws IOException {
        if (config.tls() != TlsMode.OFF) {
            tls = Tls.serverContext(config.tlsKey(), config.tlsCert());
        }
        dm.addListener(removal);
        try {
            if (config.unixSocket() != null) {
                Files.deleteIfExists(config.unixSocket());
                ServerSocketChannel unix = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
                listeners.add(unix);
                unix.bind(UnixDomainSocketAddress.of(config.unixSocket()));
                // Like the daemon's control socket: only its own user (and root) may connect.
                Files.setPosixFilePermissions(config.unixSocket(), PosixFilePermissions.fromString("rw-------"));
            }
            if (config.tcpPort() >= 0) {
                ServerSocketChannel tcp = ServerSocketChannel.open();
                listeners.add(tcp);
                tcp.setOption(StandardSocketOptions.SO_REUSEADDR, true);
                InetAddress host = config.tcpHost() == null ? InetAddress.getLoopbackAddress() : InetAddress.getByName(config.tcpHost());
                tcp.bind(new InetSocketAddress(host, config.tcpPort()));
                tcpAddress = (InetSocketAddress) tcp.getLocalAddress();
            }
        } catch (IOException e) {
            close();
            throw e;
        }
        for (ServerSocketChannel l : listeners) {
            acceptors.add(Thread.ofPlatform().daemon().name("nbd-accept").start(() -> accept(l)));
        }
    }

    /** The bound TCP address (with the real port when 0 was asked for), or null without TCP. */
    public synchronized InetSocketAddress tcpAddress() {
        return tcpAddress;
    }

    private void accept(ServerSocketChannel listener) {
        while (!closed) {
            SocketChannel channel;
            try {
                channel = listener.accept();
            } catch (IOException e) {
                return; // Closed by close().
            }
            try {
                Connection c = new Connection(new SocketTransport(channel));
                connections.add(c);
                // A platform thread: the reader is busy for the whole connection and reads the socket constantly.
                Thread.ofPlatform().daemon().name("nbd-connection").start(c::run);
            } catch (IOException e) {
                closeQuietly(channel);
            }
        }
    }

    private void deviceChanged(DeviceSnapshot removed, DeviceMapper.Change change) {
        if (change == DeviceMapper.Change.REMOVED) {
            for (Connection c : connections) {
                MappedDevice d = c.device;
                if (d != null && d.isRemoved()) {
                    c.close();
                }
            }
        }
    }

    /** Number of client connections whose threads have not ended yet (for tests and status). */
    public int connectionCount() {
        return connections.size();
    }

    /**
     * One client: the handshake, then transmission on the export it chose. Its own thread releases
     * the device, once no worker of it can touch the device any more.
     */
    private final class Connection {
        private final Transport plain;
        private final CountDownLatch ended = new CountDownLatch(1);
        private volatile Transport transport;
        private volatile MappedDevice device;
        private volatile MappedDevice.Opener opener;

        Connection(Transport transport) {
            this.plain = transport;
            this.transport = transport;
        }

        void run() {
            try {
                ServerHandshake.Outcome o = new ServerHandshake(dm, plain, config.tls(), tls, this::close).run();
                if (o == null) {
                    return;
                }
                transport = o.transport();
                opener = o.opener();
                device = o.device();
                if (closed) {
                    return; // The server closed during the handshake.
                }
                new ServerTransmission(o, pool).run();
            } catch (IOException e) {
                // The client went away or sent garbage; its connection ends, nobody else notices.
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                close();
                releaseDevice();
                connections.remove(this);
                ended.countDown();
            }
        }

        /** Ends the session: wakes its threads, which finish what they hold and end. */
        void close() {
            closeQuietly(transport);
            closeQuietly(plain);
        }

        void releaseDevice() {
            MappedDevice.Opener o = opener;
            if (o != null) {
                o.close();
            }
        }
    }

    /**
     * Stops listening, ends every connection and removes the Unix socket file. Returns once every
     * connection has ended and released its device, or after {@link #CLOSE_WAIT_MILLIS}, releasing
     * for good the devices of connections that are still stuck.
     */
    @Override
    public synchronized void close() {
        closed = true;
        dm.removeListener(removal);
        for (ServerSocketChannel l : listeners) {
            closeQuietly(l);
        }
        for (Thread t : acceptors) {
            try {
                t.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        for (Connection c : connections) {
            c.close();
        }
        awaitConnectionsEnded();
        if (config.unixSocket() != null) {
            try {
                Files.deleteIfExists(config.unixSocket());
            } catch (IOException ignored) {
                // Left behind; start() replaces it next time.
            }
        }
    }

    private void awaitConnectionsEnded() {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(CLOSE_WAIT_MILLIS);
        for (Connection c : connections) {
            try {
                if (!c.ended.await(deadline - System.nanoTime(), TimeUnit.NANOSECONDS)) {
                    c.releaseDevice();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                c.releaseDevice();
            }
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) {
            // Closing on the way out: nothing to report to.
        }
    }
}
