package dev.jdm.targets.snapshot;

import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.IoSplit;
import dev.jdm.targets.lib.Prison;
import dev.jdm.targets.snapshot.store.ExceptionStore;

/**
 * What a snapshot hands over to the table that replaces it (the kernel's __handover_exceptions swaps exactly
 * these): the store, the completed exceptions, the cells that order copies against I/O, and the state flags.
 * Cells are keyed by chunk in space 0: exclusive while a chunk's exception is made or merged, shared while a
 * snapshot reads the origin for it (the kernel's pending exceptions and tracked chunks in one lock).
 */
final class Exceptions {
    final ExceptionStore store;
    final BlockDevice cow;
    final ChunkMap map;
    final Prison cells = new Prison();
    final long chunkBytes;
    /** Cleared when the snapshot is invalidated (or handed over): all its I/O fails from then on. */
    volatile boolean valid = true;
    /** {@code PO} and a snapshot write found the COW full: writes fail, reads still work. */
    volatile boolean overflowed;
    volatile boolean mergeFailed;

    Exceptions(ExceptionStore store, BlockDevice cow, ChunkMap map, long chunkBytes) {
        this.store = store;
        this.cow = cow;
        this.map = map;
        this.chunkBytes = chunkBytes;
    }

    /** What is left to a table whose snapshot was handed over or whose handover was cancelled: I/O fails. */
    static Exceptions invalid(ExceptionStore store, BlockDevice cow) {
        Exceptions shell = new Exceptions(store, cow, new ChunkMap(), 512);
        shell.valid = false;
        return shell;
    }

    /** Where I/O is cut: at chunk boundaries (the kernel's max_io_len = chunk size). */
    final IoSplit.Boundaries chunks = this::chunkRest;

    private long chunkRest(long offset, long remaining) {
        return Math.min(remaining, chunkBytes - offset % chunkBytes);
    }

    long chunkOf(long offset) {
        return offset / chunkBytes;
    }

    /** Where in the COW the byte at origin {@code offset} lives, given its chunk's exception. */
    long cowOffset(long newChunk, long offset) {
        return newChunk * chunkBytes + offset % chunkBytes;
    }
}
