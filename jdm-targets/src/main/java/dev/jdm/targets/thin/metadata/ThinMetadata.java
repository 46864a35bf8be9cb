package dev.jdm.targets.thin.metadata;

import dev.jdm.core.Errno;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.pdata.BTree;
import dev.jdm.pdata.Block;
import dev.jdm.pdata.BlockManager;
import dev.jdm.pdata.BlockType;
import dev.jdm.pdata.MetadataException;
import dev.jdm.pdata.SpaceMap;
import dev.jdm.pdata.TransactionManager;
import dev.jdm.pdata.ValueType;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Collections;
import java.util.HashSet;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.LongConsumer;

/**
 * Thin-pool metadata in the kernel's format (dm-thin-metadata.c): a superblock at block 0, a details tree
 * (device id → {@link Details}) and a two-level mapping tree (device id → root of that device's tree of
 * virtual block → {@code (data block << 24) | time}), with a metadata and a data space map. A snapshot shares
 * its origin's tree (one reference count changes); writes afterwards shadow only the paths they touch.
 * Changes are private until {@link #commit()}; {@link #abort()} or closing without committing abandons them.
 *
 * <p>Errors are {@link MetadataException}s with an errno. ENOSPC comes in two kinds: an
 * {@link OutOfDataSpaceException} from {@link #allocateDataBlock} when the data device is full (the
 * transaction is still sound: commit, or free blocks and retry), and a plain MetadataException with ENOSPC
 * whose message starts "out of metadata space" when a change needed a metadata block and none was left.
 * After that (as after any failure in the middle of a change) the transaction is half done: {@link #abort()}
 * returns to the last commit, which is intact on disk.
 */
public final class ThinMetadata implements AutoCloseable {
    public static final long MAGIC = 27022010L;
    public static final int SUPERBLOCK_VERSION = 2;
    public static final int NEEDS_CHECK = 1;
    public static final long MAX_DEVICE_ID = (1L << 24) - 1;
    /** dm-thin-metadata.c's sb_validator; also the type of the held metadata snapshot's superblock copy. */
    public static final BlockType SUPERBLOCK = new BlockType("superblock", 160774, 8);
    private static final int DETAILS_SIZE = 24;
    private static final String OUT_OF_METADATA_SPACE = "out of metadata space";

    /** Per-device details as the details tree stores them. */
    public record Details(long mappedBlocks, long transactionId, int creationTime, int snapshottedTime) {
        byte[] encode() {
            return ByteBuffer.allocate(DETAILS_SIZE).order(ByteOrder.LITTLE_ENDIAN).putLong(mappedBlocks)
                    .putLong(transactionId).putInt(creationTime).putInt(snapshottedTime).array();
        }

        static Details decode(byte[] b) {
            ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
            return new Details(bb.getLong(), bb.getLong(), bb.getInt(), bb.getInt());
        }
    }

    /** A mapped virtual block: where its data lives and the snapshot time it was written at. */
    public record Mapping(long dataBlock, int time) {
        public long encode() {
            return dataBlock << 24 | (time & 0xFFFFFFL);
        }

        public static Mapping decode(long v) {
            return new Mapping(v >>> 24, (int) (v & 0xFFFFFF));
        }
    }

    @FunctionalInterface
    public interface MappingVisitor {
        void mapping(long virtualBlock, Mapping mapping) throws IOException;
    }

    private final BlockManager bm;
    private final TransactionManager tm;
    private final SpaceMap metadataSm;
    private final SpaceMap dataSm;
    private final BTree deviceTrees;
    private final BTree mappingTree;
    private final BTree detailsTree;
    private final int dataBlockSize;
    private final TreeMap<Long, Details> details = new TreeMap<>();
    private final Set<Long> changedDetails = new HashSet<>();
    /** Lookups run concurrently; changes and commit run alone (the kernel's pmd->root_lock). */
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private int flags;
    private int version;
    private int time;
    private long transactionId;
    private long mappingRoot;
    private long detailsRoot;
    private long heldRoot;
    /** Device roots lookups found, valid while {@code generation} (bumped by every change) is unchanged. */
    private record CachedRoot(long generation, long root) {
    }

    private final java.util.concurrent.ConcurrentHashMap<Long, CachedRoot> rootCache = new java.util.concurrent.ConcurrentHashMap<>();
    /** Written under the write lock, read under the read lock (the lock orders them). */
    private long generation;
    /**
     * The device the last inserts went to and its mapping root, whose top-level path is already shadowed in
     * this transaction: a run of inserts into one device (provisioning) skips the top-level tree, and its
     * lookups skip the root cache. Any change but an allocation or an insert clears it (snapshots and the
     * held metadata snapshot share trees; a commit ends the transaction). Guarded like {@code generation}.
     */
    private long hotDevice = -1;
    private long hotRoot;
    /** Told about data blocks whose last reference goes, while {@link #removeRange} runs. */
    private LongConsumer dataBlockFreed;

    private ThinMetadata(BlockManager bm, SpaceMap metadataSm, SpaceMap dataSm, int dataBlockSize) {
        this.bm = bm;
        this.tm = new TransactionManager(bm, metadataSm);
        this.metadataSm = metadataSm;
        this.dataSm = dataSm;
        this.dataBlockSize = dataBlockSize;
        this.deviceTrees = new BTree(tm, new ValueType() {
            @Override
            public int size() {
                return 8;
            }

            @Override
            public void inc(byte[] v) {
                dataSm.inc(Mapping.decode(BTree.le64(v)).dataBlock());
            }

            @Override
            public void dec(byte[] v) {
                long block = Mapping.decode(BTree.le64(v)).dataBlock();
                if (dataSm.dec(block) == 0 && dataBlockFreed != null) {
                    dataBlockFreed.accept(block);
                }
            }
        });
        this.mappingTree = new BTree(tm, ValueType.blockReference(tm, root -> deviceTrees.delete(root)));
        this.detailsTree = new BTree(tm, () -> DETAILS_SIZE);
    }

    /** Writes empty metadata over the device (whatever it held) and commits it. */
    public static ThinMetadata format(BlockDevice device, int dataBlockSizeSectors, long nrDataBlocks, int cacheBlocks)
            throws IOException {
        if (dataBlockSizeSectors < 128 || dataBlockSizeSectors % 128 != 0) {
            throw new MetadataException(Errno.EINVAL, "data block size " + dataBlockSizeSectors
                    + " sectors is not a multiple of 128 (64 KiB)");
        }
        BlockManager bm = new BlockManager(device, cacheBlocks);
        SpaceMap msm = new SpaceMap(Math.min(bm.nrBlocks(), SpaceMap.METADATA_MAX_BLOCKS));
        msm.set(0, 1); // the superblock
        ThinMetadata md = new ThinMetadata(bm, msm, new SpaceMap(nrDataBlocks), dataBlockSizeSectors);
        md.version = SUPERBLOCK_VERSION;
        md.mappingRoot = md.mappingTree.create();
        md.detailsRoot = md.detailsTree.create();
        md.commit();
        return md;
    }

    /** Opens and validates existing metadata; nothing is written until the caller changes and commits. */
    public static ThinMetadata open(BlockDevice device, int cacheBlocks) throws IOException {
        if (device.size() < Block.SIZE) {
            throw new MetadataException(Errno.EINVAL, "metadata device of " + device.size()
                    + " bytes is smaller than one 4096-byte block");
        }
        BlockManager bm = new BlockManager(device, cacheBlocks);
        ByteBuffer sb = bm.read(0, SUPERBLOCK).data();
        long magic = sb.getLong(32);
        if (magic != MAGIC) {
            throw new MetadataException(Errno.EILSEQ, "bad magic in thin superblock: " + magic + ", expected " + MAGIC);
        }
        int incompat = sb.getInt(360);
        if (incompat != 0) {
            throw new MetadataException(Errno.EINVAL, String.format("unsupported incompat features 0x%x", incompat));
        }
        long metadataBlocks = sb.getLong(192);
        if (metadataBlocks > bm.nrBlocks()) {
            throw new MetadataException(Errno.EINVAL, "metadata device is truncated: " + bm.nrBlocks()
                    + " blocks, the metadata space map covers " + metadataBlocks);
        }
        SpaceMap msm = SpaceMap.readMetadata(bm, sb.slice(192, 32).order(ByteOrder.LITTLE_ENDIAN));
        SpaceMap dsm = SpaceMap.readDisk(new TransactionManager(bm, msm), sb.slice(64, 32).order(ByteOrder.LITTLE_ENDIAN));
        ThinMetadata md = new ThinMetadata(bm, msm, dsm, sb.getInt(336));
        md.readCommitted(sb);
        return md;
    }

    /** Superblock fields and device details as the last commit left them. */
    private void readCommitted(ByteBuffer sb) throws IOException {
        flags = sb.getInt(4);
        version = sb.getInt(40);
        time = sb.getInt(44);
        transactionId = sb.getLong(48);
        mappingRoot = sb.getLong(320);
        detailsRoot = sb.getLong(328);
        heldRoot = sb.getLong(56);
        details.clear();
        changedDetails.clear();
        detailsTree.walk(detailsRoot, (id, v) -> details.put(id, Details.decode(v)));
    }

    /**
     * Drops every change since the last commit and returns to exactly the committed state, as the kernel's
     * dm_pool_abort_metadata does (a pool aborts after a failed metadata operation, then goes read-only).
     * Blocks allocated since the commit are free again; a resize not yet committed is undone.
     */
    public void abort() throws IOException {
        write(() -> {
            tm.abort();
            bm.refreshSize();
            ByteBuffer sb = bm.read(0, SUPERBLOCK).data();
            metadataSm.reloadMetadata(bm, sb.slice(192, 32).order(ByteOrder.LITTLE_ENDIAN));
            dataSm.reloadDisk(tm, sb.slice(64, 32).order(ByteOrder.LITTLE_ENDIAN));
            readCommitted(sb);
            return null;
        });
    }

    /**
     * Sets the superblock's needs_check flag and writes it at once, changing nothing else of the committed
     * state (dm_pool_metadata_set_needs_check writes the flag into the superblock in place). A pool whose
     * metadata has the flag stays read-only until thin_check clears it (thin_check --clear-needs-check-flag);
     * pending changes are untouched and a later commit keeps the flag.
     */
    public void setNeedsCheck() throws IOException {
        write(() -> {
            flags |= NEEDS_CHECK;
            // from disk: after a commit that failed half-way the cached superblock is the unpublished one
            bm.forget(0);
            Block sb = bm.read(0, SUPERBLOCK);
            sb.data().putInt(4, flags);
            bm.writeAndFlush(sb);
            return null;
        });
    }

    /**
     * Grows the data space map to {@code newNrDataBlocks} (dm_pool_resize_data_dev): the new blocks are
     * free at once and the size is committed with the next commit. The same size is a no-op; a smaller one
     * fails with EINVAL "cannot reduce size of space map", as the kernel's does.
     */
    public void resizeData(long newNrDataBlocks) throws IOException {
        write(() -> {
            dataSm.extend(newNrDataBlocks);
            return null;
        });
    }

    /**
     * Grows the metadata space map to {@code newNrBlocks} 4 KiB blocks after the metadata device itself grew
     * (dm_pool_resize_metadata_dev); committed with the next commit. Smaller fails with EINVAL "cannot reduce
     * size of space map"; beyond the device's end or the format's limit of {@link SpaceMap#METADATA_MAX_BLOCKS}
     * blocks (the kernel's pool clamps the device size to that) fails with EINVAL too.
     */
    public void resizeMetadata(long newNrBlocks) throws IOException {
        write(() -> {
            bm.refreshSize();
            if (newNrBlocks > bm.nrBlocks()) {
                throw new MetadataException(Errno.EINVAL, "metadata device has " + bm.nrBlocks()
                        + " blocks, cannot grow the space map to " + newNrBlocks);
            }
            if (newNrBlocks > SpaceMap.METADATA_MAX_BLOCKS) {
                throw new MetadataException(Errno.EINVAL, "metadata space map cannot address " + newNrBlocks
                        + " blocks, at most " + SpaceMap.METADATA_MAX_BLOCKS);
            }
            metadataSm.extend(newNrBlocks);
            return null;
        });
    }

    public int dataBlockSize() {
        return dataBlockSize;
    }

    public long nrDataBlocks() {
        return dataSm.nrBlocks();
    }

    public int time() {
        return time;
    }

    public long transactionId() {
        return transactionId;
    }

    public int version() {
        return version;
    }

    public boolean needsCheck() {
        return (flags & NEEDS_CHECK) != 0;
    }

    /**
     * Metadata blocks held back so that a commit can always finish: min(4096, a tenth of the metadata
     * blocks), as the kernel's __set_metadata_reserve. Allocation itself does not stop at it; the pool goes
     * out-of-metadata-space mode when {@link #freeMetadataBlocks()} reaches 0.
     */
    public long metadataReserve() {
        return Math.min(4096, metadataSm.nrBlocks() / 10);
    }

    /**
     * Free metadata blocks less the {@link #metadataReserve()} (0 when fewer are free), as
     * dm_pool_get_free_metadata_block_count reports them: free at the last commit less those allocated since
     * ({@link SpaceMap#nrFreeAtCommitLessAllocated}). The pool's status shows total minus this as used.
     */
    public long freeMetadataBlocks() {
        return counted(() -> Math.max(0, metadataSm.nrFreeAtCommitLessAllocated() - metadataReserve()));
    }

    /**
     * Whether free metadata (counted as the kernel does, see {@link #freeMetadataBlocks()}, without the
     * reserve) is at or below the pool's low-water threshold, min(1024 blocks (4 MiB), a quarter of the
     * metadata blocks) (dm-thin's calc_metadata_threshold; the kernel raises a table event and logs
     * "reached low water mark for metadata device" when a change crosses it).
     */
    public boolean metadataLowWater() {
        return counted(() -> metadataSm.nrFreeAtCommitLessAllocated() <= Math.min(1024, metadataSm.nrBlocks() / 4));
    }

    public SpaceMap dataSpaceMap() {
        return dataSm;
    }

    public SpaceMap metadataSpaceMap() {
        return metadataSm;
    }

    public BlockManager blockManager() {
        return bm;
    }

    TransactionManager transactionManager() {
        return tm;
    }

    /** A copy of every device's details, by id. */
    public SortedMap<Long, Details> devices() {
        lock.readLock().lock();
        try {
            return Collections.unmodifiableSortedMap(new TreeMap<>(details));
        } finally {
            lock.readLock().unlock();
        }
    }

    public Details details(long id) throws IOException {
        return read(() -> {
            Details d = details.get(id);
            if (d == null) {
                throw new MetadataException(Errno.ENOENT, "thin device " + id + " does not exist");
            }
            return d;
        });
    }

    /** Compare-and-swap of the userspace transaction id, as the pool's set_transaction_id message does. */
    public void setTransactionId(long expected, long value) throws IOException {
        write(() -> {
            if (expected != transactionId) {
                throw new MetadataException(Errno.EINVAL, "transaction id is " + transactionId + ", not " + expected);
            }
            transactionId = value;
            return null;
        });
    }

    public void createThin(long id) throws IOException {
        write(() -> {
            checkNew(id);
            long root = deviceTrees.create();
            mappingRoot = mappingTree.insert(mappingRoot, id, BTree.le64(root));
            putDetails(id, new Details(0, transactionId, time, time));
            return null;
        });
    }

    /** A snapshot shares the origin's mapping tree: one reference count changes, whatever its size. */
    public void createSnapshot(long id, long originId) throws IOException {
        write(() -> {
            checkNew(id);
            Details origin = details(originId);
            long originRoot = deviceRoot(originId);
            tm.inc(originRoot);
            mappingRoot = mappingTree.insert(mappingRoot, id, BTree.le64(originRoot));
            time++;
            putDetails(originId, new Details(origin.mappedBlocks(), origin.transactionId(), origin.creationTime(), time));
            putDetails(id, new Details(origin.mappedBlocks(), transactionId, time, time));
            return null;
        });
    }

    /** Deletes a device; blocks and data only it referenced are released. */
    public void deleteDevice(long id) throws IOException {
        write(() -> {
            details(id);
            mappingRoot = mappingTree.remove(mappingRoot, id);
            detailsRoot = detailsTree.remove(detailsRoot, id);
            details.remove(id);
            changedDetails.remove(id);
            rootCache.remove(id);
            return null;
        });
    }

    /** A free data block (free at the last commit too), with reference count 1 that a mapping will own. */
    public long allocateDataBlock() throws IOException {
        return writeKeepingDeviceRoots(() -> {
            try {
                return dataSm.allocate();
            } catch (MetadataException e) {
                if (e.errno() != Errno.ENOSPC) {
                    throw e;
                }
                throw new OutOfDataSpaceException("no free data block: all " + dataSm.nrBlocks()
                        + " are in use or were freed since the last commit");
            }
        });
    }

    public Mapping lookup(long id, long virtualBlock) throws IOException {
        return read(() -> {
            byte[] v = deviceTrees.lookup(cachedDeviceRoot(id), virtualBlock);
            return v == null ? null : Mapping.decode(BTree.le64(v));
        });
    }

    /**
     * Maps a virtual block to a data block the caller owns a reference to (from {@link #allocateDataBlock}),
     * stamped with the current time; a previous mapping's data block loses its reference.
     */
    public void insert(long id, long virtualBlock, long dataBlock) throws IOException {
        writeKeepingDeviceRoots(() -> {
            Details d = details(id);
            if (dataBlock < 0 || dataBlock >= dataSm.nrBlocks()) {
                throw new MetadataException(Errno.EINVAL, "data block " + dataBlock + " is beyond the pool's "
                        + dataSm.nrBlocks() + " blocks");
            }
            if (hotDevice >= 0 && hotDevice != id) {
                rootCache.put(hotDevice, new CachedRoot(generation, hotRoot)); // only inserts ran since it was hot
            }
            long root = id == hotDevice ? hotRoot : writableDeviceRoot(id);
            hotDevice = -1; // until the insert is through
            BTree.Inserted inserted = deviceTrees.put(root, virtualBlock, BTree.le64(new Mapping(dataBlock, time).encode()));
            if (inserted.root() != root) {
                mappingRoot = mappingTree.replace(mappingRoot, id, BTree.le64(inserted.root()));
            }
            hotDevice = id;
            hotRoot = inserted.root();
            if (inserted.added()) {
                putDetails(id, new Details(d.mappedBlocks() + 1, d.transactionId(), d.creationTime(), d.snapshottedTime()));
            }
            return null;
        });
    }

    /** Unmaps a virtual block; returns whether it was mapped. */
    public boolean remove(long id, long virtualBlock) throws IOException {
        return write(() -> {
            Details d = details(id);
            if (deviceTrees.lookup(deviceRoot(id), virtualBlock) == null) {
                return false;
            }
            long newRoot = deviceTrees.remove(writableDeviceRoot(id), virtualBlock);
            mappingRoot = mappingTree.replace(mappingRoot, id, BTree.le64(newRoot));
            putDetails(id, new Details(d.mappedBlocks() - 1, d.transactionId(), d.creationTime(), d.snapshottedTime()));
            return true;
        });
    }

    /**
     * Unmaps every mapped virtual block in [begin, end) (dm_thin_remove_range) and returns how many there
     * were. {@code freedDataBlock} hears of each data block whose reference count dropped to zero (free
     * after the next commit); a block a snapshot still shares is not reported.
     */
    public long removeRange(long id, long begin, long end, LongConsumer freedDataBlock) throws IOException {
        return write(() -> {
            Details d = details(id);
            BTree.Removed removed;
            dataBlockFreed = freedDataBlock;
            try {
                removed = deviceTrees.removeRange(writableDeviceRoot(id), begin, end);
            } finally {
                dataBlockFreed = null;
            }
            mappingRoot = mappingTree.replace(mappingRoot, id, BTree.le64(removed.root()));
            if (removed.count() > 0) {
                putDetails(id, new Details(d.mappedBlocks() - removed.count(), d.transactionId(), d.creationTime(),
                        d.snapshottedTime()));
            }
            return removed.count();
        });
    }

    /** The highest mapped virtual block of the device, -1 when nothing is mapped. */
    public long highestMappedBlock(long id) throws IOException {
        return read(() -> deviceTrees.highestKey(deviceRoot(id)).orElse(-1));
    }

    /** Visits the device's mappings with from <= virtual block < to, in order. */
    public void mappings(long id, long from, long to, MappingVisitor visitor) throws IOException {
        read(() -> {
            deviceTrees.walk(deviceRoot(id), from, to, (k, v) -> visitor.mapping(k, Mapping.decode(BTree.le64(v))));
            return null;
        });
    }

    public void mappings(long id, MappingVisitor visitor) throws IOException {
        mappings(id, 0, -1L, visitor);
    }

    /** Location of the metadata snapshot (a superblock copy), 0 if none is held. */
    public long metadataSnapshot() {
        return heldRoot;
    }

    /**
     * Holds a read-only copy of the metadata as of now (thin_dump -m reads it): commits, then copies the
     * superblock to a new block with the space map roots zeroed, and takes one more reference to the
     * mapping and details trees, so later changes shadow instead of overwriting them.
     */
    public void reserveMetadataSnapshot() throws IOException {
        write(() -> {
            if (heldRoot != 0) {
                throw new MetadataException(Errno.EBUSY, "Pool metadata snapshot already exists: release this before taking another.");
            }
            commit();
            Block copy = tm.newBlock(SUPERBLOCK);
            copy.data().put(0, bm.read(0, SUPERBLOCK).data(), 0, Block.SIZE);
            copy.data().put(64, new byte[256]);
            tm.inc(mappingRoot);
            tm.inc(detailsRoot);
            heldRoot = copy.location();
            commit();
            return null;
        });
    }

    /** Drops the metadata snapshot: its trees lose a reference (what only they held is freed). */
    public void releaseMetadataSnapshot() throws IOException {
        write(() -> {
            if (heldRoot == 0) {
                throw new MetadataException(Errno.EINVAL, "No pool metadata snapshot found: nothing to release.");
            }
            ByteBuffer held = bm.read(heldRoot, SUPERBLOCK).data();
            long heldMappings = held.getLong(320);
            long heldDetails = held.getLong(328);
            mappingTree.delete(heldMappings);
            detailsTree.delete(heldDetails);
            tm.dec(heldRoot);
            heldRoot = 0;
            return null;
        });
    }

    /** Root of the device's mapping tree (for inspection: sharing between snapshots shows as equal roots). */
    public long deviceRoot(long id) throws IOException {
        return read(() -> {
            byte[] v = mappingTree.lookup(mappingRoot, id);
            if (v == null) {
                throw new MetadataException(Errno.ENOENT, "thin device " + id + " does not exist");
            }
            return BTree.le64(v);
        });
    }

    /**
     * {@link #deviceRoot} for lookups, remembered until the next change: the I/O path looks up far more often
     * than it changes anything, and this saves the top-level tree's descent. Called under the read lock.
     */
    private long cachedDeviceRoot(long id) throws IOException {
        if (id == hotDevice) {
            return hotRoot;
        }
        CachedRoot cached = rootCache.get(id);
        if (cached != null && cached.generation() == generation) {
            return cached.root();
        }
        long root = deviceRoot(id);
        rootCache.put(id, new CachedRoot(generation, root));
        return root;
    }

    /**
     * The root of a device's mapping tree, ready to change: the top-level path to it is shadowed first, as the
     * kernel's two-level btree walks top-down. A top-level leaf shared with the held metadata snapshot is then
     * copied, which counts the subtree as shared, so the subtree is copied too instead of changed under the
     * snapshot (and the data blocks of its leaves stay referenced by the snapshot).
     */
    private long writableDeviceRoot(long id) throws IOException {
        long root = deviceRoot(id);
        mappingRoot = mappingTree.replace(mappingRoot, id, BTree.le64(root));
        return root;
    }

    /** The tree type of per-device mapping trees (for walking leaves, e.g. to recount data references). */
    public BTree deviceTrees() {
        return deviceTrees;
    }

    /**
     * Makes every change since the last commit durable, atomically. If it fails, the previous commit is what
     * the disk holds and the in-memory state is half-way: {@link #abort()} before anything else.
     */
    public void commit() throws IOException {
        write(() -> {
            for (long id : changedDetails) {
                detailsRoot = detailsTree.insert(detailsRoot, id, details.get(id).encode());
            }
            changedDetails.clear();
            byte[] dataRoot = dataSm.writeDisk(tm);
            byte[] metadataRoot = metadataSm.writeMetadata(tm);
            Block sb = bm.create(0, SUPERBLOCK);
            ByteBuffer d = sb.data();
            d.putInt(4, flags);
            d.putLong(32, MAGIC);
            d.putInt(40, version);
            d.putInt(44, time);
            d.putLong(48, transactionId);
            d.put(64, dataRoot);
            d.put(192, metadataRoot);
            d.putLong(320, mappingRoot);
            d.putLong(328, detailsRoot);
            d.putLong(56, heldRoot);
            d.putInt(336, dataBlockSize);
            d.putInt(340, Block.SIZE / 512);
            d.putLong(344, metadataSm.nrBlocks());
            tm.commit(sb);
            return null;
        });
    }

    @FunctionalInterface
    private interface Action<T> {
        T run() throws IOException;
    }

    /** Reads in-memory counters under the read lock (no I/O, so no IOException). */
    private <T> T counted(java.util.function.Supplier<T> counters) {
        lock.readLock().lock();
        try {
            return counters.get();
        } finally {
            lock.readLock().unlock();
        }
    }

    private <T> T read(Action<T> action) throws IOException {
        lock.readLock().lock();
        try {
            return unchecked(action);
        } finally {
            lock.readLock().unlock();
        }
    }

    private <T> T write(Action<T> action) throws IOException {
        return write(action, false);
    }

    /** For changes that leave every device root but the hot device's as it was (allocation, insert). */
    private <T> T writeKeepingDeviceRoots(Action<T> action) throws IOException {
        return write(action, true);
    }

    private <T> T write(Action<T> action, boolean keepsDeviceRoots) throws IOException {
        lock.writeLock().lock();
        boolean rootsKept = false;
        try {
            if (!keepsDeviceRoots) {
                hotDevice = -1;
            }
            T result = unchecked(action);
            rootsKept = keepsDeviceRoots;
            return result;
        } catch (MetadataException e) {
            if (e.errno() == Errno.ENOSPC && !(e instanceof OutOfDataSpaceException)
                    && !e.getMessage().startsWith(OUT_OF_METADATA_SPACE)) {
                throw new MetadataException(Errno.ENOSPC, OUT_OF_METADATA_SPACE + " (" + metadataSm.nrBlocks()
                        + " blocks): " + e.getMessage(), e);
            }
            throw e;
        } finally {
            if (!rootsKept) {
                hotDevice = -1;
                generation++; // whatever the action changed, roots cached before or during it are stale
            }
            lock.writeLock().unlock();
        }
    }

    /** Space map reads fail as UncheckedIOException (their methods have no IOException); callers see the cause. */
    private static <T> T unchecked(Action<T> action) throws IOException {
        try {
            return action.run();
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    private void checkNew(long id) throws MetadataException {
        if (id < 0 || id > MAX_DEVICE_ID) {
            throw new MetadataException(Errno.EINVAL, "thin device id " + id + " is out of range (0.." + MAX_DEVICE_ID + ")");
        }
        if (details.containsKey(id)) {
            throw new MetadataException(Errno.EEXIST, "thin device " + id + " already exists");
        }
    }

    private void putDetails(long id, Details d) {
        details.put(id, d);
        changedDetails.add(id);
    }

    /** Abandons uncommitted changes. */
    @Override
    public void close() throws IOException {
        bm.close();
    }

}
