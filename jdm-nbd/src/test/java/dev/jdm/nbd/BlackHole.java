package dev.jdm.nbd;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A server that never answers. Over TCP, a loopback listener that never accepts, its accept queue
 * filled, so the kernel drops every further SYN and a connect hangs as it would towards a dead host.
 */
final class BlackHole implements AutoCloseable {
    private final ServerSocketChannel listener;
    private final List<SocketChannel> fillers = new ArrayList<>();

    private BlackHole(ServerSocketChannel listener) {
        this.listener = listener;
    }

    static BlackHole tcp() throws IOException {
        ServerSocketChannel listener = ServerSocketChannel.open();
        BlackHole hole = new BlackHole(listener);
        try {
            listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 1);
            // Linux queues backlog + 1 connections; a few more than that leaves no doubt.
            for (int i = 0; i < 4; i++) {
                SocketChannel filler = SocketChannel.open();
                hole.fillers.add(filler);
                filler.configureBlocking(false);
                filler.connect(listener.getLocalAddress());
            }
        } catch (IOException e) {
            hole.close();
            throw e;
        }
        return hole;
    }

    /** A Unix socket that never accepts: connecting works (the kernel queues it), the server's greeting never comes. */
    static BlackHole unix(Path socket) throws IOException {
        Files.deleteIfExists(socket);
        ServerSocketChannel listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            listener.bind(UnixDomainSocketAddress.of(socket));
        } catch (IOException e) {
            listener.close();
            throw e;
        }
        return new BlackHole(listener);
    }

    int port() throws IOException {
        return ((InetSocketAddress) listener.getLocalAddress()).getPort();
    }

    @Override
    public void close() throws IOException {
        for (SocketChannel c : fillers) {
            c.close();
        }
        listener.close();
    }
}
