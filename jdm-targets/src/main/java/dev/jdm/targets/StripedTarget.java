package dev.jdm.targets;

import dev.jdm.core.Sectors;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.RemapTarget;
import dev.jdm.core.spi.Target;
import dev.jdm.core.spi.TargetContext;
import dev.jdm.core.spi.TargetException;
import dev.jdm.core.spi.TargetType;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * {@code striped <#stripes> <chunk> (<dev> <offset>)...}: chunks of {@code chunk} sectors go round-robin
 * over the stripes (dm-stripe.c). A failed I/O marks the stripe 'D' in status and raises an event
 * while the stripe's error count, this error included, is below 15, as the kernel does.
 */
public final class StripedTarget extends RemapTarget {
    /** The kernel's DM_IO_ERROR_THRESHOLD: no more events once a stripe has this many errors. */
    private static final int ERROR_THRESHOLD = 15;

    public static final class Type implements TargetType {
        @Override
        public String name() {
            return "striped";
        }

        @Override
        public Version version() {
            return new Version(1, 6, 0);
        }

        @Override
        public Target construct(TargetContext ctx, Args args) throws TargetException {
            args.requireAtLeast(2, "<#stripes> <chunk size> [<dev> <offset>]...");
            // The kernel reads both with kstrtouint (a '+' and a trailing newline pass).
            int stripes = (int) args.shiftNumber(Args.Rule.KSTRTOUINT, "number of stripes", 1, 0x7fff_ffff);
            long chunk = args.shiftNumber(Args.Rule.KSTRTOUINT, "chunk size", 1, 0xffff_ffffL);
            if (args.count() != 2 + 2L * stripes) {
                throw new TargetException("expected " + (2 + 2L * stripes) + " arguments for " + stripes
                        + " stripes (<#stripes> <chunk size> and a <dev> <offset> pair per stripe), got " + args.count());
            }
            long length = ctx.length();
            if (length % stripes != 0) {
                throw new TargetException("target length " + length + " is not divisible by the number of stripes " + stripes);
            }
            long perStripe = length / stripes;
            if (perStripe % chunk != 0) {
                throw new TargetException("target length per stripe " + perStripe + " is not divisible by the chunk size " + chunk);
            }
            List<BlockDevice> devices = new ArrayList<>(stripes);
            long[] offsets = new long[stripes];
            for (int i = 0; i < stripes; i++) {
                Args.Arg dev = args.next("device of stripe " + i);
                offsets[i] = args.shiftSectors("device sector of stripe " + i);
                devices.add(ctx.device(dev, offsets[i], perStripe));
            }
            return new StripedTarget(devices, offsets, chunk, ctx);
        }
    }

    private final BlockDevice[] devices;
    private final long[] offsetSectors;
    private final long[] offsetBytes;
    private final long chunkSectors;
    private final long chunkBytes;
    private final AtomicIntegerArray errors;
    private final TargetContext ctx;

    private StripedTarget(List<BlockDevice> devices, long[] offsetSectors, long chunkSectors, TargetContext ctx) {
        this.devices = devices.toArray(BlockDevice[]::new);
        this.offsetSectors = offsetSectors;
        this.offsetBytes = new long[offsetSectors.length];
        for (int i = 0; i < offsetSectors.length; i++) {
            offsetBytes[i] = Sectors.toBytes(offsetSectors[i]);
        }
        this.chunkSectors = chunkSectors;
        this.chunkBytes = Sectors.toBytes(chunkSectors);
        this.errors = new AtomicIntegerArray(devices.size());
        this.ctx = ctx;
    }

    private int stripeOf(long offset) {
        return (int) ((offset / chunkBytes) % devices.length);
    }

    @Override
    protected Remap map(long offset, long length) {
        long chunkNo = offset / chunkBytes;
        long inChunk = offset % chunkBytes;
        int stripe = (int) (chunkNo % devices.length);
        long row = chunkNo / devices.length;
        return new Remap(devices[stripe], offsetBytes[stripe] + row * chunkBytes + inChunk,
                Math.min(length, chunkBytes - inChunk));
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        int start = dst.position();
        try {
            super.read(offset, dst);
        } catch (IOException e) {
            noteError(offset + dst.position() - start);
            throw e;
        }
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        int start = src.position();
        try {
            super.write(offset, src, fua);
        } catch (IOException e) {
            noteError(offset + src.position() - start);
            throw e;
        }
    }

    /**
     * Counts an error against every stripe on the failing device and raises one event if any of them
     * is still below the threshold after counting (the kernel queues a single work item, so a device
     * used by several stripes still gives one event per failed I/O, and a stripe gives at most 14).
     */
    private void noteError(long offset) {
        BlockDevice failed = devices[stripeOf(offset)];
        boolean raise = false;
        for (int i = 0; i < devices.length; i++) {
            if (devices[i] == failed && errors.incrementAndGet(i) < ERROR_THRESHOLD) {
                raise = true;
            }
        }
        if (raise) {
            ctx.raiseEvent();
        }
    }

    @Override
    public String status() {
        StringBuilder sb = new StringBuilder().append(devices.length).append(' ');
        for (BlockDevice d : devices) {
            sb.append(d.id()).append(' ');
        }
        sb.append("1 ");
        for (int i = 0; i < devices.length; i++) {
            sb.append(errors.get(i) > 0 ? 'D' : 'A');
        }
        return sb.toString();
    }

    @Override
    public String table() {
        StringBuilder sb = new StringBuilder().append(devices.length).append(' ').append(chunkSectors);
        for (int i = 0; i < devices.length; i++) {
            sb.append(' ').append(devices[i].id()).append(' ').append(offsetSectors[i]);
        }
        return sb.toString();
    }

    @Override
    public List<BlockDevice> devices() {
        return List.of(devices);
    }
}
