package dev.jdm.targets;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.Errno;
import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.Target;
import dev.jdm.core.spi.TargetContext;
import dev.jdm.core.spi.TargetType;

import java.nio.ByteBuffer;
import java.util.Set;

/**
 * {@code error}: every I/O fails with EIO, discards too (dm-target.c). Any arguments are accepted
 * and ignored, and nothing is printed for status or table. It may replace any table (wildcard),
 * which is what {@code remove --force} relies on.
 */
public final class ErrorTarget implements Target {

    public static final class Type implements TargetType {
        @Override
        public String name() {
            return "error";
        }

        @Override
        public Version version() {
            return new Version(1, 7, 0);
        }

        @Override
        public Target construct(TargetContext ctx, Args args) {
            args.ignoreRest();
            return new ErrorTarget();
        }

        @Override
        public Set<Feature> features() {
            return Set.of(Feature.WILDCARD);
        }
    }

    private static BlockIoException eio() {
        return new BlockIoException(Errno.EIO, "I/O error from the error target");
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws BlockIoException {
        throw eio();
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws BlockIoException {
        throw eio();
    }

    @Override
    public void flush() throws BlockIoException {
        throw eio();
    }

    @Override
    public void discard(long offset, long length) throws BlockIoException {
        throw eio();
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayUnmap) throws BlockIoException {
        throw eio();
    }

    @Override
    public boolean supportsDiscard() {
        return false;
    }

    @Override
    public String table() {
        return "";
    }
}
