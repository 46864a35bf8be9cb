package dev.jdm.targets.thin;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.Errno;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.ExtentSink;
import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.Target;
import dev.jdm.core.spi.TargetContext;
import dev.jdm.core.spi.TargetException;
import dev.jdm.core.spi.TargetType;
import dev.jdm.pdata.OutOfDataSpaceException;
import dev.jdm.pdata.ThinMetadata;
import dev.jdm.pdata.ThinMetadata.Mapping;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.StampedLock;

/**
 * {@code thin <pool dev> <dev id> [<external origin dev>]} (dm-thin.c's thin target): a virtual device
 * whose blocks are allocated from the pool on first write. Unprovisioned blocks read as zeroes (or as the
 * external origin within its size); a write to a block shared with a snapshot copies it first.
 */
public final class ThinTarget implements Target {
    private static final long DISCARD_WINDOW_BLOCKS = 4096;
    private static final long FILL_CHUNK_BYTES = 1 << 20;
    private static final ByteBuffer ZEROES = ByteBuffer.allocateDirect(64 * 1024).asReadOnlyBuffer();
    /** The pool in which this thread holds a block cell exclusively, while it fills a new block. */
    private static final ThreadLocal<Pool> FILLING = new ThreadLocal<>();

    public static final class Type implements TargetType {
        @Override
        public String name() {
            return "thin";
        }

        @Override
        public Version version() {
            return new Version(1, 23, 0);
        }

        @Override
        public Target construct(TargetContext ctx, Args args) throws TargetException {
            if (args.count() != 2 && args.count() != 3) {
                throw new TargetException("Invalid argument count: expected <pool dev> <dev id> [<external origin dev>], got "
                        + args.count());
            }
            Args.Arg poolArg = args.next("pool device");
            Args.Arg idArg = args.next("device id");
            Args.Arg originArg = args.hasMore() ? args.next("external origin device") : null;
            if (originArg != null && poolArg.text().equals(originArg.text())) {
                throw originArg.error("Error setting origin device: the origin must not be the pool");
            }
            BlockDevice origin = originArg != null ? ctx.device(originArg, 0, 0) : null;
            BlockDevice poolDevice = ctx.device(poolArg, 0, 0);
            long id = Args.Rule.KSTRTOULL.parse(idArg.text()).orElse(-1);
            if (id < 0 || id > ThinMetadata.MAX_DEVICE_ID) {
                throw idArg.error("Invalid device id");
            }
            if (!(poolDevice instanceof MappedDevice)) {
                throw poolArg.error("Couldn't get pool mapped device: the pool must be a mapped device");
            }
            Pool pool = PoolRegistry.acquire(poolDevice);
            if (pool == null) {
                throw poolArg.error("Couldn't find pool object: no thin-pool table is bound to this device");
            }
            try {
                if (pool.mode() == PoolMode.FAIL) {
                    throw new TargetException("Couldn't open thin device, Pool is in fail mode");
                }
                pool.openThin(id);
            } catch (TargetException e) {
                PoolRegistry.release(pool);
                throw e;
            }
            if (pool.suspended()) {
                pool.closeThin(id);
                PoolRegistry.release(pool);
                throw new TargetException("Unable to activate thin device while pool is suspended");
            }
            return new ThinTarget(pool, poolDevice, id, origin);
        }
    }

    private final Pool pool;
    private final BlockDevice poolDevice;
    private final long id;
    private final BlockDevice origin;
    private final long blockBytes;
    /** log2 of the block size when it is a power of two (the usual case), else -1: the I/O path shifts, not divides. */
    private final int blockShift;
    private volatile long originSize;
    private volatile SnapshotTime snapshotTime;

    private ThinTarget(Pool pool, BlockDevice poolDevice, long id, BlockDevice origin) {
        this.pool = pool;
        this.poolDevice = poolDevice;
        this.id = id;
        this.origin = origin;
        this.blockBytes = pool.blockBytes;
        this.blockShift = Long.bitCount(blockBytes) == 1 ? Long.numberOfTrailingZeros(blockBytes) : -1;
        this.originSize = origin != null ? origin.size() : 0;
    }

    // ---- reads ------------------------------------------------------------------------------------------

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        admitIo();
        // Each block's piece is the buffer itself narrowed by its limit: no slice per I/O.
        int end = dst.limit();
        try {
            while (dst.hasRemaining()) {
                int pieceStart = dst.position();
                int pieceEnd = pieceStart + pieceLength(offset, dst.remaining());
                dst.limit(pieceEnd);
                readBlock(blockOf(offset), offset, dst);
                offset += pieceEnd - pieceStart;
                dst.position(pieceEnd).limit(end);
            }
        } finally {
            dst.limit(end);
        }
    }

    private void readBlock(long vblock, long offset, ByteBuffer piece) throws IOException {
        StampedLock cell = pool.cells.of(id, vblock);
        if (readOptimistically(cell, vblock, offset, piece)) {
            return;
        }
        if (FILLING.get() == pool) {
            // A new block is being filled from an external origin that is a thin device of this pool, under an
            // exclusive cell this thread holds, maybe of this very stripe (the locks are not reentrant).
            Mapping m = pool.mappings.get(id, vblock);
            readMapped(m == null ? pool.metadata().lookup(id, vblock) : m == MappingCache.UNMAPPED ? null : m, offset, piece);
            return;
        }
        long stamp = cell.readLock();
        try {
            readMapped(lookup(vblock), offset, piece);
        } finally {
            cell.unlockRead(stamp);
        }
    }

    /**
     * A read whose mapping is cached, without taking the cell: if no exclusive holder (a provisioning or
     * sharing-breaking write, a discard) took the cell while it ran, the bytes are those of a read under
     * the cell. A data block is only handed to another block after a discard took this cell, so a read
     * that raced its reuse fails validation. A cache miss is not filled here: filling is only safe under
     * the shared cell (see {@link MappingCache}). Returns false when the caller must read under the cell.
     */
    private boolean readOptimistically(StampedLock cell, long vblock, long offset, ByteBuffer piece) throws IOException {
        long stamp = cell.tryOptimisticRead();
        if (stamp == 0) {
            return false;
        }
        Mapping m = pool.mappings.get(id, vblock);
        if (m == null) {
            return false;
        }
        int start = piece.position();
        try {
            readMapped(m == MappingCache.UNMAPPED ? null : m, offset, piece);
        } catch (IOException e) {
            if (cell.validate(stamp)) {
                throw e;
            }
        }
        if (cell.validate(stamp)) {
            return true;
        }
        piece.position(start);
        return false;
    }

    private void readMapped(Mapping m, long offset, ByteBuffer piece) throws IOException {
        if (m != null) {
            pool.dataDevice.read(dataOffset(m, offset), piece);
        } else {
            readUnprovisioned(offset, piece);
        }
    }

    /** Zeroes, or the external origin's bytes where it reaches (beyond its end: zeroes). */
    private void readUnprovisioned(long offset, ByteBuffer piece) throws IOException {
        long size = originSize;
        if (origin != null && offset < size) {
            int fromOrigin = (int) Math.min(piece.remaining(), size - offset);
            origin.read(offset, piece.slice(piece.position(), fromOrigin));
            piece.position(piece.position() + fromOrigin);
        }
        while (piece.hasRemaining()) {
            piece.put(ZEROES.duplicate().limit(Math.min(ZEROES.capacity(), piece.remaining())));
        }
    }

    // ---- writes -----------------------------------------------------------------------------------------

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        admitIo();
        int end = src.limit();
        try {
            while (src.hasRemaining()) {
                int pieceStart = src.position();
                int pieceEnd = pieceStart + pieceLength(offset, src.remaining());
                src.limit(pieceEnd);
                writeBlock(blockOf(offset), offset, src, fua);
                offset += pieceEnd - pieceStart;
                src.position(pieceEnd).limit(end);
            }
        } finally {
            src.limit(end);
        }
        // In-place pieces went out FUA; this device's uncommitted mappings (this write's too) need a commit.
        if (fua && pool.changed(id)) {
            pool.commit();
        }
    }

    private void writeBlock(long vblock, long offset, ByteBuffer piece, boolean fua) throws IOException {
        StampedLock cell = pool.cells.of(id, vblock);
        // The common case: a block this device owns alone is written in place, sharing the cell.
        long stamp = cell.readLock();
        try {
            Mapping m = lookup(vblock);
            if (m != null && !shared(m)) {
                pool.dataDevice.write(dataOffset(m, offset), piece, fua);
                return;
            }
        } finally {
            cell.unlockRead(stamp);
        }
        writeExclusively(cell, vblock, offset, piece, fua);
    }

    /** Provisions or breaks sharing under the exclusive cell; out of line, so the in-place path above stays small. */
    private void writeExclusively(StampedLock cell, long vblock, long offset, ByteBuffer piece, boolean fua) throws IOException {
        while (true) {
            boolean done;
            MetadataFailure failure = null;
            long stamp = cell.writeLock();
            FILLING.set(pool);
            try {
                done = provision(vblock, offset, piece, fua);
            } catch (MetadataFailure f) {
                failure = f;
                done = true;
            } finally {
                FILLING.remove();
                cell.unlockWrite(stamp);
            }
            if (failure != null) {
                throw pool.metadataOperationFailed(failure.operation, failure.cause);
            }
            if (done) {
                return;
            }
            // Nothing could be allocated: commit or change mode, then wait for space (or fail) unlocked.
            pool.resolveNoDataSpace();
            pool.awaitProvisioning();
        }
    }

    /**
     * Writes a block that is unprovisioned or shared, under the exclusive cell: a new data block gets the
     * write plus the rest of the block (zeroes, the external origin, or the shared block's contents), then
     * the mapping. Returns false when no data block could be allocated or the pool's mode allows none.
     */
    private boolean provision(long vblock, long offset, ByteBuffer piece, boolean fua) throws IOException {
        Lock txn = pool.sharedTransaction();
        txn.lock();
        try {
            Mapping m = lookup(vblock);
            if (m != null && !shared(m)) {
                pool.dataDevice.write(dataOffset(m, offset), piece, fua);
                return true;
            }
            if (pool.mode() != PoolMode.WRITE) {
                return false;
            }
            long block;
            try {
                block = pool.allocateDataBlock();
            } catch (OutOfDataSpaceException e) {
                return false;
            } catch (IOException e) {
                throw new MetadataFailure("dm_pool_alloc_data_block", e);
            }
            fillNewBlock(block, vblock, m, offset, piece);
            try {
                pool.metadata().insert(id, vblock, block);
            } catch (IOException e) {
                throw new MetadataFailure("dm_thin_insert_block", e);
            }
            // Stamped with the current time, which cannot move while the transaction is held.
            pool.mappings.put(id, vblock, new Mapping(block, pool.metadata().time()), pool.mappings.generation());
            pool.markChanged(id);
            return true;
        } finally {
            txn.unlock();
        }
    }

    private void fillNewBlock(long block, long vblock, Mapping shared, long offset, ByteBuffer piece) throws IOException {
        long blockStart = vblock * blockBytes;
        long dst = block * blockBytes;
        long pieceStart = offset - blockStart;
        long pieceEnd = pieceStart + piece.remaining();
        boolean fromOrigin = shared == null && origin != null && blockStart < originSize;
        boolean zeroesAround = shared == null && !fromOrigin;
        // No zeroing where the data device already reads as zeroes (a hole of a sparse data file: a block
        // never written, or one whose discard was passed down): it would change nothing.
        if (pieceEnd - pieceStart == blockBytes
                || (zeroesAround && (!pool.features().zeroNewBlocks() || pool.holes.newBlockReadsAsZeroes(block)))) {
            pool.dataDevice.write(dst + pieceStart, piece.duplicate(), false);
            return;
        }
        // The rest of the block comes from the shared block, the origin or zeroes, a bounded chunk at a time
        // (blocks go up to 1 GiB). A chunk that only needs zeroes is zeroed in place around the part of the
        // write it holds, which goes out from the caller's buffer: no chunk buffer to fill and copy.
        int chunk = (int) Math.min(blockBytes, FILL_CHUNK_BYTES);
        for (long at = 0; at < blockBytes; at += chunk) {
            long end = at + chunk;
            boolean touched = pieceStart < end && pieceEnd > at;
            if (shared == null && (!fromOrigin || blockStart + at >= originSize)) {
                if (!touched) {
                    pool.dataDevice.writeZeroes(dst + at, chunk, false);
                    continue;
                }
                long from = Math.max(at, pieceStart);
                long to = Math.min(end, pieceEnd);
                if (from > at) {
                    pool.dataDevice.writeZeroes(dst + at, from - at, false);
                }
                if (end > to) {
                    pool.dataDevice.writeZeroes(dst + to, end - to, false);
                }
                int in = piece.position() + (int) (from - pieceStart);
                pool.dataDevice.write(dst + from, piece.duplicate().limit(in + (int) (to - from)).position(in), false);
                continue;
            }
            ByteBuffer buf = ByteBuffer.allocate(chunk);
            if (shared != null) {
                pool.dataDevice.read(shared.dataBlock() * blockBytes + at, buf);
            } else if (fromOrigin) {
                readUnprovisioned(blockStart + at, buf);
            }
            if (touched) {
                long from = Math.max(at, pieceStart);
                long to = Math.min(end, pieceEnd);
                buf.put((int) (from - at), piece, piece.position() + (int) (from - pieceStart), (int) (to - from));
            }
            pool.dataDevice.write(dst + at, buf.clear(), false);
        }
    }

    /** The kernel has no write-zeroes for thin devices: the block layer writes zeroes, provisioning as it goes. */
    @Override
    public void writeZeroes(long offset, long length, boolean mayUnmap) throws IOException {
        ByteBuffer zeroes = ByteBuffer.allocate((int) Math.min(length, blockBytes));
        long end = offset + length;
        while (offset < end) {
            int n = (int) Math.min(zeroes.capacity(), end - offset);
            write(offset, zeroes.clear().limit(n), false);
            offset += n;
        }
    }

    @Override
    public void flush() throws IOException {
        admitIo();
        pool.commitIfChanged(id);
    }

    // ---- discards ---------------------------------------------------------------------------------------

    /**
     * Unmaps every whole block in the range (partial blocks at either end are left alone, as the kernel
     * does); with passdown, data blocks no device references any more are discarded on the data device.
     */
    @Override
    public void discard(long offset, long length) throws IOException {
        PoolFeatures f = pool.features();
        if (!f.discardEnabled()) {
            throw new BlockIoException(Errno.EOPNOTSUPP, "the pool ignores discards (ignore_discard)");
        }
        admitIo();
        if (pool.mode().readOnly()) {
            return;
        }
        long first = (offset + blockBytes - 1) / blockBytes;
        long end = (offset + length) / blockBytes;
        if (first >= end) {
            return;
        }
        // A window at a time, so a discard of a whole large device never lists all its mappings at once.
        for (long from = first; from < end; from += DISCARD_WINDOW_BLOCKS) {
            List<Long> mapped = new ArrayList<>();
            pool.metadata().mappings(id, from, Math.min(end, from + DISCARD_WINDOW_BLOCKS), (vblock, m) -> mapped.add(vblock));
            for (long vblock : mapped) {
                try {
                    unmap(vblock, f.discardPassdown());
                } catch (MetadataFailure e) {
                    throw pool.metadataOperationFailed(e.operation, e.cause);
                }
            }
        }
    }

    private void unmap(long vblock, boolean passdown) throws IOException {
        StampedLock cell = pool.cells.of(id, vblock);
        long stamp = cell.writeLock();
        Lock txn = pool.sharedTransaction();
        txn.lock();
        try {
            List<Long> freed = new ArrayList<>();
            long removed;
            try {
                removed = pool.metadata().removeRange(id, vblock, vblock + 1, freed::add);
            } catch (IOException e) {
                throw new MetadataFailure("dm_thin_remove_range", e);
            }
            pool.mappings.put(id, vblock, null, pool.mappings.generation());
            if (removed > 0) {
                pool.markChanged(id);
            }
            // Still inside the transaction: a freed block cannot be handed out again before it is discarded.
            if (passdown) {
                for (long block : freed) {
                    pool.dataDevice.discard(block * blockBytes, blockBytes);
                }
            }
        } finally {
            txn.unlock();
            cell.unlockWrite(stamp);
        }
    }

    @Override
    public boolean supportsDiscard() {
        return pool.features().discardEnabled();
    }

    // ---- block status -------------------------------------------------------------------------------------

    /** Provisioned blocks are data; unprovisioned ones are holes reading as zeroes, or the origin's data. */
    @Override
    public void allocation(long offset, long length, ExtentSink sink) throws IOException {
        long end = offset + length;
        List<Long> mapped = new ArrayList<>();
        pool.metadata().mappings(id, offset / blockBytes, (end + blockBytes - 1) / blockBytes,
                (vblock, m) -> mapped.add(vblock));
        Extents out = new Extents(sink);
        long pos = offset;
        for (long vblock : mapped) {
            long start = Math.max(offset, vblock * blockBytes);
            unprovisioned(out, pos, start);
            long stop = Math.min(end, (vblock + 1) * blockBytes);
            out.add(stop - start, 0);
            pos = stop;
        }
        unprovisioned(out, pos, end);
        out.finish();
    }

    private void unprovisioned(Extents out, long from, long to) {
        if (from >= to) {
            return;
        }
        long originEnd = origin != null ? Math.min(to, Math.max(from, originSize)) : from;
        out.add(originEnd - from, 0);
        out.add(to - originEnd, ExtentSink.HOLE | ExtentSink.ZERO);
    }

    /** Merges neighbouring extents with the same flags before they reach the sink. */
    private static final class Extents {
        private final ExtentSink sink;
        private long length;
        private int flags;

        Extents(ExtentSink sink) {
            this.sink = sink;
        }

        void add(long len, int f) {
            if (len <= 0) {
                return;
            }
            if (length > 0 && f != flags) {
                sink.extent(length, flags);
                length = 0;
            }
            flags = f;
            length += len;
        }

        void finish() {
            if (length > 0) {
                sink.extent(length, flags);
            }
        }
    }

    // ---- status -------------------------------------------------------------------------------------------

    /** {@code <mapped sectors> <highest mapped sector>|-} (thin_status), or {@code Fail}. */
    @Override
    public String status() {
        if (pool.mode() == PoolMode.FAIL) {
            return "Fail";
        }
        try {
            long mapped = pool.metadata().details(id).mappedBlocks();
            long highest = pool.metadata().highestMappedBlock(id);
            return mapped * pool.blockSectors + " " + (highest < 0 ? "-" : Long.toString((highest + 1) * pool.blockSectors - 1));
        } catch (IOException e) {
            return "Error";
        }
    }

    @Override
    public String table() {
        return poolDevice.id() + " " + id + (origin != null ? " " + origin.id() : "");
    }

    /** The origin's size is taken again on every resume (thin_preresume). */
    @Override
    public void preresume() {
        if (origin != null) {
            originSize = origin.size();
        }
    }

    @Override
    public List<BlockDevice> devices() {
        return origin != null ? List.of(poolDevice, origin) : List.of(poolDevice);
    }

    @Override
    public void close() {
        pool.closeThin(id);
        PoolRegistry.release(pool);
    }

    // ---- helpers ------------------------------------------------------------------------------------------

    private int pieceLength(long offset, int remaining) {
        return (int) Math.min(remaining, blockBytes - inBlock(offset));
    }

    private long dataOffset(Mapping m, long offset) {
        return m.dataBlock() * blockBytes + inBlock(offset);
    }

    private long blockOf(long offset) {
        return blockShift >= 0 ? offset >>> blockShift : offset / blockBytes;
    }

    private long inBlock(long offset) {
        return blockShift >= 0 ? offset & (blockBytes - 1) : offset % blockBytes;
    }

    /**
     * The block's mapping, from the pool's cache when it has it. The cell held by the caller keeps it from
     * changing; ThinMetadata's own lock makes the lookup see a whole commit or abort.
     */
    private Mapping lookup(long vblock) throws IOException {
        long generation = pool.mappings.generation();
        Mapping m = pool.mappings.get(id, vblock);
        if (m == null) {
            m = pool.metadata().lookup(id, vblock);
            pool.mappings.put(id, vblock, m, generation);
            return m;
        }
        return m == MappingCache.UNMAPPED ? null : m;
    }

    /**
     * The kernel's sharing test: written before this device was last snapshotted (__snapshotted_since). The
     * device's snapshot time is kept for the cache's generation: only messages and aborts change it.
     */
    private boolean shared(Mapping m) throws IOException {
        long generation = pool.mappings.generation();
        SnapshotTime t = snapshotTime;
        if (t == null || t.generation() != generation) {
            t = new SnapshotTime(generation, pool.metadata().details(id).snapshottedTime());
            snapshotTime = t;
        }
        return m.time() < t.time();
    }

    private record SnapshotTime(long generation, int time) {
    }

    /** Every I/O first waits out a suspended pool, then fails at once in fail mode. */
    private void admitIo() throws BlockIoException {
        pool.awaitResumed();
        if (pool.mode() == PoolMode.FAIL) {
            throw new BlockIoException(Errno.EIO, "the pool is in fail mode");
        }
    }

    /** A metadata change failed under the cell: raised past the locks so the pool can abort the transaction. */
    private static final class MetadataFailure extends IOException {
        final String operation;
        final IOException cause;

        MetadataFailure(String operation, IOException cause) {
            super(operation + ": " + cause.getMessage(), cause);
            this.operation = operation;
            this.cause = cause;
        }
    }
}
