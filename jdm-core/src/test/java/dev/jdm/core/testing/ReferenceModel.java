package dev.jdm.core.testing;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * An in-memory model of a mapped device over in-memory copies of its backing files. It computes,
 * byte by byte and from the kernel's formulas alone, where each byte of the device lands, so tests can
 * compare the engine against it without trusting any engine code.
 */
public final class ReferenceModel {

    /** One table line of the model; lengths and offsets in bytes. */
    public sealed interface Segment {
        long length();
    }

    /** {@code linear <file> <offset>}. */
    public record Linear(long length, int file, long offset) implements Segment {
    }

    /** {@code striped <n> <chunk> (<file> <offset>)...}. */
    public record Striped(long length, long chunk, int[] files, long[] offsets) implements Segment {
    }

    /** {@code zero}: reads zeroes, swallows writes. */
    public record Zero(long length) implements Segment {
    }

    private final List<Segment> segments;
    private final long[] starts;
    private final byte[][] files;

    public ReferenceModel(List<Segment> segments, long... fileSizes) {
        this.segments = List.copyOf(segments);
        this.starts = new long[segments.size() + 1];
        for (int i = 0; i < segments.size(); i++) {
            starts[i + 1] = starts[i] + segments.get(i).length();
        }
        this.files = new byte[fileSizes.length][];
        for (int i = 0; i < fileSizes.length; i++) {
            files[i] = new byte[Math.toIntExact(fileSizes[i])];
        }
    }

    public long size() {
        return starts[starts.length - 1];
    }

    public byte[] file(int index) {
        return files[index];
    }

    /** Where device byte {@code offset} is stored: {file, byte offset in it}, or null for a zero segment. */
    public long[] locate(long offset) {
        int i = Arrays.binarySearch(starts, offset);
        int seg = i >= 0 ? i : -i - 2;
        long o = offset - starts[seg];
        return switch (segments.get(seg)) {
            case Linear l -> new long[]{l.file(), l.offset() + o};
            case Striped s -> {
                long chunkNo = o / s.chunk();
                int stripe = (int) (chunkNo % s.files().length);
                long row = chunkNo / s.files().length;
                yield new long[]{s.files()[stripe], s.offsets()[stripe] + row * s.chunk() + o % s.chunk()};
            }
            case Zero z -> null;
        };
    }

    /**
     * Applies a write. Safe to call from several threads at once for writes whose bytes land in
     * different places, as the byte arrays are only touched at the written positions.
     */
    public void write(long offset, byte[] data) {
        for (int k = 0; k < data.length; k++) {
            long[] at = locate(offset + k);
            if (at != null) {
                files[(int) at[0]][(int) at[1]] = data[k];
            }
        }
    }

    public byte[] read(long offset, int length) {
        byte[] out = new byte[length];
        for (int k = 0; k < length; k++) {
            long[] at = locate(offset + k);
            out[k] = at == null ? 0 : files[(int) at[0]][(int) at[1]];
        }
        return out;
    }

    /** The byte ranges of the device (start, end) where a chunk or target boundary lies, for aiming I/O at them. */
    public List<Long> boundaries() {
        List<Long> out = new ArrayList<>();
        for (int i = 0; i < segments.size(); i++) {
            out.add(starts[i]);
            if (segments.get(i) instanceof Striped s) {
                for (long b = s.chunk(); b < s.length(); b += s.chunk()) {
                    out.add(starts[i] + b);
                }
            }
        }
        return out;
    }
}
