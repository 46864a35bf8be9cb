package dev.jdm.targets.snapshot.store;

import dev.jdm.core.io.BlockDevice;

import java.io.IOException;

/** The kernel's persistent store ({@code P}/{@code PO}, dm-snap-persistent.c). Work in progress. */
public final class PersistentStore implements ExceptionStore {
    private final BlockDevice origin;
    private final BlockDevice cow;
    private final boolean overflow;
    private int chunkSectors;

    PersistentStore(BlockDevice origin, BlockDevice cow, int chunkSectors, boolean overflow) {
        this.origin = origin;
        this.cow = cow;
        this.chunkSectors = chunkSectors;
        this.overflow = overflow;
    }

    /** {@code PO}: userspace understands the {@code Overflow} status, so a full COW does not invalidate. */
    public boolean overflowSupported() {
        return overflow;
    }

    @Override
    public int chunkSectors() {
        return chunkSectors;
    }

    @Override
    public LoadResult load(ExceptionSink sink) throws IOException {
        throw new StoreException("persistent snapshot store not implemented yet");
    }

    @Override
    public long allocate() throws IOException {
        throw new StoreException("persistent snapshot store not implemented yet");
    }

    @Override
    public void commit(long oldChunk, long newChunk) throws IOException {
        throw new StoreException("persistent snapshot store not implemented yet");
    }

    @Override
    public void abandon(long newChunk) {
    }

    @Override
    public int prepareMerge(long[] last) {
        return 0;
    }

    @Override
    public void commitMerge(int count) throws IOException {
        throw new StoreException("persistent snapshot store not implemented yet");
    }

    @Override
    public void invalidate() {
    }

    @Override
    public Usage usage() {
        return new Usage(cow.size() >> 9, 0, 0);
    }

    @Override
    public String tableArgs() {
        return (overflow ? "PO " : "P ") + chunkSectors;
    }

    @Override
    public void close() {
    }
}
