package dev.jdm.targets.snapshot;

import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.Target;
import dev.jdm.core.spi.TargetContext;
import dev.jdm.core.spi.TargetException;
import dev.jdm.core.spi.TargetType;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * {@code snapshot-origin <origin>} (the kernel's origin target in dm-snap.c): reads pass through; a write (and a
 * discard or write of zeroes, which change data too) first has every snapshot of the device copy the chunks it
 * touches that the snapshot has not copied yet, then goes to the origin.
 */
public final class OriginTarget implements Target {

    public static final class Type implements TargetType {
        @Override
        public String name() {
            return "snapshot-origin";
        }

        @Override
        public Version version() {
            return new Version(1, 9, 0);
        }

        @Override
        public Target construct(TargetContext ctx, Args args) throws TargetException {
            if (args.count() != 1) {
                throw new TargetException("origin: incorrect number of arguments");
            }
            BlockDevice device;
            try {
                device = ctx.device(args.next("origin device"), 0, ctx.length());
            } catch (TargetException e) {
                throw new TargetException(e.errno(), "Cannot get target device: " + e.getMessage(), e);
            }
            Origins origins = Origins.of(ctx);
            return new OriginTarget(origins, origins.acquire(device));
        }
    }

    private final Origins origins;
    private final Origin origin;

    private OriginTarget(Origins origins, Origin origin) {
        this.origins = origins;
        this.origin = origin;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        origin.device.read(offset, dst);
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        origin.writeGate().lock();
        try {
            origin.copyOut(offset, src.remaining());
            origin.device.write(offset, src, fua);
        } finally {
            origin.writeGate().unlock();
        }
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayUnmap) throws IOException {
        origin.writeGate().lock();
        try {
            origin.copyOut(offset, length);
            origin.device.writeZeroes(offset, length, mayUnmap);
        } finally {
            origin.writeGate().unlock();
        }
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        origin.writeGate().lock();
        try {
            origin.copyOut(offset, length);
            origin.device.discard(offset, length);
        } finally {
            origin.writeGate().unlock();
        }
    }

    @Override
    public void flush() throws IOException {
        origin.device.flush();
    }

    @Override
    public boolean supportsDiscard() {
        return origin.device.supportsDiscard();
    }

    @Override
    public String table() {
        return origin.device.id();
    }

    @Override
    public List<BlockDevice> devices() {
        return List.of(origin.device);
    }

    @Override
    public void close() {
        origins.release(origin);
    }
}
