package dev.jdm.core.spi;

import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.ExtentSink;
import dev.jdm.core.io.IoSplit;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;

/**
 * A target that only decides where an I/O goes (linear, striped, ...): it implements
 * {@link #map(long, long)} and this class moves the data, splitting the I/O wherever the mapping
 * stops being contiguous (a stripe's chunk boundary, for instance).
 */
public abstract class RemapTarget implements Target {

    /** Where the bytes at {@code offset} live, and how many of the next {@code length} map contiguously there. */
    public record Remap(BlockDevice device, long deviceOffset, long length) {
    }

    /**
     * Maps {@code offset} (bytes from the target start). The returned length is in (0, length]:
     * the engine calls again for the rest.
     */
    protected abstract Remap map(long offset, long length);

    /** An I/O is cut wherever the mapping stops being contiguous. */
    private final IoSplit.Pieces<Remap> pieces = new IoSplit.Pieces<>() {
        @Override
        public Remap pieceAt(long offset, long remaining) {
            return map(offset, remaining);
        }

        @Override
        public long pieceLength(Remap piece, long offset, long remaining) {
            return piece.length();
        }
    };

    // An I/O that maps to one run (all of linear's, most of striped's) goes to its device straight;
    // only one the mapping breaks goes through IoSplit (see there).

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        Remap r = map(offset, dst.remaining());
        if (r.length() == dst.remaining()) {
            r.device().read(r.deviceOffset(), dst);
        } else {
            IoSplit.forEach(offset, dst, pieces, (p, off, piece) -> p.device().read(p.deviceOffset(), piece));
        }
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        Remap r = map(offset, src.remaining());
        if (r.length() == src.remaining()) {
            r.device().write(r.deviceOffset(), src, fua);
        } else {
            IoSplit.forEach(offset, src, pieces, (p, off, piece) -> p.device().write(p.deviceOffset(), piece, fua));
        }
    }

    /** A range that maps to one contiguous run can go out straight from that device's page cache. */
    @Override
    public boolean sendCached(long offset, long length, ByteBuffer prefix, WritableByteChannel out) throws IOException {
        Remap r = map(offset, length);
        return r.length() == length && r.device().sendCached(r.deviceOffset(), length, prefix, out);
    }

    @Override
    public void flush() throws IOException {
        for (BlockDevice d : devices()) {
            d.flush();
        }
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        IoSplit.forEach(offset, length, pieces, (r, off, len) -> r.device().discard(r.deviceOffset(), len));
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayUnmap) throws IOException {
        IoSplit.forEach(offset, length, pieces, (r, off, len) -> r.device().writeZeroes(r.deviceOffset(), len, mayUnmap));
    }

    @Override
    public void allocation(long offset, long length, ExtentSink sink) throws IOException {
        IoSplit.forEach(offset, length, pieces, (r, off, len) -> r.device().allocation(r.deviceOffset(), len, sink));
    }

    @Override
    public boolean supportsDiscard() {
        return devices().stream().allMatch(BlockDevice::supportsDiscard);
    }
}
