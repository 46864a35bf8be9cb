package dev.jdm.core.io;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The one loop that cuts an I/O into pieces wherever what lies underneath stops being contiguous: a
 * table at its target boundaries, a remap target where its mapping breaks (a stripe's chunk), a filter
 * at its block size. The caller says what holds the bytes at an offset and how far that piece runs;
 * the loop narrows the buffer to each piece in turn and always gives the buffer its limit back.
 * <p>
 * On a hot path the caller first checks whether the whole I/O is one piece (nearly every I/O is) and
 * then calls its target or device itself: this loop's calls see every kind of piece, so the JIT
 * cannot inline them, which cost the 4 KiB paths 5-15 % when every I/O went through here.
 *
 * @param <P> what a piece is for the caller (a table entry, a remapping); its operation gets it back
 */
public final class IoSplit {
    private IoSplit() {
    }

    /** Where an I/O is cut. */
    public interface Pieces<P> {
        /** What holds the bytes at {@code offset} (the rest of the I/O is {@code remaining} bytes). */
        P pieceAt(long offset, long remaining) throws IOException;

        /** How many bytes from {@code offset} the piece covers: in (0, remaining]. */
        long pieceLength(P piece, long offset, long remaining);
    }

    /** Pieces that are only lengths (a filter cutting at block boundaries). */
    @FunctionalInterface
    public interface Boundaries extends Pieces<Void> {
        long lengthAt(long offset, long remaining);

        @Override
        default Void pieceAt(long offset, long remaining) {
            return null;
        }

        @Override
        default long pieceLength(Void piece, long offset, long remaining) {
            return lengthAt(offset, remaining);
        }
    }

    /** An operation on one piece of a buffer: {@code buffer} is narrowed to the piece. */
    @FunctionalInterface
    public interface BufferOp<P> {
        void apply(P piece, long offset, ByteBuffer buffer) throws IOException;
    }

    /** An operation on one piece of a byte range that carries no data (discard, zeroes, block status). */
    @FunctionalInterface
    public interface RangeOp<P> {
        void apply(P piece, long offset, long length) throws IOException;
    }

    /** Applies {@code op} to each piece of {@code buffer}'s remaining bytes, which start at {@code offset}. */
    public static <P> void forEach(long offset, ByteBuffer buffer, Pieces<P> pieces, BufferOp<P> op) throws IOException {
        int end = buffer.limit();
        try {
            while (buffer.hasRemaining()) {
                long remaining = buffer.remaining();
                P piece = pieces.pieceAt(offset, remaining);
                int length = (int) pieces.pieceLength(piece, offset, remaining);
                int next = buffer.position() + length;
                buffer.limit(next);
                op.apply(piece, offset, buffer);
                buffer.limit(end).position(next);
                offset += length;
            }
        } finally {
            buffer.limit(end);
        }
    }

    /** Applies {@code op} to each piece of [offset, offset+length). */
    public static <P> void forEach(long offset, long length, Pieces<P> pieces, RangeOp<P> op) throws IOException {
        long end = offset + length;
        while (offset < end) {
            P piece = pieces.pieceAt(offset, end - offset);
            long pieceLength = pieces.pieceLength(piece, offset, end - offset);
            op.apply(piece, offset, pieceLength);
            offset += pieceLength;
        }
    }
}
