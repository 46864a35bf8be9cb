package dev.jdm.targets.thin;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.RemapTarget;
import dev.jdm.core.spi.Target;
import dev.jdm.core.spi.TargetContext;
import dev.jdm.core.spi.TargetException;
import dev.jdm.core.spi.TargetType;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;

/**
 * {@code thin-pool <metadata dev> <data dev> <data block size> <low water mark> [<#features> <feature>*]}
 * (dm-thin.c's pool target): ties a metadata device and a data device into a {@link Pool} that thin
 * devices allocate from, and takes the pool's messages. I/O to the pool device itself goes straight to
 * the data device, as the kernel's pool_map does.
 */
public final class ThinPoolTarget extends RemapTarget {
    private static final long MIN_BLOCK_SECTORS = 128;
    private static final long MAX_BLOCK_SECTORS = 2097152;

    public static final class Type implements TargetType {
        @Override
        public String name() {
            return "thin-pool";
        }

        @Override
        public Version version() {
            return new Version(1, 23, 0);
        }

        @Override
        public Set<Feature> features() {
            return Set.of(Feature.SINGLETON, Feature.IMMUTABLE, Feature.ALWAYS_WRITEABLE);
        }

        @Override
        public Target construct(TargetContext ctx, Args args) throws TargetException {
            if (args.count() < 4) {
                throw new TargetException("Invalid argument count: expected <metadata dev> <data dev> "
                        + "<data block size> <low water mark> [<#features> <feature>*], got " + args.count());
            }
            Args.Arg metadataArg = args.next("metadata device");
            Args.Arg dataArg = args.next("data device");
            if (metadataArg.text().equals(dataArg.text())) {
                throw dataArg.error("Error setting metadata or data device: the metadata and data devices must differ");
            }
            Args.Arg blockSizeArg = args.next("data block size");
            Args.Arg lowWaterArg = args.next("low water mark");
            // As the kernel: the features are parsed before the devices are opened, and what follows them is ignored.
            PoolFeatures requested = PoolFeatures.parse(args.optionalGroup(PoolFeatures.GROUP));
            args.ignoreRest();
            BlockDevice metadata = ctx.device(metadataArg, 0, 0);
            BlockDevice data = ctx.device(dataArg, 0, ctx.length());
            long blockSectors = Args.Rule.KSTRTOULL.parse(blockSizeArg.text()).orElse(-1);
            if (blockSectors < MIN_BLOCK_SECTORS || blockSectors > MAX_BLOCK_SECTORS
                    || blockSectors % MIN_BLOCK_SECTORS != 0) {
                throw blockSizeArg.error("Invalid block size: expected a multiple of 128 sectors in 128..2097152");
            }
            OptionalLong lowWater = Args.Rule.KSTRTOULL.parse(lowWaterArg.text());
            if (lowWater.isEmpty()) {
                throw lowWaterArg.error("Invalid low water mark");
            }
            int bs = (int) blockSectors;
            PoolRegistry.Acquired a = PoolRegistry.acquire(ctx.mappedDevice(), metadata, data,
                    () -> Pool.create(ctx.mappedDevice(), metadata, data, bs, ctx.length() / bs, requested.readOnly()));
            Pool pool = a.pool();
            if (!a.created() && requested.discardEnabled() != pool.features().discardEnabled()) {
                PoolRegistry.release(pool);
                throw new TargetException("Discard support cannot be disabled once enabled");
            }
            return new ThinPoolTarget(ctx, pool, metadata, data, lowWater.getAsLong(), requested);
        }
    }

    private final TargetContext ctx;
    private final Pool pool;
    private final BlockDevice metadata;
    private final BlockDevice data;
    private final long lowWaterBlocks;
    private final PoolFeatures requested;
    private final PoolFeatures adjusted;
    /** The mode this table asks for when it goes live; the pool keeps it in step while this table is bound. */
    volatile PoolMode adjustedMode;

    private ThinPoolTarget(TargetContext ctx, Pool pool, BlockDevice metadata, BlockDevice data, long lowWaterBlocks,
                           PoolFeatures requested) {
        this.ctx = ctx;
        this.pool = pool;
        this.metadata = metadata;
        this.data = data;
        this.lowWaterBlocks = lowWaterBlocks;
        this.requested = requested;
        // Passdown is dropped when the data device cannot discard (disable_discard_passdown_if_not_supported).
        this.adjusted = requested.withDiscardPassdown(requested.discardPassdown() && data.supportsDiscard());
        this.adjustedMode = requested.readOnly() ? PoolMode.READ_ONLY : PoolMode.WRITE;
    }

    PoolFeatures requested() {
        return requested;
    }

    PoolFeatures adjusted() {
        return adjusted;
    }

    long lowWaterBlocks() {
        return lowWaterBlocks;
    }

    long lengthSectors() {
        return ctx.length();
    }

    String deviceName() {
        return ctx.deviceName();
    }

    void raiseEvent() {
        ctx.raiseEvent();
    }

    @Override
    protected Remap map(long offset, long length) {
        return new Remap(data, offset, length);
    }

    /** Writes to the pool device land in data blocks behind the allocator's back: no hole found before holds. */
    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        try {
            super.write(offset, src, fua);
        } finally {
            pool.holes.forget();
        }
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        if (!supportsDiscard()) {
            throw new BlockIoException(Errno.EOPNOTSUPP, "the pool passes no discards down (ignore_discard or no_discard_passdown)");
        }
        data.discard(offset, length);
    }

    @Override
    public boolean supportsDiscard() {
        return adjusted.discardEnabled() && adjusted.discardPassdown();
    }

    @Override
    public String status() {
        return pool.status();
    }

    @Override
    public String table() {
        return metadata.id() + " " + data.id() + " " + pool.blockSectors + " " + Long.toUnsignedString(lowWaterBlocks) + " "
                + requested.emit();
    }

    @Override
    public String message(Args argv) throws DmException {
        PoolMessages.handle(pool, argv);
        return null;
    }

    @Override
    public void presuspend(boolean noflush) {
        pool.presuspend();
    }

    @Override
    public void postsuspend() {
        pool.postsuspend();
    }

    @Override
    public void preresume() throws DmException {
        pool.preresume(this);
    }

    @Override
    public void resume() {
        pool.resume();
    }

    @Override
    public List<BlockDevice> devices() {
        return List.of(metadata, data);
    }

    @Override
    public void close() {
        pool.unbind(this);
        PoolRegistry.release(pool);
    }
}
