package dev.jdm.nbd;

import java.io.IOException;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.channels.WritableByteChannel;

/** NBD over a plain (Unix or TCP) socket channel in blocking mode. */
final class SocketTransport implements Transport {
    /** Large socket buffers keep 32 MiB requests and deep queues moving without extra round trips. */
    private static final int SOCKET_BUFFER = 4 << 20;

    private final SocketChannel channel;

    SocketTransport(SocketChannel channel) throws IOException {
        this.channel = channel;
        channel.configureBlocking(true);
        trySet(StandardSocketOptions.SO_SNDBUF, SOCKET_BUFFER);
        trySet(StandardSocketOptions.SO_RCVBUF, SOCKET_BUFFER);
        if (channel.supportedOptions().contains(StandardSocketOptions.TCP_NODELAY)) {
            channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
        }
    }

    private void trySet(java.net.SocketOption<Integer> option, int value) {
        try {
            if (channel.supportedOptions().contains(option)) {
                channel.setOption(option, value);
            }
        } catch (IOException | UnsupportedOperationException e) {
            // The kernel's default buffer sizes still work, only slower.
        }
    }

    SocketChannel channel() {
        return channel;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        return channel.read(dst);
    }

    @Override
    public void write(ByteBuffer... srcs) throws IOException {
        long remaining = 0;
        for (ByteBuffer b : srcs) {
            remaining += b.remaining();
        }
        while (remaining > 0) {
            remaining -= channel.write(srcs);
        }
    }

    @Override
    public WritableByteChannel zeroCopyChannel() {
        return channel;
    }

    @Override
    public boolean isTls() {
        return false;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
