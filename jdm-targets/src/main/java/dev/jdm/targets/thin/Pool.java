package dev.jdm.targets.thin;

import dev.jdm.core.Sectors;
import dev.jdm.core.BlockIoException;
import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.spi.TargetException;
import dev.jdm.pdata.Block;
import dev.jdm.pdata.MetadataException;
import dev.jdm.pdata.SpaceMap;
import dev.jdm.targets.lib.Copier;
import dev.jdm.targets.lib.PeriodicWork;
import dev.jdm.targets.lib.Prison;
import dev.jdm.targets.thin.metadata.OutOfDataSpaceException;
import dev.jdm.targets.thin.metadata.ThinMetadata;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The pool object shared by a thin-pool table and the thin tables that name it (the kernel's struct pool):
 * the open metadata, the data device, the pool's mode and the commit policy. It outlives table reloads of
 * the pool device ({@link PoolRegistry} counts its users).
 *
 * <p>Locking. {@link #cells} orders I/O per virtual block. The transaction lock orders metadata changes
 * against commits: provisioning holds it shared from allocating a data block until the mapping is inserted
 * (so no commit ever records an allocated block without its mapping); commit, abort, resize and messages
 * hold it exclusively. A caller never waits for the exclusive side while holding the shared one.
 */
final class Pool {
    /** Seconds queued writes wait for data space before failing (the kernel's no_space_timeout; 0 = forever). */
    static final String NO_SPACE_TIMEOUT_PROPERTY = "jdm.thin.noSpaceTimeoutSeconds";
    private static final System.Logger LOG = System.getLogger(Pool.class.getName());
    private static final int CACHE_BLOCKS = 1024;
    private static final long COMMIT_PERIOD_MILLIS = 1000;
    private static final int FILL_CHUNK_BYTES = 1 << 20;
    private static final long FILL_BYTES_IN_FLIGHT = 64L << 20;
    private static final long METADATA_THRESHOLD_MAX = 1024;
    /** Superblock offset of the metadata space map root's first field, its number of blocks. */
    private static final int SUPERBLOCK_METADATA_NR_BLOCKS = 192;

    final BlockDevice poolDevice;
    final BlockDevice metadataDevice;
    final BlockDevice dataDevice;
    /** New data blocks that need no zeroing; forgotten whenever blocks could be reused or written unseen. */
    final KnownHoles holes;
    final int blockSectors;
    final long blockBytes;
    final Prison cells = new Prison();
    /** Fills new blocks a chunk at a time (blocks go up to 1 GiB), with a bounded number of chunks at once. */
    final Copier copier = new Copier(FILL_CHUNK_BYTES, FILL_BYTES_IN_FLIGHT, Copier.Completion.AS_DONE);
    final MappingCache mappings = new MappingCache();

    private final ThinMetadata md;
    private final ReentrantReadWriteLock transaction = new ReentrantReadWriteLock();
    /** Guards the mode and the flags below; {@link #modeChanged} wakes writers queued for data space. */
    private final ReentrantLock state = new ReentrantLock();
    private final Condition modeChanged = state.newCondition();
    private final Condition resumed = state.newCondition();
    private final Map<Long, Integer> openThins = new HashMap<>();
    /** The kernel's do_waker: commits every second while the pool runs. */
    private final PeriodicWork committer = new PeriodicWork("thin-pool-commit", COMMIT_PERIOD_MILLIS, this::periodicCommit);

    private volatile PoolMode mode = PoolMode.WRITE;
    private volatile PoolFeatures features = PoolFeatures.DEFAULT;
    private volatile boolean errorIfNoSpace;
    private volatile ThinPoolTarget bound;
    private volatile boolean suspended = true;
    private volatile boolean changed;
    /** Thin devices with changes since the last commit: their FLUSH and FUA commit (dm_thin_changed_this_transaction). */
    private final Set<Long> changedDevices = ConcurrentHashMap.newKeySet();
    private boolean closed;
    private long lowWaterBlocks;
    private boolean lowWaterTriggered;
    private boolean metadataLowTriggered;
    private long outOfDataSpaceSince;

    private Pool(BlockDevice poolDevice, BlockDevice metadataDevice, BlockDevice dataDevice, int blockSectors,
                 ThinMetadata md) {
        this.poolDevice = poolDevice;
        this.metadataDevice = metadataDevice;
        this.dataDevice = dataDevice;
        this.blockSectors = blockSectors;
        this.blockBytes = Sectors.toBytes(blockSectors);
        this.holes = new KnownHoles(dataDevice, blockBytes);
        this.md = md;
    }

    /**
     * Opens the pool's metadata, formatting it when its first block is all zeroes (the kernel formats a
     * zeroed superblock), except under read_only, which the kernel refuses to format with.
     */
    static Pool create(BlockDevice poolDevice, BlockDevice metadataDevice, BlockDevice dataDevice, int blockSectors,
                       long dataBlocks, boolean readOnly) throws TargetException {
        ThinMetadata md;
        try {
            ByteBuffer first = ByteBuffer.allocate(Block.SIZE);
            metadataDevice.read(0, first);
            if (isAllZeroes(first.array())) {
                if (readOnly) {
                    throw new TargetException(Errno.EPERM, "Error creating metadata object: the metadata device is "
                            + "not formatted and read_only forbids formatting it");
                }
                md = ThinMetadata.format(metadataDevice, blockSectors, dataBlocks, CACHE_BLOCKS);
            } else {
                md = open(metadataDevice, first);
                if (md.dataBlockSize() != blockSectors) {
                    int was = md.dataBlockSize();
                    md.close();
                    throw new TargetException("Error creating metadata object: changing the data block size (from "
                            + was + " to " + blockSectors + ") is not supported");
                }
            }
        } catch (TargetException e) {
            throw e;
        } catch (IOException e) {
            throw new TargetException(BlockIoException.errnoOf(e), "Error creating metadata object: " + e.getMessage(), e);
        }
        return new Pool(poolDevice, metadataDevice, dataDevice, blockSectors, md);
    }

    /**
     * Opens existing metadata. A device shorter than its metadata space map says is reported in the
     * kernel's words (its pool_preresume refuses it: "metadata device (N blocks) too small: expected M").
     */
    private static ThinMetadata open(BlockDevice metadataDevice, ByteBuffer superblock) throws IOException {
        try {
            return ThinMetadata.open(metadataDevice, CACHE_BLOCKS);
        } catch (MetadataException e) {
            long expected = superblock.order(ByteOrder.LITTLE_ENDIAN).getLong(SUPERBLOCK_METADATA_NR_BLOCKS);
            long blocks = metadataDevice.size() / Block.SIZE;
            if (blocks < expected) {
                throw new MetadataException(Errno.EINVAL, "metadata device (" + blocks + " blocks) too small: expected "
                        + expected, e);
            }
            throw e;
        }
    }

    private static boolean isAllZeroes(byte[] b) {
        for (byte x : b) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }

    // ---- state ----------------------------------------------------------------------------------

    PoolMode mode() {
        return mode;
    }

    PoolFeatures features() {
        return features;
    }

    boolean suspended() {
        return suspended;
    }

    boolean changed(long device) {
        return changedDevices.contains(device);
    }

    /** A thin device's mapping changed; called with the transaction held shared. */
    void markChanged(long device) {
        changedDevices.add(device);
        changed = true;
    }

    private void clearChanged() {
        changedDevices.clear();
        changed = false;
    }

    ThinMetadata metadata() {
        return md;
    }

    /** Holds the transaction open (shared) while a change that must not be split by a commit runs. */
    Lock sharedTransaction() {
        return transaction.readLock();
    }

    /**
     * Switches mode as the kernel's set_pool_mode: never to write while the metadata needs checking, never
     * out of fail; leaving write mode raises an event (dmeventd watches for it).
     */
    void setMode(PoolMode requested) {
        PoolMode old;
        PoolMode next = requested;
        state.lock();
        try {
            old = mode;
            if (next == PoolMode.WRITE && md.needsCheck()) {
                LOG.log(Level.ERROR, "{0}: unable to switch pool to write mode until repaired.", name());
                next = old != PoolMode.WRITE ? old : PoolMode.READ_ONLY;
            }
            if (old == PoolMode.FAIL) {
                next = PoolMode.FAIL;
            }
            if (next == PoolMode.OUT_OF_DATA_SPACE && old != PoolMode.OUT_OF_DATA_SPACE) {
                outOfDataSpaceSince = System.nanoTime();
            }
            if (next == PoolMode.WRITE) {
                ThinPoolTarget t = bound;
                errorIfNoSpace = t != null ? t.requested().errorIfNoSpace() : features.errorIfNoSpace();
            }
            mode = next;
            ThinPoolTarget t = bound;
            if (t != null) {
                t.adjustedMode = next;
            }
            modeChanged.signalAll();
        } finally {
            state.unlock();
        }
        if (old != next) {
            notifyModeChange(next);
        }
    }

    private void notifyModeChange(PoolMode next) {
        String extra = next != PoolMode.OUT_OF_DATA_SPACE ? "" : errorIfNoSpace ? " (error IO)" : " (queue IO)";
        LOG.log(Level.INFO, "{0}: switching pool to {1}{2} mode", name(), next.description(), extra);
        raiseEvent();
    }

    private void raiseEvent() {
        ThinPoolTarget t = bound;
        if (t != null) {
            t.raiseEvent();
        }
    }

    private String name() {
        ThinPoolTarget t = bound;
        return t != null ? t.deviceName() : poolDevice.id();
    }

    // ---- commit and failure -------------------------------------------------------------------------

    /** Flushes the data device, then commits the metadata (the kernel's commit with its pre-commit flush). */
    void commit() throws IOException {
        transaction.writeLock().lock();
        try {
            commitLocked();
        } finally {
            transaction.writeLock().unlock();
        }
        afterCommit();
    }

    private void commitLocked() throws IOException {
        if (mode.readOnly()) {
            throw new BlockIoException(Errno.EINVAL, name() + ": the pool is read-only, nothing can be committed");
        }
        try {
            dataDevice.flush();
            md.commit();
            clearChanged();
        } catch (IOException e) {
            throw metadataOperationFailedLocked("dm_pool_commit_metadata", e);
        } finally {
            holes.forget(); // blocks freed in the transaction can be allocated again
        }
    }

    /** What the kernel checks after every commit: metadata space left, and data space back. */
    private void afterCommit() {
        long freeMetadata = freeMetadataBlocks();
        if (freeMetadata == 0 && !mode.readOnly()) {
            LOG.log(Level.ERROR, "{0}: No free metadata blocks", name());
            setMode(PoolMode.OUT_OF_METADATA_SPACE);
        }
        // The kernel's metadata space map calls back once when its free count crosses the threshold.
        boolean low = md.metadataLowWater();
        boolean crossed;
        state.lock();
        try {
            crossed = low && !metadataLowTriggered;
            metadataLowTriggered = low;
        } finally {
            state.unlock();
        }
        if (crossed) {
            LOG.log(Level.WARNING, "{0}: reached low water mark for metadata device: sending event.", name());
            raiseEvent();
        }
        if (mode == PoolMode.OUT_OF_DATA_SPACE && md.dataSpaceMap().nrFree() > 0) {
            setMode(PoolMode.WRITE);
        }
    }

    /** A thin device's FLUSH: commits if the device changed since the last commit, else flushes the data. */
    void commitIfChanged(long device) throws IOException {
        if (changed(device)) {
            commit();
        } else {
            dataDevice.flush();
        }
    }

    /**
     * A metadata operation failed: the kernel aborts the transaction, sets needs_check and goes read-only.
     * Running out of metadata space aborts too but leaves needs_check alone and goes to
     * out-of-metadata-space, from which growing the metadata device recovers. Returns the error to throw.
     * The caller must not hold the transaction lock.
     */
    BlockIoException metadataOperationFailed(String op, IOException cause) {
        transaction.writeLock().lock();
        try {
            return metadataOperationFailedLocked(op, cause);
        } finally {
            transaction.writeLock().unlock();
        }
    }

    private BlockIoException metadataOperationFailedLocked(String op, IOException cause) {
        LOG.log(Level.ERROR, "{0}: metadata operation ''{1}'' failed: {2}", name(), op, cause.getMessage());
        boolean outOfSpace = BlockIoException.errnoOf(cause) == Errno.ENOSPC && !(cause instanceof OutOfDataSpaceException);
        LOG.log(Level.ERROR, "{0}: aborting current metadata transaction", name());
        holes.forget(); // blocks written in the aborted transaction are free again
        try {
            md.abort();
            mappings.newGeneration();
            clearChanged();
            if (!outOfSpace) {
                md.setNeedsCheck();
            }
        } catch (IOException e) {
            LOG.log(Level.ERROR, "{0}: failed to abort metadata transaction: {1}", name(), e.getMessage());
            setMode(PoolMode.FAIL);
        }
        setMode(outOfSpace ? PoolMode.OUT_OF_METADATA_SPACE : PoolMode.READ_ONLY);
        return new BlockIoException(Errno.EIO, name() + ": metadata operation '" + op + "' failed: " + cause.getMessage(), cause);
    }

    // ---- data space ---------------------------------------------------------------------------------

    /**
     * A free data block with one reference (the kernel's alloc_data_block), called with the transaction
     * held shared. Sends the low-water event first; when nothing can be allocated it throws
     * {@link OutOfDataSpaceException}, after which the caller lets go of its locks and calls
     * {@link #resolveNoDataSpace()}.
     */
    long allocateDataBlock() throws IOException {
        long free = md.dataSpaceMap().nrFree();
        checkLowWater(free);
        if (free == 0) {
            throw new OutOfDataSpaceException("no free data block in the pool");
        }
        return md.allocateDataBlock();
    }

    private void checkLowWater(long free) {
        boolean send;
        state.lock();
        try {
            send = Long.compareUnsigned(free, lowWaterBlocks) <= 0 && !lowWaterTriggered;
            if (send) {
                lowWaterTriggered = true;
            }
        } finally {
            state.unlock();
        }
        if (send) {
            LOG.log(Level.WARNING, "{0}: reached low water mark for data device: sending event.", name());
            raiseEvent();
        }
    }

    /**
     * The kernel's answer to a failed allocation: commit (blocks freed in this transaction become free),
     * and if that leaves none, switch to out-of-data-space.
     */
    void resolveNoDataSpace() throws IOException {
        transaction.writeLock().lock();
        try {
            if (mode != PoolMode.WRITE) {
                return;
            }
            commitLocked();
            if (md.dataSpaceMap().nrFree() == 0) {
                setMode(PoolMode.OUT_OF_DATA_SPACE);
            }
        } finally {
            transaction.writeLock().unlock();
        }
        afterCommit();
    }

    /**
     * A write that needs a new block while the pool cannot provide one (the kernel's
     * handle_unserviceable_bio): out of data space it waits for space (queue_if_no_space) until the
     * no-space timeout, or fails with ENOSPC (error_if_no_space); read-only modes fail with EIO.
     * Returns when the caller should try again.
     */
    void awaitProvisioning() throws BlockIoException {
        state.lock();
        try {
            while (true) {
                PoolMode m = mode;
                if (closed) {
                    throw new BlockIoException(Errno.EIO, name() + ": the pool is closed");
                }
                if (m == PoolMode.WRITE) {
                    return;
                }
                if (m != PoolMode.OUT_OF_DATA_SPACE) {
                    throw new BlockIoException(Errno.EIO, name() + ": the pool is " + m.description()
                            + ", no block can be provisioned");
                }
                if (errorIfNoSpace) {
                    throw noSpace();
                }
                long timeout = noSpaceTimeoutNanos();
                if (timeout == 0) {
                    modeChanged.awaitUninterruptibly();
                    continue;
                }
                long left = outOfDataSpaceSince + timeout - System.nanoTime();
                if (left <= 0) {
                    noSpaceTimeoutExpired();
                    throw noSpace();
                }
                modeChanged.awaitNanos(left);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BlockIoException(Errno.EIO, "interrupted while waiting for data space");
        } finally {
            state.unlock();
        }
    }

    private BlockIoException noSpace() {
        return new BlockIoException(Errno.ENOSPC, name() + ": the pool is out of data space");
    }

    /** The kernel's do_no_space_timeout: queued I/O fails, and so does later I/O, until space returns. Holds state. */
    private void noSpaceTimeoutExpired() {
        if (mode == PoolMode.OUT_OF_DATA_SPACE && !errorIfNoSpace) {
            errorIfNoSpace = true;
            modeChanged.signalAll();
            LOG.log(Level.INFO, "{0}: switching pool to out-of-data-space (error IO) mode", name());
            raiseEvent();
        }
    }

    private static long noSpaceTimeoutNanos() {
        return TimeUnit.SECONDS.toNanos(Long.getLong(NO_SPACE_TIMEOUT_PROPERTY, 60));
    }

    // ---- thin devices ---------------------------------------------------------------------------------

    /** Counts a thin table using the device, so deleting it is refused (dm_pool_open_thin_device). */
    void openThin(long id) throws TargetException {
        transaction.readLock().lock();
        try {
            if (!md.devices().containsKey(id)) {
                throw new TargetException(Errno.ENODATA, "Couldn't open thin internal device: thin device " + id
                        + " does not exist in the pool");
            }
            synchronized (openThins) {
                openThins.merge(id, 1, Integer::sum);
            }
        } finally {
            transaction.readLock().unlock();
        }
    }

    void closeThin(long id) {
        synchronized (openThins) {
            openThins.computeIfPresent(id, (k, n) -> n == 1 ? null : n - 1);
        }
    }

    private boolean isOpen(long id) {
        synchronized (openThins) {
            return openThins.containsKey(id);
        }
    }

    // ---- messages ---------------------------------------------------------------------------------------

    /** The kernel refuses every pool message in the read-only modes and in fail mode. */
    void checkMessagesAllowed() throws DmException {
        if (mode.readOnly()) {
            throw new DmException(Errno.EOPNOTSUPP, name()
                    + ": unable to service pool target messages in READ_ONLY or FAIL mode");
        }
    }

    /** A change a message makes to the metadata. */
    @FunctionalInterface
    interface MetadataChange {
        void apply(ThinMetadata md) throws IOException;
    }

    /**
     * Runs a message's change with no provisioning in flight, then commits it (every successful pool message
     * is committed). Refusals (exists, missing, busy, mismatch) leave the transaction as it was and fail with
     * {@code failure} and the reason; any other failure is a metadata failure, handled as the kernel does.
     */
    void changeMetadata(String failure, boolean commitFirst, MetadataChange change) throws DmException {
        transaction.writeLock().lock();
        try {
            if (commitFirst) {
                commitLocked();
            }
            try {
                change.apply(md);
                // Devices came or went (an id may come back empty), and snapshot times moved.
                mappings.newGeneration();
            } catch (MetadataException e) {
                Errno errno = e.errno() == Errno.ENOENT ? Errno.ENODATA : e.errno();
                if (errno == Errno.ENOSPC || errno == Errno.EIO || errno == Errno.EILSEQ) {
                    throw new DmException(errno, metadataOperationFailedLocked(failure, e).getMessage(), e);
                }
                throw new DmException(errno, failure + ": " + e.getMessage(), e);
            } catch (IOException e) {
                throw new DmException(Errno.EIO, metadataOperationFailedLocked(failure, e).getMessage(), e);
            }
            changed = true;
            commitLocked();
        } catch (DmException e) {
            throw e;
        } catch (IOException e) {
            throw new DmException(BlockIoException.errnoOf(e), e.getMessage(), e);
        } finally {
            transaction.writeLock().unlock();
        }
        afterCommit();
    }

    /** Deleting a device a thin table uses is refused (the kernel's __delete_device: EBUSY). */
    void checkNotOpen(long id) throws MetadataException {
        if (isOpen(id)) {
            throw new MetadataException(Errno.EBUSY, "the device is open");
        }
    }

    // ---- status --------------------------------------------------------------------------------------

    /** The kernel's pool_status INFO line, trailing space included. */
    String status() {
        if (mode == PoolMode.FAIL) {
            return "Fail";
        }
        if (!suspended && !mode.readOnly()) {
            try {
                commit();
            } catch (IOException e) {
                LOG.log(Level.WARNING, "{0}: commit before status failed: {1}", name(), e.getMessage());
            }
        }
        transaction.readLock().lock();
        try {
            SpaceMap data = md.dataSpaceMap();
            long metadataBlocks = md.metadataSpaceMap().nrBlocks();
            StringBuilder sb = new StringBuilder();
            sb.append(Long.toUnsignedString(md.transactionId())).append(' ')
                    .append(metadataBlocks - freeMetadataBlocks()).append('/').append(metadataBlocks).append(' ')
                    .append(data.nrBlocks() - data.nrFree()).append('/').append(data.nrBlocks()).append(' ');
            sb.append(md.metadataSnapshot() != 0 ? Long.toString(md.metadataSnapshot()) : "-").append(' ');
            PoolMode m = mode;
            sb.append(m == PoolMode.OUT_OF_DATA_SPACE ? "out_of_data_space" : m.readOnly() ? "ro" : "rw").append(' ');
            PoolFeatures f = features;
            sb.append(!f.discardEnabled() ? "ignore_discard" : f.discardPassdown() ? "discard_passdown"
                    : "no_discard_passdown").append(' ');
            sb.append(errorIfNoSpace ? "error_if_no_space" : "queue_if_no_space").append(' ');
            sb.append(md.needsCheck() ? "needs_check" : "-").append(' ');
            sb.append(metadataThreshold()).append(' ');
            return sb.toString();
        } finally {
            transaction.readLock().unlock();
        }
    }

    /** Free metadata blocks less the kernel's reserve (dm_pool_get_free_metadata_block_count). */
    private long freeMetadataBlocks() {
        return md.freeMetadataBlocks();
    }

    /** The metadata low-water mark: min(1024, a quarter of the metadata device's blocks) (calc_metadata_threshold). */
    long metadataThreshold() {
        return Math.min(METADATA_THRESHOLD_MAX, metadataDeviceBlocks() / 4);
    }

    private long metadataDeviceBlocks() {
        return Math.min(metadataDevice.size() / Block.SIZE, SpaceMap.METADATA_MAX_BLOCKS);
    }

    // ---- the bound pool target: suspend, resume, resize ----------------------------------------------

    /**
     * Takes the pool over for a pool table about to go live (bind_control_target), then grows the data and
     * metadata space maps to the table and device sizes (maybe_resize_data_dev, maybe_resize_metadata_dev).
     */
    void preresume(ThinPoolTarget target) throws DmException {
        PoolMode wanted = target.adjustedMode;
        state.lock();
        try {
            target.adjustedMode = mode;
            bound = target;
            features = target.adjusted();
            errorIfNoSpace = target.requested().errorIfNoSpace();
            lowWaterBlocks = target.lowWaterBlocks();
        } finally {
            state.unlock();
        }
        setMode(wanted);
        boolean grown;
        transaction.writeLock().lock();
        try {
            grown = resizeData(target.lengthSectors() / blockSectors) | resizeMetadata();
            if (grown) {
                try {
                    commitLocked();
                } catch (IOException e) {
                    LOG.log(Level.ERROR, "{0}: commit after resize failed: {1}", name(), e.getMessage());
                }
            }
        } catch (DmException e) {
            if (mode == PoolMode.FAIL) {
                return;
            }
            throw e;
        } finally {
            transaction.writeLock().unlock();
        }
        if (grown) {
            afterCommit();
        }
    }

    private boolean resizeData(long blocks) throws DmException {
        long now = md.dataSpaceMap().nrBlocks();
        if (blocks < now) {
            throw new DmException(Errno.EINVAL, name() + ": pool target (" + blocks + " blocks) too small: expected " + now);
        }
        if (blocks == now) {
            return false;
        }
        if (md.needsCheck()) {
            LOG.log(Level.ERROR, "{0}: unable to grow the data device until repaired.", name());
            return false;
        }
        LOG.log(Level.INFO, "{0}: growing the data device from {1} to {2} blocks", name(), now, blocks);
        holes.forget();
        try {
            md.resizeData(blocks);
        } catch (IOException e) {
            throw new DmException(Errno.EIO, metadataOperationFailedLocked("dm_pool_resize_data_dev", e).getMessage(), e);
        }
        return true;
    }

    private boolean resizeMetadata() throws DmException {
        long blocks = metadataDeviceBlocks();
        long now = md.metadataSpaceMap().nrBlocks();
        if (blocks < now) {
            throw new DmException(Errno.EINVAL, name() + ": metadata device (" + blocks + " blocks) too small: expected " + now);
        }
        if (blocks == now) {
            return false;
        }
        if (md.needsCheck()) {
            LOG.log(Level.ERROR, "{0}: unable to grow the metadata device until repaired.", name());
            return false;
        }
        LOG.log(Level.INFO, "{0}: growing the metadata device from {1} to {2} blocks", name(), now, blocks);
        if (mode == PoolMode.OUT_OF_METADATA_SPACE) {
            setMode(PoolMode.WRITE);
        }
        try {
            md.resizeMetadata(blocks);
        } catch (IOException e) {
            throw new DmException(Errno.EIO, metadataOperationFailedLocked("dm_pool_resize_metadata_dev", e).getMessage(), e);
        }
        return true;
    }

    /** I/O flows again: re-arm the low-water event, wake queued writers, commit every second. */
    void resume() {
        state.lock();
        try {
            lowWaterTriggered = false;
            suspended = false;
            modeChanged.signalAll();
            resumed.signalAll();
            committer.start();
        } finally {
            state.unlock();
        }
    }

    void presuspend() {
        suspended = true;
    }

    /**
     * Holds a thin device's I/O while the pool is suspended, as the kernel suspends a pool's active thin
     * devices with it (pool_presuspend); called before the I/O takes any lock.
     */
    void awaitResumed() throws BlockIoException {
        if (!suspended) {
            return;
        }
        state.lock();
        try {
            while (suspended && !closed) {
                resumed.awaitUninterruptibly();
            }
            if (closed) {
                throw new BlockIoException(Errno.EIO, name() + ": the pool is closed");
            }
        } finally {
            state.unlock();
        }
    }

    /** The kernel stops its periodic work and commits once the pool is suspended. */
    void postsuspend() {
        committer.stop();
        if (changed && !mode.readOnly()) {
            try {
                commit();
            } catch (IOException e) {
                LOG.log(Level.ERROR, "{0}: commit on suspend failed: {1}", name(), e.getMessage());
            }
        }
    }

    private void periodicCommit() {
        state.lock();
        try {
            if (mode == PoolMode.OUT_OF_DATA_SPACE && !errorIfNoSpace) {
                long timeout = noSpaceTimeoutNanos();
                if (timeout > 0 && System.nanoTime() - outOfDataSpaceSince >= timeout) {
                    noSpaceTimeoutExpired();
                }
            }
        } finally {
            state.unlock();
        }
        if (changed && !mode.readOnly()) {
            try {
                commit();
            } catch (IOException e) {
                LOG.log(Level.ERROR, "{0}: periodic commit failed: {1}", name(), e.getMessage());
            }
        }
    }

    /** Lets go of a pool target that was bound (unbind_control_target). */
    void unbind(ThinPoolTarget target) {
        if (bound == target) {
            bound = null;
        }
    }

    /**
     * The last user is gone: writers still queued for data space fail, what is pending is committed
     * (dm_pool_metadata_close commits too) and the metadata closes.
     */
    void destroy() {
        state.lock();
        try {
            closed = true;
            modeChanged.signalAll();
            resumed.signalAll();
        } finally {
            state.unlock();
        }
        committer.close();
        if (changed && !mode.readOnly()) {
            try {
                commit();
            } catch (IOException e) {
                LOG.log(Level.ERROR, "{0}: commit on close failed: {1}", name(), e.getMessage());
            }
        }
        try {
            md.close();
        } catch (IOException e) {
            LOG.log(Level.WARNING, "{0}: closing the metadata failed: {1}", name(), e.getMessage());
        }
    }
}
