package dev.jdm.targets;

import dev.jdm.core.io.ExtentSink;
import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.Target;
import dev.jdm.core.spi.TargetContext;
import dev.jdm.core.spi.TargetException;
import dev.jdm.core.spi.TargetType;

import java.nio.ByteBuffer;

/** {@code zero}: reads return zeroes, writes and discards succeed and are dropped (dm-zero.c). */
public final class ZeroTarget implements Target {
    private static final ByteBuffer ZEROES = ByteBuffer.allocateDirect(64 * 1024).asReadOnlyBuffer();

    public static final class Type implements TargetType {
        @Override
        public String name() {
            return "zero";
        }

        @Override
        public Version version() {
            return new Version(1, 2, 0);
        }

        @Override
        public Target construct(TargetContext ctx, Args args) throws TargetException {
            if (args.count() != 0) {
                throw new TargetException("No arguments required");
            }
            return new ZeroTarget();
        }
    }

    @Override
    public void read(long offset, ByteBuffer dst) {
        while (dst.hasRemaining()) {
            int n = Math.min(dst.remaining(), ZEROES.capacity());
            dst.put(ZEROES.duplicate().limit(n));
        }
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) {
        src.position(src.limit());
    }

    @Override
    public void flush() {
    }

    @Override
    public void discard(long offset, long length) {
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayUnmap) {
    }

    @Override
    public void allocation(long offset, long length, ExtentSink sink) {
        sink.extent(length, ExtentSink.HOLE | ExtentSink.ZERO);
    }

    @Override
    public String table() {
        return "";
    }
}
