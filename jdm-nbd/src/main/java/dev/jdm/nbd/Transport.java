package dev.jdm.nbd;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;

/**
 * A byte stream between an NBD client and server: a plain socket, or TLS over one after STARTTLS.
 * One thread reads and one (at a time) writes; they may run concurrently.
 */
interface Transport extends Closeable {

    /** Reads at least one byte into {@code dst}; returns -1 at end of stream. */
    int read(ByteBuffer dst) throws IOException;

    /** Writes every remaining byte of every buffer. */
    void write(ByteBuffer... srcs) throws IOException;

    boolean isTls();

    /** The socket itself, for sending file data without copying it (sendfile), or null where every byte must pass through here (TLS). */
    default WritableByteChannel zeroCopyChannel() {
        return null;
    }

    /** Stops both directions at once, waking a blocked reader or writer. */
    @Override
    void close() throws IOException;
}
