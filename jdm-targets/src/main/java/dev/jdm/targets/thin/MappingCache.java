package dev.jdm.targets.thin;

import dev.jdm.pdata.ThinMetadata.Mapping;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The pool's recent lookups, so most I/O skips the two-level btree walk: a fixed array of slots indexed by
 * (thin device, virtual block), each an immutable entry, with unmapped blocks remembered too.
 *
 * <p>Why it stays right: a block's mapping only changes under its exclusive cell, which also updates the
 * slot, while lookups that fill a slot hold the cell shared. Changes that touch many blocks at once (an
 * aborted transaction, a message: a deleted device's id may come back empty) start a new generation, and
 * entries of an older one are ignored; a lookup stores the generation it started in, so one that raced
 * such a change is never trusted.
 */
final class MappingCache {
    /** What a slot holds for a block known to be unmapped. */
    static final Mapping UNMAPPED = new Mapping(-1, 0);
    private static final int SLOTS = 1 << 16;

    private record Entry(long device, long virtualBlock, Mapping mapping, long generation) {
    }

    private final AtomicReferenceArray<Entry> slots = new AtomicReferenceArray<>(SLOTS);
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
        Entry e = slots.get(slot(device, virtualBlock));
        if (e == null || e.device != device || e.virtualBlock != virtualBlock || e.generation != generation.get()) {
            return null;
        }
        return e.mapping;
    }

    /** Remembers a mapping (null: unmapped) found or made in {@code generation}. */
    void put(long device, long virtualBlock, Mapping mapping, long generation) {
        slots.set(slot(device, virtualBlock), new Entry(device, virtualBlock, mapping != null ? mapping : UNMAPPED, generation));
    }

    private static int slot(long device, long virtualBlock) {
        long h = (virtualBlock * 0x9E3779B97F4A7C15L) ^ (device * 0xC2B2AE3D27D4EB4FL);
        return (int) ((h ^ (h >>> 32)) & (SLOTS - 1));
    }
}
