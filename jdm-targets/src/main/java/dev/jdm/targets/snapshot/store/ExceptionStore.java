package dev.jdm.targets.snapshot.store;

import java.io.IOException;

/**
 * Where a snapshot records which origin chunks it has copied and where their old contents now live on the COW
 * device (the kernel's {@code dm_exception_store_type}: persistent {@code P}/{@code PO}, transient {@code N}).
 * Chunks are numbered in units of {@link #chunkSectors()}; an exception maps an origin chunk ("old") to a COW
 * chunk ("new").
 *
 * <p>Life: {@link #load} once, before anything else; then any number of {@link #allocate}/{@link #commit} pairs
 * from concurrent threads, or the merge pair {@link #prepareMerge}/{@link #commitMerge} from one thread.
 *
 * <p>Ordering (what dm-snap's exception sequence and out-of-order tree guarantee in the kernel): chunks come out
 * of {@link #allocate} in increasing order, and the store records exceptions in that same order. A
 * {@link #commit} returns only when its exception is durable, which means every exception allocated before it is
 * durable too; commits that arrive together share one metadata write (the kernel's pending count). The caller
 * must have made the copied data itself durable-ready on the COW (written, not necessarily flushed): the store's
 * metadata write carries the flush that orders the data before the entry pointing at it.
 */
public interface ExceptionStore extends AutoCloseable {

    /** What {@link #load} found on the COW device. */
    enum LoadResult {
        /** Nothing there (or a transient store): an empty snapshot, header written where the format has one. */
        NEW,
        /** A valid store; its exceptions went to the sink. */
        LOADED,
        /** A store marked invalid on disk (its header's valid flag is 0): the snapshot must come up invalid. */
        INVALID
    }

    /** Receives each exception found on disk, in on-disk order. Throwing refuses the store (e.g. a duplicate). */
    @FunctionalInterface
    interface ExceptionSink {
        void exception(long oldChunk, long newChunk) throws StoreException;
    }

    /** The kernel's {@code usage}: sectors of the COW device, sectors allocated, sectors of metadata. */
    record Usage(long totalSectors, long allocatedSectors, long metadataSectors) {
    }

    /** Chunk size in sectors; after {@link #load} of a persistent store it is the header's value. */
    int chunkSectors();

    /**
     * The kernel's {@code read_metadata}: reads what the COW device holds and hands every exception to the sink.
     * A header or entry that cannot be right is refused with a {@link StoreException} saying what is wrong, and
     * then nothing was written to the device.
     */
    LoadResult load(ExceptionSink sink) throws IOException;

    /** The kernel's {@code prepare_exception}: a free COW chunk for a new exception, or {@link StoreFullException}. */
    long allocate() throws IOException;

    /**
     * The kernel's {@code commit_exception}: records {@code oldChunk -> newChunk} (a chunk from {@link #allocate})
     * and returns once it is durable. Throws if the store could not write it (it is then invalid).
     */
    void commit(long oldChunk, long newChunk) throws IOException;

    /**
     * Gives up an allocated chunk whose copy failed (the kernel invalidates the snapshot then): later commits
     * must not wait for it.
     */
    void abandon(long newChunk);

    /**
     * The kernel's {@code prepare_merge}: 0 when no exceptions are left; else writes the most recent exception's
     * old and new chunk to {@code last[0]} and {@code last[1]} and returns how many consecutive exceptions end
     * there ({@code last[0]-i -> last[1]-i} for i below the count).
     */
    int prepareMerge(long[] last) throws IOException;

    /** The kernel's {@code commit_merge}: durably forgets the last {@code count} exceptions. */
    void commitMerge(int count) throws IOException;

    /** The kernel's {@code drop_snapshot}: marks the store invalid on disk (header valid = 0). */
    void invalidate() throws IOException;

    /** The kernel's {@code usage}. */
    Usage usage();

    /** The store's part of the table line without the leading space: {@code P 8}, {@code PO 8} or {@code N 8}. */
    String tableArgs();

    @Override
    void close();
}
