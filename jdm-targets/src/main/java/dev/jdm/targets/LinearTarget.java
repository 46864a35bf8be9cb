package dev.jdm.targets;

import dev.jdm.core.Sectors;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.RemapTarget;
import dev.jdm.core.spi.Target;
import dev.jdm.core.spi.TargetContext;
import dev.jdm.core.spi.TargetException;
import dev.jdm.core.spi.TargetType;

import java.util.List;

/** {@code linear <dev> <offset>}: maps the target onto a contiguous range of another device (dm-linear.c). */
public final class LinearTarget extends RemapTarget {

    public static final class Type implements TargetType {
        @Override
        public String name() {
            return "linear";
        }

        @Override
        public Version version() {
            return new Version(1, 4, 0);
        }

        @Override
        public Target construct(TargetContext ctx, Args args) throws TargetException {
            args.requireCount(2, "<dev> <offset>");
            Args.Arg dev = args.next("device");
            long start = args.shiftSectors("device sector");
            return new LinearTarget(ctx.device(dev, start, ctx.length()), start);
        }
    }

    private final BlockDevice device;
    private final long startSector;
    private final long startByte;

    private LinearTarget(BlockDevice device, long startSector) {
        this.device = device;
        this.startSector = startSector;
        this.startByte = Sectors.toBytes(startSector);
    }

    @Override
    protected Remap map(long offset, long length) {
        return new Remap(device, startByte + offset, length);
    }

    @Override
    public String table() {
        return device.id() + " " + startSector;
    }

    @Override
    public List<BlockDevice> devices() {
        return List.of(device);
    }
}
