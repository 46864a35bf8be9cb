package dev.jdm.targets.snapshot.store;

import dev.jdm.core.io.BlockDevice;

import java.io.IOException;

/**
 * The kernel's transient store ({@code N}, dm-snap-transient.c): exceptions live only in the target's memory, so
 * the COW device is used from chunk 0 with no metadata and a commit is done as soon as it is asked for.
 */
public final class TransientStore implements ExceptionStore {
    private final BlockDevice cow;
    private final int chunkSectors;
    /** In sectors, as the kernel keeps it. */
    private long nextFreeSector;

    TransientStore(BlockDevice cow, int chunkSectors) {
        this.cow = cow;
        this.chunkSectors = chunkSectors;
    }

    @Override
    public int chunkSectors() {
        return chunkSectors;
    }

    @Override
    public LoadResult load(ExceptionSink sink) throws IOException {
        // Only a persistent header can supply a chunk size; the kernel's snapshot_ctr refuses with this text.
        if (chunkSectors == 0) {
            throw new StoreException("Chunk size not set");
        }
        return LoadResult.NEW;
    }

    @Override
    public synchronized long allocate() throws StoreFullException {
        long cowSectors = cow.size() >> 9;
        if (cowSectors < nextFreeSector + chunkSectors) {
            throw new StoreFullException("snapshot COW device full: " + cowSectors + " sectors, all "
                    + nextFreeSector / chunkSectors + " chunks of " + chunkSectors + " sectors in use");
        }
        long chunk = nextFreeSector / chunkSectors;
        nextFreeSector += chunkSectors;
        return chunk;
    }

    @Override
    public void commit(long oldChunk, long newChunk) {
        // Nothing to persist: the target's exception table is the whole store.
    }

    @Override
    public void abandon(long newChunk) {
        // The chunk stays used, as in the kernel: a transient store never gives chunks back.
    }

    @Override
    public int prepareMerge(long[] last) {
        return 0;
    }

    @Override
    public void commitMerge(int count) {
        throw new UnsupportedOperationException("a transient snapshot store cannot be merged");
    }

    @Override
    public void invalidate() {
        // The kernel's transient store has no drop_snapshot: there is nothing on disk to mark.
    }

    @Override
    public synchronized Usage usage() {
        return new Usage(cow.size() >> 9, nextFreeSector, 0);
    }

    @Override
    public String tableArgs() {
        return "N " + chunkSectors;
    }

    @Override
    public void close() {
    }
}
