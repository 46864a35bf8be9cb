package dev.jdm.core.testing;

import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.ExtentSink;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/** Allocation as a list of extents, neighbours with equal flags merged, so layouts compare exactly. */
public final class Extents {
    private Extents() {
    }

    /** One run of bytes with the same allocation flags. */
    public record Extent(long length, int flags) {
        @Override
        public String toString() {
            return length + (flags == 0 ? " data" : (flags & ExtentSink.HOLE) != 0 ? " hole" : " zero");
        }
    }

    public static Extent data(long length) {
        return new Extent(length, 0);
    }

    public static Extent hole(long length) {
        return new Extent(length, ExtentSink.HOLE | ExtentSink.ZERO);
    }

    public static List<Extent> of(BlockDevice device, long offset, long length) throws IOException {
        List<Extent> out = new ArrayList<>();
        device.allocation(offset, length, (len, flags) -> {
            if (len <= 0) {
                throw new AssertionError("allocation reported an extent of " + len + " bytes");
            }
            if (!out.isEmpty() && out.getLast().flags() == flags) {
                out.set(out.size() - 1, new Extent(out.getLast().length() + len, flags));
            } else {
                out.add(new Extent(len, flags));
            }
        });
        return out;
    }
}
