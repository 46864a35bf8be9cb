package dev.jdm.core.io;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class IoSplitTest {
    /** Cuts at multiples of 4. */
    private static final IoSplit.Boundaries EVERY_4 = (offset, remaining) -> Math.min(remaining, 4 - offset % 4);

    @Test
    void bufferIsCutAtBoundariesAndEachPieceSeesItsOwnWindow() throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(16).position(3).limit(13);
        List<String> seen = new ArrayList<>();
        IoSplit.forEach(5, buf, EVERY_4, (p, off, piece) -> {
            seen.add(off + "+" + piece.remaining() + "@" + piece.position());
            piece.position(piece.limit());
        });
        assertEquals(List.of("5+3@3", "8+4@6", "12+3@10"), seen);
        assertEquals(13, buf.position());
        assertEquals(13, buf.limit());
    }

    @Test
    void rangeIsCutAtBoundaries() throws IOException {
        List<String> seen = new ArrayList<>();
        IoSplit.forEach(2, 9, EVERY_4, (p, off, len) -> seen.add(off + "+" + len));
        assertEquals(List.of("2+2", "4+4", "8+3"), seen);
    }

    @Test
    void limitComesBackWhenAPieceFails() {
        ByteBuffer buf = ByteBuffer.allocate(16);
        assertThrows(IOException.class, () -> IoSplit.forEach(0, buf, EVERY_4, (p, off, piece) -> {
            if (off == 4) {
                throw new IOException("piece 2 fails");
            }
            piece.position(piece.limit());
        }));
        assertEquals(16, buf.limit());
        assertEquals(4, buf.position());
    }

    @Test
    void aPieceObjectReachesItsOperation() throws IOException {
        IoSplit.Pieces<String> named = new IoSplit.Pieces<>() {
            @Override
            public String pieceAt(long offset, long remaining) {
                return offset < 10 ? "low" : "high";
            }

            @Override
            public long pieceLength(String piece, long offset, long remaining) {
                return piece.equals("low") ? Math.min(remaining, 10 - offset) : remaining;
            }
        };
        List<String> seen = new ArrayList<>();
        IoSplit.forEach(6, 10, named, (p, off, len) -> seen.add(p + ":" + off + "+" + len));
        assertEquals(List.of("low:6+4", "high:10+6"), seen);
    }
}
