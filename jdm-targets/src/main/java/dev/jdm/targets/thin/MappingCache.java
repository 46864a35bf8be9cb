package dev.jdm.targets.thin;

import dev.jdm.targets.thin.metadata.ThinMetadata.Mapping;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The pool's recent lookups, so most I/O skips the two-level btree walk: a fixed array of two-way sets
 * indexed by (thin device, virtual block), each slot an immutable entry, with unmapped blocks remembered
 * too. Two ways, because with one a block whose slot another block also hashes to misses on every other
 * I/O (1024 blocks in 65536 direct slots already collide about 8 times, and a miss costs a btree walk).
 *
 * <p>Why it stays right: a block's mapping only changes under its exclusive cell, which also updates the
 * block's entry and drops any second copy of it from the other way, while lookups that fill an entry hold
 * the cell shared (two fills of one block may leave a copy in each way, but they read the same mapping,
 * which nothing can change until the exclusive cell's put, which drops one of them). Changes that touch many
 * blocks at once (an aborted transaction, a message: a deleted device's id may come back empty) start a
 * new generation, and entries of an older one are ignored; a lookup stores the generation it started in,
 * so one that raced such a change is never trusted.
 */
final class MappingCache {
    /** What a slot holds for a block known to be unmapped. */
    static final Mapping UNMAPPED = new Mapping(-1, 0);
    private static final int SETS = 1 << 15;

    private record Entry(long device, long virtualBlock, Mapping mapping, long generation) {
        boolean holds(long d, long vb) {
            return device == d && virtualBlock == vb;
        }
    }

    private final AtomicReferenceArray<Entry> slots = new AtomicReferenceArray<>(2 * SETS);
    private final AtomicLong generation = new AtomicLong();

    long generation() {
        return generation.get();
    }

    /** Forgets everything (entries of older generations are ignored). */
    void newGeneration() {
        generation.incrementAndGet();
    }

    /** The cached mapping, {@link #UNMAPPED}, or null when not cached. */
    Mapping get(long device, long virtualBlock) {
        int first = firstSlot(device, virtualBlock);
        long current = generation.get();
        Entry e = slots.get(first);
        if (e == null || !e.holds(device, virtualBlock) || e.generation != current) {
            e = slots.get(first + 1);
            if (e == null || !e.holds(device, virtualBlock) || e.generation != current) {
                return null;
            }
        }
        return e.mapping;
    }

    /**
     * Remembers a mapping (null: unmapped) found or made in {@code generation}: in the way that holds the
     * block already, else in one holding nothing of the current generation, else in the second way (so a
     * pair of blocks sharing a set both stay); a copy of the block in the other way is dropped.
     */
    void put(long device, long virtualBlock, Mapping mapping, long generation) {
        int first = firstSlot(device, virtualBlock);
        Entry a = slots.get(first);
        Entry b = slots.get(first + 1);
        int way;
        if (a != null && a.holds(device, virtualBlock)) {
            way = 0;
        } else if (b != null && b.holds(device, virtualBlock)) {
            way = 1;
        } else {
            long current = this.generation.get();
            way = a == null || a.generation != current ? 0 : 1;
        }
        slots.set(first + way, new Entry(device, virtualBlock, mapping != null ? mapping : UNMAPPED, generation));
        int other = first + 1 - way;
        Entry copy = slots.get(other);
        if (copy != null && copy.holds(device, virtualBlock)) {
            slots.compareAndSet(other, copy, null);
        }
    }

    static int firstSlot(long device, long virtualBlock) {
        long h = (virtualBlock * 0x9E3779B97F4A7C15L) ^ (device * 0xC2B2AE3D27D4EB4FL);
        return (int) ((h ^ (h >>> 32)) & (SETS - 1)) << 1;
    }
}
