package dev.jdm.targets.snapshot;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.IoSplit;
import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.Target;
import dev.jdm.core.spi.TargetContext;
import dev.jdm.core.spi.TargetException;
import dev.jdm.core.spi.TargetType;
import dev.jdm.targets.lib.Copier;
import dev.jdm.targets.snapshot.store.ExceptionStore;
import dev.jdm.targets.snapshot.store.ExceptionStores;
import dev.jdm.targets.snapshot.store.PersistentStore;
import dev.jdm.targets.snapshot.store.StoreException;
import dev.jdm.targets.snapshot.store.StoreFullException;
import dev.jdm.targets.snapshot.store.TransientStore;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.locks.StampedLock;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * {@code snapshot <origin> <COW> <P|PO|N> <chunk> [<#features> <feature>*]} and {@code snapshot-merge} with the
 * same arguments (the kernel's dm-snap.c): a point-in-time view of the origin. A chunk the origin has overwritten
 * since (or the snapshot has written) lives on the COW device, found through the exception map; every other
 * chunk is read from the origin.
 *
 * <p>Memory: the exception map ({@link ChunkMap}) costs 21 to 43 bytes per exception (32 on average), so a COW of
 * N chunks bounds it at 43 N bytes; nothing else grows with the snapshot.
 *
 * <p>Life, as the kernel's: the table registers under its origin when built, reads its store then unless a live
 * snapshot over the same COW will hand its store over, and takes copies from origin writes once resumed. The
 * handover happens when this table resumes, or, for a reload of the same device (whose old table jdm closes
 * before the new one resumes), when the old table is closed.
 *
 * <p>{@code snapshot-merge} sits where snapshot-origin was, on the origin's device, and copies the exceptions
 * back into the origin in the background while its device shows the merged view ({@link Merge}).
 */
public final class SnapshotTarget implements Target {
    private static final Logger LOG = Logger.getLogger(SnapshotTarget.class.getName());
    private static final Args.Range FEATURE_COUNT = new Args.Range(0, 2, "Invalid number of feature arguments");

    /** {@code snapshot}. */
    public static final class Type implements TargetType {
        @Override
        public String name() {
            return "snapshot";
        }

        @Override
        public Version version() {
            return new Version(1, 16, 0);
        }

        @Override
        public Target construct(TargetContext ctx, Args args) throws TargetException {
            return SnapshotTarget.construct(ctx, args, false);
        }
    }

    /** {@code snapshot-merge}: persistent stores only. */
    public static final class MergeType implements TargetType {
        @Override
        public String name() {
            return "snapshot-merge";
        }

        @Override
        public Version version() {
            return new Version(1, 5, 0);
        }

        @Override
        public Target construct(TargetContext ctx, Args args) throws TargetException {
            return SnapshotTarget.construct(ctx, args, true);
        }
    }

    private final TargetContext ctx;
    private final BlockDevice mappedDevice;
    private final Origins origins;
    private final Origin origin;
    private final BlockDevice cow;
    private final long lengthBytes;
    private final boolean merging;
    private final boolean discardZeroesCow;
    private final boolean discardPassdownOrigin;
    /** The store this table built from its line. */
    private final ExceptionStore ownStore;
    /** The store this table closes: its own, or after a handover the one it swapped for (the kernel swaps them). */
    private ExceptionStore storeToClose; // guarded by the origin's change gate
    /** Null while a handover is pending. */
    private volatile Exceptions exceptions;
    private volatile boolean active;
    private final Merge merge;

    private SnapshotTarget(TargetContext ctx, Origins origins, Origin origin, BlockDevice cow, ExceptionStore store,
                           boolean merging, boolean discardZeroesCow, boolean discardPassdownOrigin) {
        this.ctx = ctx;
        this.mappedDevice = mappedDeviceOf(ctx);
        this.origins = origins;
        this.origin = origin;
        this.cow = cow;
        this.ownStore = store;
        this.storeToClose = store;
        this.lengthBytes = ctx.lengthBytes();
        this.merging = merging;
        this.discardZeroesCow = discardZeroesCow;
        this.discardPassdownOrigin = discardPassdownOrigin;
        this.merge = merging ? new Merge(this) : null;
    }

    private static BlockDevice mappedDeviceOf(TargetContext ctx) {
        try {
            return ctx.mappedDevice();
        } catch (UnsupportedOperationException e) {
            return null;
        }
    }

    private static Target construct(TargetContext ctx, Args args, boolean merging) throws TargetException {
        if (args.count() < 4) {
            throw new TargetException("requires 4 or more arguments");
        }
        Args.Arg originArg = args.next("origin device");
        Args.Arg cowArg = args.next("COW device");
        Args storeArgs = args.take(2);
        boolean zeroesCow = false;
        boolean passdown = false;
        Args features = args.optionalGroup(FEATURE_COUNT);
        while (features.hasMore()) {
            switch (features.shiftWord("feature")) {
                case "discard_zeroes_cow" -> zeroesCow = true;
                case "discard_passdown_origin" -> passdown = true;
                default -> throw features.error("Unrecognised feature requested");
            }
        }
        if (passdown && !zeroesCow) {
            throw new TargetException("discard_passdown_origin feature depends on discard_zeroes_cow");
        }
        args.ignoreRest(); // the kernel never looks past the feature group
        BlockDevice originDevice = open(ctx, originArg, ctx.length(), "Cannot get origin device");
        if (cowArg.text().equals(originArg.text())) {
            throw new TargetException("COW device cannot be the same as origin device");
        }
        BlockDevice cowDevice = open(ctx, cowArg, 0, "Cannot get COW device");
        if (cowDevice == originDevice) {
            throw new TargetException("COW device cannot be the same as origin device");
        }
        ExceptionStore store;
        try {
            store = ExceptionStores.create(storeArgs, originDevice, cowDevice);
        } catch (TargetException e) {
            throw new TargetException(e.errno(), "Couldn't create exception store: " + e.getMessage(), e);
        }
        if (merging && store instanceof TransientStore) {
            store.close();
            throw new TargetException("Snapshot exception store does not support snapshot-merge.");
        }
        Origins origins = Origins.of(ctx);
        Origin origin = origins.acquire(originDevice);
        SnapshotTarget s = new SnapshotTarget(ctx, origins, origin, cowDevice, store, merging, zeroesCow, passdown);
        try {
            s.registerAndLoad();
        } catch (TargetException | RuntimeException e) {
            origins.release(origin);
            store.close();
            throw e;
        }
        return s;
    }

    private static BlockDevice open(TargetContext ctx, Args.Arg arg, long lengthSectors, String kernelText)
            throws TargetException {
        try {
            return ctx.device(arg, 0, lengthSectors);
        } catch (TargetException e) {
            throw new TargetException(e.errno(), kernelText + ": " + e.getMessage(), e);
        }
    }

    // ---- registration and handover (register_snapshot, __find_snapshots_sharing_cow) ----------------------

    /** The snapshots over the same origin and COW device, other than this one. */
    private record Sharing(SnapshotTarget source, SnapshotTarget destination, int count, SnapshotTarget merging) {
    }

    private Sharing sharing() {
        SnapshotTarget source = null;
        SnapshotTarget destination = null;
        SnapshotTarget mergingOne = null;
        int count = 0;
        for (SnapshotTarget s : origin.snapshots()) {
            if (s.merging) {
                mergingOne = s;
            }
            if (s == this || s.cow != cow) {
                continue;
            }
            if (s.active) {
                source = s;
            } else {
                destination = s;
            }
            count++;
        }
        return new Sharing(source, destination, count, mergingOne);
    }

    private void registerAndLoad() throws TargetException {
        boolean handover;
        origin.changeGate().lock();
        try {
            Sharing sharing = sharing();
            if (sharing.count >= 2 || sharing.destination != null) {
                throw new TargetException("Snapshot cow pairing for exception table handover failed");
            }
            handover = sharing.source != null;
            if (handover && merging) {
                if (sharing.merging != null) {
                    throw new TargetException("A snapshot is already merging.");
                }
                if (sharing.source.exceptions == null || sharing.source.exceptions.store instanceof TransientStore) {
                    throw new TargetException("Snapshot exception store does not support snapshot-merge.");
                }
            }
            origin.register(this);
        } finally {
            origin.changeGate().unlock();
        }
        if (handover) {
            return; // the store is read by the live snapshot already; it comes over at resume
        }
        try {
            exceptions = load(ownStore);
        } catch (TargetException e) {
            unregister();
            throw e;
        }
    }

    private Exceptions load(ExceptionStore store) throws TargetException {
        ChunkMap map = new ChunkMap();
        ExceptionStore.LoadResult result;
        try {
            result = store.load((oldChunk, newChunk) -> {
                long earlier = map.putIfAbsent(oldChunk, newChunk);
                if (earlier >= 0) {
                    throw new StoreException("origin chunk " + oldChunk + " has two exceptions, in COW chunks "
                            + earlier + " and " + newChunk);
                }
            });
        } catch (IOException e) {
            throw new TargetException(Errno.EINVAL, "Failed to read snapshot metadata: " + e.getMessage(), e);
        }
        Exceptions ex = new Exceptions(store, cow, map, (long) store.chunkSectors() << 9);
        if (result == ExceptionStore.LoadResult.INVALID) {
            LOG.warning(() -> ctx.deviceName() + ": Snapshot is marked invalid.");
            ex.valid = false;
        }
        return ex;
    }

    private void unregister() {
        origin.changeGate().lock();
        try {
            origin.unregister(this);
        } finally {
            origin.changeGate().unlock();
        }
    }

    @Override
    public void preresume() throws DmException {
        Sharing sharing;
        origin.changeGate().lock();
        try {
            sharing = sharing();
        } finally {
            origin.changeGate().unlock();
        }
        if (active && sharing.destination != null) {
            throw new DmException(Errno.EINVAL, "Unable to resume snapshot source until handover completes.");
        }
        if (exceptions == null && sharing.source == null) {
            throw new DmException(Errno.EINVAL, "Snapshot cow pairing for exception table handover failed:"
                    + " the snapshot that held the COW device is gone");
        }
    }

    @Override
    public void resume() {
        origin.changeGate().lock();
        try {
            if (exceptions == null) {
                Sharing sharing = sharing();
                if (sharing.source != null) {
                    takeOver(sharing.source);
                }
            }
            active = true;
        } finally {
            origin.changeGate().unlock();
        }
        if (merge != null) {
            merge.start();
        }
    }

    /** __handover_exceptions, under the change gate: the source keeps an invalid shell around its unused store. */
    private void takeOver(SnapshotTarget source) {
        exceptions = source.exceptions;
        source.exceptions = Exceptions.invalid(ownStore, cow);
        ExceptionStore mine = storeToClose;
        storeToClose = source.storeToClose;
        source.storeToClose = mine;
        active = true;
    }

    @Override
    public void presuspend(boolean noflush) {
        if (merge != null) {
            merge.stop();
        }
    }

    @Override
    public void close() {
        if (merge != null) {
            merge.stop();
        }
        origin.changeGate().lock();
        try {
            Sharing sharing = sharing();
            if (active && sharing.destination != null && exceptions != null && exceptions.valid) {
                if (mappedDevice != null && sharing.destination.mappedDevice == mappedDevice) {
                    // A reload of this device: the new table carries the snapshot on from here.
                    sharing.destination.takeOver(this);
                } else {
                    LOG.severe(() -> ctx.deviceName() + ": Cancelling snapshot handover.");
                    sharing.destination.cancelHandover();
                }
            }
            origin.unregister(this);
        } finally {
            origin.changeGate().unlock();
        }
        origins.release(origin);
        storeToClose.close();
    }

    private void cancelHandover() {
        exceptions = Exceptions.invalid(ownStore, cow);
    }

    // ---- what the origin asks ------------------------------------------------------------------------------

    long lengthBytes() {
        return lengthBytes;
    }

    /** The exceptions origin writes must copy into, or null (inactive, invalid, merging, handover pending). */
    Exceptions exceptionsTakingCopies() {
        Exceptions ex = exceptions;
        return active && !merging && ex != null && ex.valid ? ex : null;
    }

    /** __invalidate_snapshot: the store's header says invalid, all I/O fails, an event tells the world. */
    void invalidate(Exceptions ex, IOException why) {
        synchronized (ex) {
            if (!ex.valid) {
                return;
            }
            ex.valid = false;
        }
        if (why instanceof StoreFullException) {
            LOG.severe(() -> ctx.deviceName() + ": Invalidating snapshot: Unable to allocate exception.");
        } else {
            LOG.log(Level.SEVERE, ctx.deviceName() + ": Invalidating snapshot: Error reading/writing.", why);
        }
        try {
            ex.store.invalidate();
        } catch (IOException e) {
            LOG.log(Level.SEVERE, ctx.deviceName() + ": could not mark the snapshot store invalid", e);
        }
        ctx.raiseEvent();
    }

    /** A copy into a chunk allocated for {@code ex} failed: the chunk is given up and the snapshot invalidated. */
    void abandon(Exceptions ex, long newChunk, IOException why) {
        ex.store.abandon(newChunk);
        invalidate(ex, why);
    }

    /** pending_complete: the exception is recorded, then reads of the chunk go to the COW. */
    void commit(Exceptions ex, long chunk, long newChunk) {
        try {
            ex.store.commit(chunk, newChunk);
            ex.map.putIfAbsent(chunk, newChunk);
        } catch (IOException e) {
            invalidate(ex, e);
        }
    }

    // ---- I/O ---------------------------------------------------------------------------------------------

    private BlockIoException invalidError() {
        return new BlockIoException(Errno.EIO, ctx.deviceName() + ": snapshot is invalid");
    }

    private BlockIoException overflowError() {
        return new BlockIoException(Errno.EIO, ctx.deviceName() + ": snapshot overflowed");
    }

    /** The exceptions of a snapshot that may do I/O: EIO once it is invalid (the kernel's DM_MAPIO_KILL). */
    private Exceptions usable() throws BlockIoException {
        Exceptions ex = exceptions;
        if (ex == null || !ex.valid) {
            throw invalidError();
        }
        return ex;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        Exceptions ex = merging ? exceptions : usable();
        if (ex == null) {
            throw invalidError();
        }
        if (ex.chunks.lengthAt(offset, dst.remaining()) == dst.remaining()) {
            readChunk(ex, offset, dst); // one chunk: no split loop (see IoSplit)
        } else {
            IoSplit.forEach(offset, dst, ex.chunks, (v, at, piece) -> readChunk(ex, at, piece));
        }
    }

    /**
     * The kernel's track_chunk, optimistically: the read runs without taking the cell, and is kept only if no
     * copy-out or merge took the cell exclusively meanwhile (an origin write to a chunk this snapshot has not
     * copied always does, before it writes); otherwise it runs again holding the cell shared.
     */
    private void readChunk(Exceptions ex, long offset, ByteBuffer piece) throws IOException {
        long chunk = ex.chunkOf(offset);
        StampedLock cell = ex.cells.cell(0, chunk);
        long stamp = cell.tryOptimisticRead();
        if (stamp != 0) {
            int start = piece.position();
            try {
                readMapped(ex, chunk, offset, piece);
                if (cell.validate(stamp)) {
                    return;
                }
            } catch (IOException e) {
                if (cell.validate(stamp)) {
                    throw e;
                }
            }
            piece.position(start);
        }
        stamp = cell.readLock();
        try {
            readMapped(ex, chunk, offset, piece);
        } finally {
            cell.unlockRead(stamp);
        }
    }

    private void readMapped(Exceptions ex, long chunk, long offset, ByteBuffer piece) throws IOException {
        if (!merging && !ex.valid) {
            throw invalidError();
        }
        long newChunk = ex.valid ? ex.map.get(chunk) : -1;
        if (newChunk >= 0) {
            ex.cow.read(ex.cowOffset(newChunk, offset), piece);
        } else {
            origin.device.read(offset, piece);
        }
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        if (merging) {
            merge.write(offset, src, fua);
            return;
        }
        Exceptions ex = usable();
        if (ex.overflowed) {
            throw overflowError();
        }
        if (ex.chunks.lengthAt(offset, src.remaining()) == src.remaining()) {
            writeChunk(ex, offset, src, fua); // one chunk: no split loop (see IoSplit)
        } else {
            IoSplit.forEach(offset, src, ex.chunks, (v, at, piece) -> writeChunk(ex, at, piece, fua));
        }
    }

    private void writeChunk(Exceptions ex, long offset, ByteBuffer piece, boolean fua) throws IOException {
        long chunk = ex.chunkOf(offset);
        long newChunk = ex.map.get(chunk);
        if (newChunk >= 0) {
            ex.cow.write(ex.cowOffset(newChunk, offset), piece, fua);
            return;
        }
        StampedLock cell = ex.cells.cell(0, chunk);
        long stamp = cell.writeLock();
        try {
            newChunk = ex.map.get(chunk);
            if (newChunk >= 0) {
                ex.cow.write(ex.cowOffset(newChunk, offset), piece, fua);
                return;
            }
            if (!ex.valid || ex.overflowed) {
                throw invalidError();
            }
            copyOnWrite(ex, chunk, offset, piece);
        } finally {
            cell.unlockWrite(stamp);
        }
        if (fua) {
            ex.cow.flush();
        }
    }

    /**
     * A first write to a chunk: the origin's chunk with the write laid over it goes to a new COW chunk (only the
     * write when it covers the chunk, the kernel's start_full_bio), then the exception is committed.
     */
    private void copyOnWrite(Exceptions ex, long chunk, long offset, ByteBuffer piece) throws IOException {
        long newChunk;
        try {
            newChunk = ex.store.allocate();
        } catch (StoreFullException e) {
            if (overflowSupported(ex)) {
                ex.overflowed = true;
                LOG.severe(() -> ctx.deviceName() + ": Snapshot overflowed: Unable to allocate exception.");
            } else {
                invalidate(ex, e);
            }
            throw new BlockIoException(Errno.EIO, ctx.deviceName() + ": " + e.getMessage(), e);
        } catch (IOException e) {
            invalidate(ex, e);
            throw new BlockIoException(Errno.EIO, ctx.deviceName() + ": " + e.getMessage(), e);
        }
        long start = chunk * ex.chunkBytes;
        long length = Math.min(ex.chunkBytes, origin.device.size() - start);
        try {
            origin.copier().copy(Copier.Source.of(origin.device, start), length,
                    List.of(new Copier.Destination(ex.cow, newChunk * ex.chunkBytes)),
                    new Copier.Overlay(offset - start, piece.duplicate()));
        } catch (IOException e) {
            abandon(ex, newChunk, e);
            throw new BlockIoException(Errno.EIO, ctx.deviceName() + ": copy to the COW failed: " + e.getMessage(), e);
        }
        commit(ex, chunk, newChunk);
        if (!ex.valid) {
            throw invalidError();
        }
        piece.position(piece.limit());
    }

    private static boolean overflowSupported(Exceptions ex) {
        return ex.store instanceof PersistentStore p && p.overflowSupported();
    }

    @Override
    public void flush() throws IOException {
        if (merging) {
            origin.device.flush();
        }
        cow.flush(); // a handover only ever brings exceptions over this same COW
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayUnmap) throws IOException {
        // Like the kernel's snapshot (no write-zeroes support), zeroes are ordinary writes of zeroes.
        ByteBuffer zeroes = ByteBuffer.allocate((int) Math.min(length, 1 << 20));
        for (long at = offset; at < offset + length; at += zeroes.capacity()) {
            write(at, zeroes.clear().limit((int) Math.min(zeroes.capacity(), offset + length - at)), false);
        }
    }

    @Override
    public boolean supportsDiscard() {
        return discardZeroesCow && !merging;
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        if (merging || !discardZeroesCow) {
            return; // once merging, discards change nothing (snapshot_merge_map); without the feature none come
        }
        Exceptions ex = usable();
        if (ex.overflowed) {
            throw overflowError();
        }
        IoSplit.forEach(offset, length, ex.chunks, (v, at, len) -> discardChunk(ex, at, len));
    }

    /**
     * snapshot_map's discards: an exception wholly covered is zeroed on the COW, a partly covered one has the
     * range discarded there; a chunk without one is left alone (discarding would copy it out). With
     * discard_passdown_origin the origin is discarded too, without copies to any snapshot.
     */
    private void discardChunk(Exceptions ex, long offset, long length) throws IOException {
        long chunk = ex.chunkOf(offset);
        StampedLock cell = ex.cells.cell(0, chunk);
        long stamp = cell.readLock();
        try {
            long newChunk = ex.map.get(chunk);
            if (newChunk >= 0) {
                if (length == ex.chunkBytes) {
                    ex.cow.writeZeroes(ex.cowOffset(newChunk, offset), length, false);
                } else {
                    ex.cow.discard(ex.cowOffset(newChunk, offset), length);
                }
            }
        } finally {
            cell.unlockRead(stamp);
        }
        if (discardPassdownOrigin) {
            origin.device.discard(offset, length);
        }
    }

    // ---- status ----------------------------------------------------------------------------------------

    @Override
    public String status() {
        Exceptions ex = exceptions;
        if (ex != null && !ex.valid) {
            return "Invalid";
        }
        if (ex != null && ex.mergeFailed) {
            return "Merge failed";
        }
        if (ex != null && ex.overflowed) {
            return "Overflow";
        }
        ExceptionStore.Usage u = (ex != null ? ex.store : ownStore).usage();
        return u.allocatedSectors() + "/" + u.totalSectors() + " " + u.metadataSectors();
    }

    @Override
    public String table() {
        Exceptions ex = exceptions;
        StringBuilder line = new StringBuilder(origin.device.id()).append(' ').append(cow.id()).append(' ')
                .append((ex != null ? ex.store : ownStore).tableArgs());
        int features = (discardZeroesCow ? 1 : 0) + (discardPassdownOrigin ? 1 : 0);
        if (features > 0) {
            line.append(' ').append(features);
            if (discardZeroesCow) {
                line.append(" discard_zeroes_cow");
            }
            if (discardPassdownOrigin) {
                line.append(" discard_passdown_origin");
            }
        }
        return line.toString();
    }

    @Override
    public List<BlockDevice> devices() {
        return List.of(origin.device, cow);
    }

    // ---- for Merge --------------------------------------------------------------------------------------

    Origin origin() {
        return origin;
    }

    Exceptions exceptions() {
        return exceptions;
    }

    TargetContext context() {
        return ctx;
    }
}
