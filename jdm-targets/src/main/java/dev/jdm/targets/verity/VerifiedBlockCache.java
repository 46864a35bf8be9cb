package dev.jdm.targets.verity;

import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Blocks whose digest already matched the tree: hash blocks (dm-bufio's {@code hash_verified}) and,
 * when enabled, data blocks. A bounded, direct-mapped, lock-free table. Only verified content goes in
 * and entries are never modified, so a hit needs no hashing; a collision just evicts, and the evicted
 * block is verified again on its next use.
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

    int capacity() {
        return slots.length();
    }

    /** Forgets every block, so each is read and verified again. */
    void clear() {
        for (int i = 0; i < slots.length(); i++) {
            slots.set(i, null);
        }
    }

    private int slot(long block) {
        return (int) Long.remainderUnsigned(block, slots.length());
    }
}
