package dev.jdm.targets;

import dev.jdm.core.Sectors;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.Args.Rule;
import dev.jdm.core.spi.RemapTarget;
import dev.jdm.core.spi.Target;
import dev.jdm.core.spi.TargetContext;
import dev.jdm.core.spi.TargetException;
import dev.jdm.core.spi.TargetType;

import java.util.List;
import java.util.OptionalLong;

/**
 * {@code unstriped <#stripes> <chunk> <stripe_nr> <dev> <offset>} (dm-unstripe.c): one stripe of a
 * device striped in chunks of {@code chunk} sectors over {@code #stripes}, as a device of its own.
 * Sector S maps to {@code offset + S + (stripes - 1) * chunk * (S / chunk) + stripe_nr * chunk}, where S is
 * the mapped device's sector, not the target's (as the kernel, which assumes the target starts at 0);
 * I/O is cut at chunk boundaries of S.
 * <p>
 * Where we differ from the kernel: {@code stripe_nr} must be below {@code #stripes} (the kernel refuses
 * only {@code stripe_nr > #stripes}, and nothing when there is one stripe), the device must hold every
 * sector the mapping reaches (the kernel checks only {@code offset + length}), and the products are 64-bit
 * (the kernel's are 32-bit and wrap). {@code table} prints the stripe count and number with the kernel's
 * {@code %d}.
 */
public final class UnstripedTarget extends RemapTarget {

    public static final class Type implements TargetType {
        @Override
        public String name() {
            return "unstriped";
        }

        @Override
        public Version version() {
            return new Version(1, 1, 0);
        }

        @Override
        public Target construct(TargetContext ctx, Args args) throws TargetException {
            if (args.count() != 5) {
                throw new TargetException("Invalid number of arguments: expected 5 (<#stripes> <chunk size> <stripe #> <dev> <offset>), got "
                        + args.count());
            }
            long stripes = kstrtouint(args.next("stripe count"), "Invalid stripe count", 1);
            long chunk = kstrtouint(args.next("chunk size"), "Invalid chunk_size", 1);
            Args.Arg stripeArg = args.next("stripe number");
            long stripe = kstrtouint(stripeArg, "Invalid stripe number", 0);
            if (stripe >= stripes) {
                throw stripeArg.error("Please provide stripe between [0, # of stripes]: stripe " + stripe + " of " + stripes
                        + " stripes (0.." + (stripes - 1) + ")");
            }
            long lastSector = ctx.begin() + ctx.length() - 1;
            PlacedDevice leg = PlacedDevice.open(ctx, args.next("striped device"), args.next("striped device offset"),
                    Rule.SCANF_U64, "Invalid striped device offset", sectorsReached(lastSector, stripes, chunk, stripe));
            if (ctx.length() % chunk != 0) {
                throw new TargetException("Target length not divisible by chunk size: length " + ctx.length() + ", chunk " + chunk);
            }
            return new UnstripedTarget(leg.device(), leg.startSector(), stripes, chunk, stripe, ctx.begin());
        }

        private static long kstrtouint(Args.Arg arg, String error, long min) throws TargetException {
            OptionalLong v = Rule.KSTRTOUINT.parse(arg.text());
            if (v.isEmpty() || v.getAsLong() < min) {
                throw arg.error(error);
            }
            return v.getAsLong();
        }

        /** How many device sectors (from the offset) the mapping uses up to mapped-device sector S; past 2^63, the largest long. */
        private static long sectorsReached(long sector, long stripes, long chunk, long stripe) {
            try {
                long skipped = Math.multiplyExact(Math.multiplyExact(stripes - 1, chunk), sector / chunk);
                return Math.addExact(Math.addExact(sector + 1, skipped), Math.multiplyExact(stripe, chunk));
            } catch (ArithmeticException e) {
                return Long.MAX_VALUE;
            }
        }
    }

    private final BlockDevice device;
    private final long startSector;
    private final long stripes;
    private final long chunkSectors;
    private final long stripe;
    /** The device byte of the mapped device's byte 0: the offset and this stripe's place in a row. */
    private final long baseByte;
    private final long beginByte;
    private final long chunkBytes;
    /** The other stripes' chunks skipped per row. */
    private final long skippedPerRow;

    private UnstripedTarget(BlockDevice device, long startSector, long stripes, long chunkSectors, long stripe, long beginSector) {
        this.device = device;
        this.startSector = startSector;
        this.stripes = stripes;
        this.chunkSectors = chunkSectors;
        this.stripe = stripe;
        this.chunkBytes = Sectors.toBytes(chunkSectors);
        this.baseByte = Sectors.toBytes(startSector) + stripe * chunkBytes;
        this.beginByte = Sectors.toBytes(beginSector);
        this.skippedPerRow = (stripes - 1) * chunkBytes;
    }

    @Override
    protected Remap map(long offset, long length) {
        long raw = beginByte + offset;
        long inChunk = raw % chunkBytes;
        return new Remap(device, baseByte + raw + skippedPerRow * (raw / chunkBytes), Math.min(length, chunkBytes - inChunk));
    }

    @Override
    public String table() {
        return (int) stripes + " " + chunkSectors + " " + (int) stripe + " " + device.id() + " " + startSector;
    }

    @Override
    public List<BlockDevice> devices() {
        return List.of(device);
    }
}
