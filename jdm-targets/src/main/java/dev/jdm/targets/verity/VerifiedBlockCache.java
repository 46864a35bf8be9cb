package dev.jdm.targets.verity;

import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Hash blocks whose digest already matched their parent (dm-bufio's {@code hash_verified}): a bounded,
 * direct-mapped, lock-free table. Only verified content goes in, so a hit needs no hashing; a collision
 * just evicts, and the evicted block is verified again on its next use.
 */
final class VerifiedBlockCache {
    private record Entry(long block, byte[] content) {
    }

    private final AtomicReferenceArray<Entry> slots;

    VerifiedBlockCache(int capacity) {
        this.slots = new AtomicReferenceArray<>(Math.max(1, capacity));
    }

    byte[] get(long block) {
        Entry e = slots.get(slot(block));
        return e != null && e.block == block ? e.content : null;
    }

    void put(long block, byte[] content) {
        slots.set(slot(block), new Entry(block, content));
    }

    private int slot(long block) {
        return (int) Long.remainderUnsigned(block, slots.length());
    }
}
