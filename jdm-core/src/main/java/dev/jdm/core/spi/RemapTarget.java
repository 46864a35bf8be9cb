package dev.jdm.core.spi;

import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.ExtentSink;

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

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        int end = dst.limit();
        try {
            while (dst.hasRemaining()) {
                Remap r = map(offset, dst.remaining());
                dst.limit(dst.position() + (int) r.length());
                r.device().read(r.deviceOffset(), dst);
                offset += r.length();
                dst.limit(end);
            }
        } finally {
            dst.limit(end);
        }
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        int end = src.limit();
        try {
            while (src.hasRemaining()) {
                Remap r = map(offset, src.remaining());
                src.limit(src.position() + (int) r.length());
                r.device().write(r.deviceOffset(), src, fua);
                offset += r.length();
                src.limit(end);
            }
        } finally {
            src.limit(end);
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

    /** A byte-range operation on one contiguous mapped piece. */
    private interface PieceOp {
        void apply(Remap piece) throws IOException;
    }

    private void forEachPiece(long offset, long length, PieceOp op) throws IOException {
        long end = offset + length;
        while (offset < end) {
            Remap r = map(offset, end - offset);
            op.apply(r);
            offset += r.length();
        }
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        forEachPiece(offset, length, r -> r.device().discard(r.deviceOffset(), r.length()));
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayUnmap) throws IOException {
        forEachPiece(offset, length, r -> r.device().writeZeroes(r.deviceOffset(), r.length(), mayUnmap));
    }

    @Override
    public void allocation(long offset, long length, ExtentSink sink) throws IOException {
        forEachPiece(offset, length, r -> r.device().allocation(r.deviceOffset(), r.length(), sink));
    }

    @Override
    public boolean supportsDiscard() {
        return devices().stream().allMatch(BlockDevice::supportsDiscard);
    }
}
