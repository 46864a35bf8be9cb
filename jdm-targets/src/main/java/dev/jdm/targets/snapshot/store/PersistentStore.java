package dev.jdm.targets.snapshot.store;

import dev.jdm.core.io.BlockDevice;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The kernel's persistent store ({@code P}/{@code PO}, dm-snap-persistent.c), on disk exactly as the kernel
 * writes it. Chunk 0 is the header (magic "SnAp", valid, version 1, chunk size in sectors; the rest zero). Then
 * come metadata areas, each one chunk of 16-byte {@code {old u64, new u64}} little-endian entries, each followed by
 * the data chunks its entries point at: area k is chunk {@code 1 + k * (E + 1)} with E entries per area. The first
 * entry whose new chunk is 0 (the header, so impossible) ends the list.
 *
 * <p>Memory: the store holds one area buffer (the area being filled) and the chunks allocated but not yet
 * committed; the exceptions themselves are the target's.
 */
public final class PersistentStore implements ExceptionStore {
    private static final System.Logger LOG = System.getLogger(PersistentStore.class.getName());

    /** "SnAp" read as a little-endian u32. */
    static final int MAGIC = 0x70416e53;
    static final int DISK_VERSION = 1;
    static final int ENTRY_BYTES = 16;
    /** The kernel's DM_CHUNK_SIZE_DEFAULT_SECTORS: a new store's chunk when the table says 0. */
    static final int DEFAULT_CHUNK_SECTORS = 32;
    /** The unit of an area write: a page, so a commit writes 4 KiB of the area, not the whole chunk. */
    private static final int AREA_PAGE = 4096;
    /** Header, the first area and one data chunk: a COW smaller than that cannot hold a single exception. */
    private static final int MIN_CHUNKS = 3;

    private final BlockDevice origin;
    private final BlockDevice cow;
    private final boolean overflow;
    private final boolean chunkSupplied;
    private volatile int chunkSectors;
    private String chunkWarning;

    private final ReentrantLock lock = new ReentrantLock();
    /** Signalled whenever a commit may have become able to proceed or finish. */
    private final Condition changed = lock.newCondition();

    private int exceptionsPerArea;
    /** The area being filled (the kernel's {@code ps->area}); touched only by the one thread writing it. */
    private ByteBuffer area;
    private long currentArea;
    /** Entries of the current area that are on disk (the kernel's {@code current_committed}). */
    private int currentCommitted;
    private long nextFree = 2;
    private boolean valid = true;
    private String invalidReason;
    /** Allocated chunks not yet on disk, in allocation order (the order their entries must be written in). */
    private final Map<Long, Pending> pending = new LinkedHashMap<>();
    /** A thread is writing the area with the lock released. */
    private boolean writing;

    /** An allocated chunk on its way to disk. */
    private static final class Pending {
        final long newChunk;
        long oldChunk;
        boolean ready;
        boolean done;
        IOException failure;

        Pending(long newChunk) {
            this.newChunk = newChunk;
        }
    }

    PersistentStore(BlockDevice origin, BlockDevice cow, int chunkSectors, boolean overflow) {
        this.origin = origin;
        this.cow = cow;
        this.chunkSectors = chunkSectors;
        this.chunkSupplied = chunkSectors != 0;
        this.overflow = overflow;
    }

    /** {@code PO}: userspace understands the {@code Overflow} status, so a full COW does not invalidate. */
    public boolean overflowSupported() {
        return overflow;
    }

    /**
     * The kernel's warning when the header's chunk size replaced a different one from the table, or null:
     * {@code chunk size 16 in device metadata overrides table chunk size of 8.}
     */
    public String chunkSizeWarning() {
        return chunkWarning;
    }

    @Override
    public int chunkSectors() {
        return chunkSectors;
    }

    private long chunkBytes() {
        return (long) chunkSectors << 9;
    }

    /** The kernel's {@code area_location}: the chunk holding metadata area {@code index}. */
    private long areaLocation(long index) {
        return 1 + (exceptionsPerArea + 1L) * index;
    }

    private long cowChunks() {
        return (cow.size() >> 9) / chunkSectors;
    }

    // ---- loading ----------------------------------------------------------------------------------

    @Override
    public LoadResult load(ExceptionSink sink) throws IOException {
        lock.lock();
        try {
            if (chunkSectors == 0) {
                chunkSectors = Math.max(DEFAULT_CHUNK_SECTORS, cow.logicalBlockSize() >> 9);
            }
            int headerBytes = Math.max(512, cow.logicalBlockSize());
            if (cow.size() < headerBytes) {
                throw tooSmall();
            }
            ByteBuffer header = ByteBuffer.allocate(headerBytes).order(ByteOrder.LITTLE_ENDIAN);
            cow.read(0, header);
            int magic = header.getInt(0);
            if (magic == 0) {
                return create();
            }
            if (magic != MAGIC) {
                throw new StoreException(String.format("snapshot header: bad magic 0x%08x (want 0x%08x)", magic, MAGIC));
            }
            int headerValid = header.getInt(4);
            int version = header.getInt(8);
            long headerChunk = Integer.toUnsignedLong(header.getInt(12));
            if (headerChunk != chunkSectors) {
                String why = ExceptionStores.chunkSizeProblem(headerChunk, origin, cow);
                if (why != null) {
                    throw new StoreException("snapshot header: invalid on-disk chunk size " + headerChunk + ": " + why);
                }
                if (chunkSupplied) {
                    chunkWarning = "chunk size " + headerChunk + " in device metadata overrides table chunk size of "
                            + chunkSectors + ".";
                    LOG.log(System.Logger.Level.WARNING, chunkWarning);
                }
                chunkSectors = (int) headerChunk;
            }
            if (version != DISK_VERSION) {
                throw new StoreException("snapshot header: unsupported version " + Integer.toUnsignedString(version)
                        + " (want " + DISK_VERSION + ")");
            }
            startAreas();
            if (headerValid == 0) {
                markInvalid("the snapshot is marked invalid on disk");
                return LoadResult.INVALID;
            }
            if (cowChunks() < MIN_CHUNKS) {
                throw tooSmall();
            }
            readExceptions(sink);
            return LoadResult.LOADED;
        } finally {
            lock.unlock();
        }
    }

    private StoreException tooSmall() {
        return new StoreException("snapshot COW device too small: " + (cow.size() >> 9) + " sectors, a store of "
                + chunkSectors + "-sector chunks needs at least " + MIN_CHUNKS * (long) chunkSectors
                + " (header, one metadata area, one data chunk)");
    }

    private void startAreas() {
        exceptionsPerArea = (int) (chunkBytes() / ENTRY_BYTES);
        area = ByteBuffer.allocate((int) chunkBytes()).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** A new snapshot: the header, then area 0 zeroed, in the kernel's order. */
    private LoadResult create() throws IOException {
        if (cowChunks() < MIN_CHUNKS) {
            throw tooSmall();
        }
        startAreas();
        writeHeader(false);
        zeroDiskArea(0);
        // Not in the kernel (its first commit's flush does it): a snapshot we report as created is on disk.
        cow.flush();
        return LoadResult.NEW;
    }

    /**
     * The kernel's {@code read_exceptions}: areas in turn until one that is not full, which becomes the area
     * being filled; next_free follows the highest chunk in use.
     */
    private void readExceptions(ExceptionSink sink) throws IOException {
        long cowChunks = cowChunks();
        long originChunks = ((origin.size() >> 9) + chunkSectors - 1) / chunkSectors;
        for (currentArea = 0; ; currentArea++) {
            long location = areaLocation(currentArea);
            if (location >= cowChunks) {
                throw new StoreException("snapshot area " + currentArea + " at chunk " + location
                        + " lies past the COW device's end (" + cowChunks + " chunks)");
            }
            area.clear();
            cow.read(location * chunkBytes(), area);
            int count = 0;
            while (count < exceptionsPerArea && newChunk(count) != 0) {
                long oldChunk = oldChunk(count);
                long newChunk = newChunk(count);
                checkEntry(count, oldChunk, newChunk, cowChunks, originChunks);
                nextFree = Math.max(nextFree, newChunk + 1);
                sink.exception(oldChunk, newChunk);
                count++;
            }
            if (count < exceptionsPerArea) {
                currentCommitted = count;
                // What follows the end marker may be left from a torn write; it must not reappear once later
                // entries are written in front of it, so the buffer keeps zeroes there.
                area.clear();
                Arrays.fill(area.array(), count * ENTRY_BYTES, area.capacity(), (byte) 0);
                break;
            }
        }
        skipMetadata();
    }

    private void checkEntry(int index, long oldChunk, long newChunk, long cowChunks, long originChunks)
            throws StoreException {
        String where = "snapshot area " + currentArea + " entry " + index + ": ";
        if (Long.compareUnsigned(newChunk, cowChunks) >= 0) {
            throw new StoreException(where + "new chunk " + Long.toUnsignedString(newChunk)
                    + " lies past the COW device's end (" + cowChunks + " chunks)");
        }
        if (newChunk % (exceptionsPerArea + 1L) == 1) {
            throw new StoreException(where + "new chunk " + newChunk + " is metadata area "
                    + newChunk / (exceptionsPerArea + 1L));
        }
        if (Long.compareUnsigned(oldChunk, originChunks) >= 0) {
            throw new StoreException(where + "old chunk " + Long.toUnsignedString(oldChunk)
                    + " lies past the origin's end (" + originChunks + " chunks)");
        }
    }

    private long oldChunk(int index) {
        return area.getLong(index * ENTRY_BYTES);
    }

    private long newChunk(int index) {
        return area.getLong(index * ENTRY_BYTES + 8);
    }

    /** The kernel's {@code skip_metadata}: a next_free that landed on an area moves past it. */
    private void skipMetadata() {
        if (nextFree % (exceptionsPerArea + 1L) == 1) {
            nextFree++;
        }
    }

    // ---- exceptions -------------------------------------------------------------------------------

    @Override
    public long allocate() throws IOException {
        lock.lock();
        try {
            requireValid();
            long cowSectors = cow.size() >> 9;
            if (cowSectors < (nextFree + 1) * chunkSectors) {
                throw new StoreFullException("snapshot COW device full: chunk " + nextFree + " of " + chunkSectors
                        + " sectors would end past its " + cowSectors + " sectors");
            }
            long chunk = nextFree++;
            skipMetadata();
            pending.put(chunk, new Pending(chunk));
            return chunk;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void commit(long oldChunk, long newChunk) throws IOException {
        lock.lock();
        try {
            Pending mine = pending.get(newChunk);
            if (mine == null || mine.ready) {
                throw new IllegalArgumentException("chunk " + newChunk + " is not allocated and waiting for its commit");
            }
            mine.oldChunk = oldChunk;
            mine.ready = true;
            while (!mine.done) {
                if (!valid) {
                    pending.remove(newChunk);
                    throw invalid();
                }
                if (writing || !writeReady()) {
                    changed.awaitUninterruptibly();
                }
            }
            if (mine.failure != null) {
                throw new IOException(mine.failure.getMessage(), mine.failure);
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Group commit, the kernel's pending count: the ready entries at the head of the allocation order go into the
     * area and out in one write (the flush before it orders their data chunks first); an area that fills has the
     * next one zeroed on disk before it is written. Called with the lock held and no write in progress; false when
     * the head is not ready. The lock is released during the I/O.
     */
    private boolean writeReady() {
        List<Pending> batch = new ArrayList<>();
        Iterator<Pending> head = pending.values().iterator();
        while (currentCommitted + batch.size() < exceptionsPerArea && head.hasNext()) {
            Pending next = head.next();
            if (!next.ready) {
                break;
            }
            batch.add(next);
        }
        if (batch.isEmpty()) {
            return false;
        }
        for (int i = 0; i < batch.size(); i++) {
            int index = currentCommitted + i;
            area.putLong(index * ENTRY_BYTES, batch.get(i).oldChunk);
            area.putLong(index * ENTRY_BYTES + 8, batch.get(i).newChunk);
        }
        int committed = currentCommitted + batch.size();
        boolean full = committed == exceptionsPerArea;
        long areaIndex = currentArea;
        writing = true;
        IOException failure = null;
        lock.unlock();
        try {
            if (full) {
                zeroDiskArea(areaIndex + 1);
            }
            writeArea(areaIndex, committed - batch.size(), committed);
        } catch (IOException e) {
            failure = new IOException("snapshot store: writing metadata area " + areaIndex + " failed: " + e.getMessage(), e);
        } finally {
            lock.lock();
            writing = false;
        }
        for (Pending p : batch) {
            pending.remove(p.newChunk);
            p.done = true;
            p.failure = failure;
        }
        if (failure != null) {
            markInvalid(failure.getMessage());
        } else if (full) {
            currentArea++;
            currentCommitted = 0;
            area.clear();
            Arrays.fill(area.array(), (byte) 0);
        } else {
            currentCommitted = committed;
        }
        changed.signalAll();
        return true;
    }

    /** Commits asked for and not yet written: tests line up a group commit with it. */
    int waitingCommits() {
        lock.lock();
        try {
            return (int) pending.values().stream().filter(p -> p.ready && !p.done).count();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void abandon(long newChunk) {
        lock.lock();
        try {
            pending.remove(newChunk);
            // The kernel commits a failed copy with valid = 0: the store stops writing and the snapshot is dropped.
            markInvalid("the copy to chunk " + newChunk + " failed");
        } finally {
            lock.unlock();
        }
    }

    // ---- merging ----------------------------------------------------------------------------------

    @Override
    public int prepareMerge(long[] last) throws IOException {
        lock.lock();
        try {
            requireQuiet();
            if (currentCommitted == 0) {
                if (currentArea == 0) {
                    return 0;
                }
                currentArea--;
                area.clear();
                cow.read(areaLocation(currentArea) * chunkBytes(), area);
                currentCommitted = exceptionsPerArea;
            }
            int lastIndex = currentCommitted - 1;
            last[0] = oldChunk(lastIndex);
            last[1] = newChunk(lastIndex);
            int run = 1;
            while (run < currentCommitted && oldChunk(lastIndex - run) == last[0] - run
                    && newChunk(lastIndex - run) == last[1] - run) {
                run++;
            }
            return run;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void commitMerge(int count) throws IOException {
        lock.lock();
        try {
            requireQuiet();
            if (count < 1 || count > currentCommitted) {
                throw new IllegalArgumentException("cannot merge " + count + " of the area's " + currentCommitted + " exceptions");
            }
            int remaining = currentCommitted - count;
            Arrays.fill(area.array(), remaining * ENTRY_BYTES, currentCommitted * ENTRY_BYTES, (byte) 0);
            writeArea(currentArea, remaining, currentCommitted);
            currentCommitted = remaining;
            // As the kernel: after a merge only usage reads next_free, so it just follows the area's end.
            nextFree = areaLocation(currentArea) + currentCommitted + 1;
        } finally {
            lock.unlock();
        }
    }

    // ---- the rest ---------------------------------------------------------------------------------

    @Override
    public void invalidate() throws IOException {
        lock.lock();
        try {
            markInvalid("the snapshot was invalidated");
            writeHeader(true);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public Usage usage() {
        lock.lock();
        try {
            return new Usage(cow.size() >> 9, nextFree * chunkSectors, (currentArea + 2) * chunkSectors);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public String tableArgs() {
        return (overflow ? "PO " : "P ") + chunkSectors;
    }

    /** Wakes whoever still waits: their commits fail, nothing is written any more. */
    @Override
    public void close() {
        lock.lock();
        try {
            markInvalid("the snapshot store is closed");
        } finally {
            lock.unlock();
        }
    }

    private void markInvalid(String why) {
        if (valid) {
            valid = false;
            invalidReason = why;
        }
        changed.signalAll();
    }

    private void requireValid() throws StoreException {
        if (!valid) {
            throw invalid();
        }
    }

    private StoreException invalid() {
        return new StoreException("snapshot store is invalid: " + invalidReason);
    }

    private void requireQuiet() throws StoreException {
        requireValid();
        if (!pending.isEmpty() || writing) {
            throw new IllegalStateException("merging while " + pending.size() + " exceptions are being committed");
        }
    }

    /** The kernel's {@code write_header}; {@code durable} for the invalidation, which nothing after it flushes. */
    private void writeHeader(boolean durable) throws IOException {
        ByteBuffer header = ByteBuffer.allocate((int) chunkBytes()).order(ByteOrder.LITTLE_ENDIAN);
        header.putInt(0, MAGIC).putInt(4, valid ? 1 : 0).putInt(8, DISK_VERSION).putInt(12, chunkSectors);
        if (durable) {
            cow.flush();
        }
        cow.write(0, header, durable);
    }

    /**
     * The area buffer to its place with the kernel's REQ_PREFLUSH | REQ_FUA. Only the pages holding entries
     * [from, to) and the entry after them are written: the rest of the area is already on disk as the buffer has
     * it, and a first write to a 64 KiB chunk otherwise costs a 64 KiB metadata write. The entry after them is the
     * zero that ends the list, so a page of stale entries behind a torn earlier write is never joined to it.
     */
    private void writeArea(long index, int from, int to) throws IOException {
        int page = (int) Math.min(AREA_PAGE, chunkBytes());
        int start = from * ENTRY_BYTES / page * page;
        int end = Math.min(area.capacity(), ((Math.min(to + 1, exceptionsPerArea) * ENTRY_BYTES) + page - 1) / page * page);
        cow.flush();
        cow.write(checkedOffset(areaLocation(index)) + start, area.duplicate().clear().position(start).limit(end), true);
    }

    private void zeroDiskArea(long index) throws IOException {
        cow.write(checkedOffset(areaLocation(index)), ByteBuffer.allocate((int) chunkBytes()), false);
    }

    /** Past the end a block device fails the write (a file would grow): the kernel's I/O error. */
    private long checkedOffset(long chunk) throws IOException {
        long offset = chunk * chunkBytes();
        if (offset + chunkBytes() > cow.size()) {
            throw new IOException("chunk " + chunk + " lies past the COW device's end (" + cowChunks() + " chunks)");
        }
        return offset;
    }
}
