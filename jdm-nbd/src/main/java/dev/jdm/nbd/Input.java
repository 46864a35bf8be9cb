package dev.jdm.nbd;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Buffered reads from a transport: small headers come out of one buffer filled by large reads, so a
 * queue of 4 KiB requests costs one system call per many requests; large payloads bypass the buffer.
 * After a large payload the next fill reads only the bytes asked for: the header that follows is
 * most likely that of another large payload, which would otherwise be read into the buffer and
 * copied out of it again.
 */
final class Input {
    private static final int BUFFER = 256 << 10;
    /** Payloads from this size on are worth a system call of their own for the header before them. */
    private static final int LARGE_PAYLOAD = 64 << 10;

    private final Transport transport;
    private final ByteBuffer buffer = ByteBuffer.allocateDirect(BUFFER).flip();
    private boolean afterLargePayload;

    Input(Transport transport) {
        this.transport = transport;
    }

    /** Makes {@code n} bytes available and returns the buffer positioned at them; EOFException if the peer goes away first. */
    ByteBuffer need(int n) throws IOException {
        if (buffer.remaining() < n) {
            buffer.compact();
            fillLimit(n);
            while (buffer.position() < n) {
                if (transport.read(buffer) < 0) {
                    buffer.flip();
                    throw new EOFException("connection closed after " + buffer.remaining() + " of " + n + " bytes");
                }
            }
            buffer.flip();
        }
        return buffer;
    }

    /** Before a fill that must reach {@code n} bytes: only those after a large payload, as many as fit otherwise. */
    private void fillLimit(int n) {
        buffer.limit(afterLargePayload ? n : buffer.capacity());
        afterLargePayload = false;
    }

    /** Like {@link #need} but reports a clean end of stream (nothing buffered, peer closed) as false. */
    boolean await(int n) throws IOException {
        if (buffer.hasRemaining()) {
            need(n);
            return true;
        }
        buffer.clear();
        fillLimit(n);
        int got = transport.read(buffer);
        buffer.flip();
        if (got < 0) {
            return false;
        }
        need(n);
        return true;
    }

    void readFully(ByteBuffer dst) throws IOException {
        afterLargePayload = dst.remaining() >= LARGE_PAYLOAD;
        if (buffer.hasRemaining()) {
            int n = Math.min(buffer.remaining(), dst.remaining());
            int limit = buffer.limit();
            buffer.limit(buffer.position() + n);
            dst.put(buffer);
            buffer.limit(limit);
        }
        while (dst.hasRemaining()) {
            if (transport.read(dst) < 0) {
                throw new EOFException("connection closed with " + dst.remaining() + " bytes of payload missing");
            }
        }
    }

    byte[] bytes(int n) throws IOException {
        byte[] b = new byte[n];
        readFully(ByteBuffer.wrap(b));
        return b;
    }

    /** Reads and drops {@code n} bytes (the payload of a request that is refused). */
    void skip(long n) throws IOException {
        while (n > 0) {
            int step = (int) Math.min(n, BUFFER);
            need(step);
            buffer.position(buffer.position() + step);
            n -= step;
        }
    }

    /** Whether bytes the peer sent are still waiting here (they must not be lost when TLS starts). */
    boolean hasBuffered() {
        return buffer.hasRemaining();
    }
}
