package dev.jdm.targets.thin;

import dev.jdm.core.Errno;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.spi.TargetContext;
import dev.jdm.core.spi.TargetException;
import dev.jdm.targets.lib.SharedRegistry;

/**
 * Every open pool of one engine, found by the mapped device of its thin-pool table or by its metadata device
 * (the kernel's dm_thin_pool_table). A pool lives while a pool table or a thin table holds it, so a reload of
 * the pool device with the same devices keeps the same open metadata. Keys are the device objects the
 * engine hands out: it gives every table naming a file or mapped device the same object.
 */
final class PoolRegistry {
    private final SharedRegistry<Pool> pools = new SharedRegistry<>(Pool::destroy);

    /** The pools of the engine building this table. */
    static PoolRegistry of(TargetContext ctx) {
        return ctx.shared(PoolRegistry.class, PoolRegistry::new);
    }

    record Acquired(Pool pool, boolean created) {
    }

    /** For a pool table (the kernel's __pool_find): the pool already using these devices, or a new one. */
    Acquired acquire(BlockDevice poolDevice, BlockDevice metadata, BlockDevice data,
                     SharedRegistry.Opener<Pool, TargetException> opener) throws TargetException {
        return pools.locked(() -> {
            Pool byMetadata = pools.find(p -> p.metadataDevice == metadata);
            if (byMetadata != null) {
                if (byMetadata.poolDevice != poolDevice) {
                    throw new TargetException(Errno.EBUSY, "metadata device already in use by a pool");
                }
                if (byMetadata.dataDevice != data) {
                    throw new TargetException(Errno.EBUSY, "data device already in use by a pool");
                }
                return new Acquired(pools.acquire(p -> p == byMetadata), false);
            }
            if (pools.find(p -> p.poolDevice == poolDevice) != null) {
                throw new TargetException("different pool cannot replace a pool");
            }
            return new Acquired(pools.acquire(p -> false, opener), true);
        });
    }

    /** For a thin table: the pool bound to the named pool device, held until {@link #release}; null if none. */
    Pool acquire(BlockDevice poolDevice) {
        return pools.acquire(p -> p.poolDevice == poolDevice);
    }

    void release(Pool pool) {
        pools.release(pool);
    }
}
