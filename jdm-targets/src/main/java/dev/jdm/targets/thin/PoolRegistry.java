package dev.jdm.targets.thin;

import dev.jdm.core.Errno;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.spi.TargetException;

import java.util.ArrayList;
import java.util.List;

/**
 * Every open pool, found by the mapped device of its thin-pool table or by its metadata device (the
 * kernel's dm_thin_pool_table). A pool lives while a pool table or a thin table holds it, so a reload of
 * the pool device with the same devices keeps the same open metadata. Keys are the device objects the
 * engine hands out: it gives every table naming a file or mapped device the same object.
 */
final class PoolRegistry {
    private static final List<Pool> POOLS = new ArrayList<>();

    private PoolRegistry() {
    }

    /** Opens a pool; {@link Opener#open} runs only when no pool is registered under either key. */
    @FunctionalInterface
    interface Opener {
        Pool open() throws TargetException;
    }

    record Acquired(Pool pool, boolean created) {
    }

    /** For a pool table (the kernel's __pool_find): the pool already using these devices, or a new one. */
    static Acquired acquire(BlockDevice poolDevice, BlockDevice metadata, BlockDevice data, Opener opener)
            throws TargetException {
        synchronized (POOLS) {
            Pool byMetadata = find(p -> p.metadataDevice == metadata);
            if (byMetadata != null) {
                if (byMetadata.poolDevice != poolDevice) {
                    throw new TargetException(Errno.EBUSY, "metadata device already in use by a pool");
                }
                if (byMetadata.dataDevice != data) {
                    throw new TargetException(Errno.EBUSY, "data device already in use by a pool");
                }
                byMetadata.users++;
                return new Acquired(byMetadata, false);
            }
            if (find(p -> p.poolDevice == poolDevice) != null) {
                throw new TargetException("different pool cannot replace a pool");
            }
            Pool created = opener.open();
            POOLS.add(created);
            return new Acquired(created, true);
        }
    }

    /** For a thin table: the pool bound to the named pool device, held until {@link #release}; null if none. */
    static Pool acquire(BlockDevice poolDevice) {
        synchronized (POOLS) {
            Pool p = find(q -> q.poolDevice == poolDevice);
            if (p != null) {
                p.users++;
            }
            return p;
        }
    }

    static void release(Pool pool) {
        synchronized (POOLS) {
            if (--pool.users == 0) {
                POOLS.remove(pool);
                pool.destroy();
            }
        }
    }

    private static Pool find(java.util.function.Predicate<Pool> match) {
        return POOLS.stream().filter(match).findFirst().orElse(null);
    }
}
