package dev.jdm.targets.snapshot;

import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.spi.TargetContext;
import dev.jdm.targets.lib.Copier;
import dev.jdm.targets.lib.SharedRegistry;

/**
 * The snapshots of one engine, found by their origin device (the kernel's {@code _origins} hash): a snapshot or
 * snapshot-merge table registers under its origin when it is built, and a snapshot-origin table over the same
 * device finds them at write time. Keys are the device objects the engine hands out, one per file or mapped
 * device, so two tables naming the same origin meet here. Holds the engine's one copier for snapshots (the
 * kernel gives each snapshot a kcopyd client over one shared kcopyd).
 */
final class Origins {
    /** kcopyd's sub-job size (128 sectors): a copy moves at most this much at once. */
    private static final int COPY_PIECE_BYTES = 64 << 10;
    /** What all snapshot copies of the engine may have in flight at once. */
    private static final long COPY_BYTES_IN_FLIGHT = 16L << 20;

    private final SharedRegistry<Origin> origins = new SharedRegistry<>(o -> { });
    final Copier copier = new Copier(COPY_PIECE_BYTES, COPY_BYTES_IN_FLIGHT, Copier.Completion.AS_DONE,
            SnapshotCopyThrottle.THROTTLE);

    /** The origins of the engine building this table. */
    static Origins of(TargetContext ctx) {
        return ctx.shared(Origins.class, Origins::new);
    }

    /** The origin of this device, held until {@link #release}; made on first use. */
    Origin acquire(BlockDevice device) {
        return origins.acquire(o -> o.device == device, () -> new Origin(device, copier));
    }

    void release(Origin origin) {
        origins.release(origin);
    }
}
