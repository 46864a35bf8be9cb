package dev.jdm.core.spi;

import dev.jdm.core.Sectors;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.ExtentSink;
import dev.jdm.core.io.IoSplit;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.util.LinkedHashSet;
import java.util.List;

/**
 * A target that passes every I/O through to a device at an offset, as linear does, and overrides one
 * step of it (flakey, dust, delay): a hook before a read piece, after it, before a write piece, before a
 * dataless op. A hook fails the I/O by throwing, delays it by blocking, drops it by saying so. Without
 * overrides this is linear, zero-copy reads included.
 * <p>
 * Reads, writes and flushes each take a {@link Route}; most filters give one route for all three, delay
 * gives each class its own (dm-delay's read, write and flush devices). Discards and write-zeroes are
 * writes. Block status follows the reads.
 */
public abstract class FilterTarget implements Target {

    /** Where one class of I/O goes: a device and the sector of it where the target starts. */
    public record Route(BlockDevice device, long startSector) {
        public long deviceOffset(long targetOffset) {
            return Sectors.toBytes(startSector) + targetOffset;
        }

        /** {@code <dev> <offset>}, the way tables print it. */
        public String table() {
            return device.id() + " " + startSector;
        }
    }

    /** The operations that carry no data. */
    public enum Dataless { FLUSH, DISCARD, WRITE_ZEROES }

    private final Route reads;
    private final Route writes;
    private final Route flushes;
    private final IoSplit.Boundaries cuts = this::pieceLength;

    protected FilterTarget(Route route) {
        this(route, route, route);
    }

    protected FilterTarget(Route reads, Route writes, Route flushes) {
        this.reads = reads;
        this.writes = writes;
        this.flushes = flushes;
    }

    /** The route reads take: the only one, unless the filter was given one per class. */
    protected final Route route() {
        return reads;
    }

    // ---- the hooks ------------------------------------------------------------------------------

    /**
     * How long the piece starting at {@code offset} may be, in (0, remaining]: the kernel's
     * {@code max_io_len}. Every hook sees one piece; the default never cuts.
     */
    protected long pieceLength(long offset, long remaining) {
        return remaining;
    }

    /**
     * Before a read piece goes down: may throw to fail it or block to delay it. Returns whether
     * {@link #afterRead} wants the bytes (the kernel's end_io), decided here so that both steps see
     * the same state. A filter overriding this overrides {@link #readsPassThrough} too.
     */
    protected boolean beforeRead(long offset, int length) throws IOException {
        return false;
    }

    /** The bytes just read for a piece whose {@link #beforeRead} asked for them, as a buffer of its own to change. */
    protected void afterRead(long offset, ByteBuffer piece) {
    }

    /**
     * Whether a read of the range would leave the hooks untouched now, so that it may go out
     * zero-copy ({@link #sendCached}) without them.
     */
    protected boolean readsPassThrough(long offset, long length) {
        return true;
    }

    /**
     * Before a write piece goes down: may throw to fail it or block to delay it. Returns what to
     * write: {@code piece} itself, a changed copy (never change the caller's bytes), or null to drop
     * the write silently.
     */
    protected ByteBuffer beforeWrite(long offset, ByteBuffer piece, boolean fua) throws IOException {
        return piece;
    }

    /**
     * Before a flush (offset and length 0), a discard or a write-zeroes piece: may throw to fail it or
     * block to delay it; returns false to drop it silently.
     */
    protected boolean beforeDataless(Dataless op, long offset, long length) throws IOException {
        return true;
    }

    // ---- forwarding -----------------------------------------------------------------------------

    // An I/O that is one piece (every I/O of a filter that does not cut) is forwarded straight; only
    // one cut into pieces goes through IoSplit (see there).

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        if (pieceLength(offset, dst.remaining()) == dst.remaining()) {
            readPiece(offset, dst);
        } else {
            IoSplit.forEach(offset, dst, cuts, (none, off, piece) -> readPiece(off, piece));
        }
    }

    private void readPiece(long offset, ByteBuffer piece) throws IOException {
        int start = piece.position();
        boolean seeBytes = beforeRead(offset, piece.remaining());
        reads.device.read(reads.deviceOffset(offset), piece);
        if (seeBytes) {
            afterRead(offset, piece.slice(start, piece.position() - start));
        }
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        if (pieceLength(offset, src.remaining()) == src.remaining()) {
            writePiece(offset, src, fua);
        } else {
            IoSplit.forEach(offset, src, cuts, (none, off, piece) -> writePiece(off, piece, fua));
        }
    }

    private void writePiece(long offset, ByteBuffer piece, boolean fua) throws IOException {
        ByteBuffer data = beforeWrite(offset, piece, fua);
        if (data != null) {
            writes.device.write(writes.deviceOffset(offset), data, fua);
        }
        piece.position(piece.limit()); // a dropped or copied piece counts as written too
    }

    @Override
    public boolean sendCached(long offset, long length, ByteBuffer prefix, WritableByteChannel out) throws IOException {
        return readsPassThrough(offset, length)
                && reads.device.sendCached(reads.deviceOffset(offset), length, prefix, out);
    }

    @Override
    public void flush() throws IOException {
        if (beforeDataless(Dataless.FLUSH, 0, 0)) {
            flushes.device.flush();
        }
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        IoSplit.forEach(offset, length, cuts, (none, off, len) -> {
            if (beforeDataless(Dataless.DISCARD, off, len)) {
                writes.device.discard(writes.deviceOffset(off), len);
            }
        });
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayUnmap) throws IOException {
        IoSplit.forEach(offset, length, cuts, (none, off, len) -> {
            if (beforeDataless(Dataless.WRITE_ZEROES, off, len)) {
                writes.device.writeZeroes(writes.deviceOffset(off), len, mayUnmap);
            }
        });
    }

    @Override
    public void allocation(long offset, long length, ExtentSink sink) throws IOException {
        reads.device.allocation(reads.deviceOffset(offset), length, sink);
    }

    @Override
    public boolean supportsDiscard() {
        return writes.device.supportsDiscard();
    }

    @Override
    public List<BlockDevice> devices() {
        return List.copyOf(new LinkedHashSet<>(List.of(reads.device, writes.device, flushes.device)));
    }
}
