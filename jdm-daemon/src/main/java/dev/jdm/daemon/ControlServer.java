package dev.jdm.daemon;

import dev.jdm.core.Errno;
import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The control socket: a Unix domain socket (file mode 0600) that only root and the daemon's own user
 * may use, checked with the peer's credentials. One virtual thread per connection; each line read
 * is a request, each line written its reply.
 */
public final class ControlServer implements AutoCloseable {
    private final Path path;
    private final ControlService service;
    private final ServerSocketChannel server;
    private final Set<UserPrincipal> allowed;
    private final Thread acceptor;

    private ControlServer(Path path, ControlService service, ServerSocketChannel server, Set<UserPrincipal> allowed) {
        this.path = path;
        this.service = service;
        this.server = server;
        this.allowed = allowed;
        this.acceptor = Thread.ofVirtual().name("jdm-control-accept").unstarted(this::acceptLoop);
    }

    /**
     * Binds the socket at {@code path}. A socket file left by a daemon that died is replaced; one a
     * live daemon answers on is not.
     */
    public static ControlServer start(Path path, ControlService service) throws IOException {
        Path socket = path.toAbsolutePath();
        Set<UserPrincipal> allowed = allowedUsers();
        if (Files.exists(socket)) {
            if (answers(socket)) {
                throw new IOException("a jdm daemon already listens on " + socket);
            }
            Files.delete(socket);
        }
        ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.bind(UnixDomainSocketAddress.of(socket));
            Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-------"));
        } catch (IOException e) {
            ch.close();
            throw e;
        }
        ControlServer s = new ControlServer(socket, service, ch, allowed);
        s.acceptor.start();
        return s;
    }

    private static boolean answers(Path socket) {
        try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            return c.isConnected();
        } catch (IOException e) {
            return false;
        }
    }

    /** Root, and the user the daemon runs as. */
    private static Set<UserPrincipal> allowedUsers() throws IOException {
        UserPrincipalLookupService users = FileSystems.getDefault().getUserPrincipalLookupService();
        int self = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        // A numeric name that no account has is taken as the uid itself.
        return new HashSet<>(List.of(users.lookupPrincipalByName("0"), users.lookupPrincipalByName(Integer.toString(self))));
    }

    public Path path() {
        return path;
    }

    private void acceptLoop() {
        while (server.isOpen()) {
            try {
                SocketChannel c = server.accept();
                Thread.ofVirtual().name("jdm-control").start(() -> serve(c));
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                System.err.println("jdm daemon: control socket accept failed: " + e.getMessage());
            }
        }
    }

    private void serve(SocketChannel c) {
        try (c; BufferedReader in = new BufferedReader(Channels.newReader(c, StandardCharsets.UTF_8));
             OutputStream out = Channels.newOutputStream(c)) {
            UnixDomainPrincipal peer = c.getOption(ExtendedSocketOptions.SO_PEERCRED);
            if (!allowed.contains(peer.user())) {
                // Answer the first request rather than hang up at once: a client still writing it
                // would get EPIPE and never read why.
                in.readLine();
                reply(out, Protocol.error(Errno.EACCES, "user " + peer.user().getName()
                        + " may not use this daemon: only root and the daemon's own user may").toString());
                return;
            }
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                if (!line.isBlank()) {
                    reply(out, service.handle(line).toString());
                }
            }
        } catch (IOException e) {
            // The client went away mid-conversation; nothing is owed to it.
        }
    }

    private static void reply(OutputStream out, String json) throws IOException {
        out.write((json + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    @Override
    public void close() throws IOException {
        server.close();
        Files.deleteIfExists(path);
    }
}
