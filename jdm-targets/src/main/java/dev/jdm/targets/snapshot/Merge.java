package dev.jdm.targets.snapshot;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.Errno;
import dev.jdm.core.io.IoSplit;
import dev.jdm.targets.lib.Copier;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.locks.StampedLock;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The snapshot-merge target's background copy of exceptions back into the origin (the kernel's
 * snapshot_merge_next_chunks and merge_callback), and its writes (snapshot_merge_map).
 *
 * <p>One step: the store names its most recent run of consecutive exceptions; the origin's other snapshots get
 * their copies of those origin chunks first (origin_write_extent); the run's cells are taken exclusively, so
 * writes to those chunks wait; the COW chunks are copied to the origin, the origin is flushed, and only then does
 * the store forget them (commit_merge), so a crash at any point leaves the exception on disk and the merge redoes
 * it. Runs from resume until the store is empty, an error, or suspend.
 */
final class Merge {
    private static final Logger LOG = Logger.getLogger(Merge.class.getName());

    private final SnapshotTarget snapshot;
    private Thread worker; // guarded by this
    private volatile boolean stopping;

    Merge(SnapshotTarget snapshot) {
        this.snapshot = snapshot;
    }

    /** start_merge. */
    synchronized void start() {
        if (worker == null || !worker.isAlive()) {
            stopping = false;
            worker = Thread.ofVirtual().name("snapshot-merge " + snapshot.context().deviceName()).start(this::run);
        }
    }

    /** stop_merge: waits for the step in progress to end. */
    void stop() {
        Thread running;
        synchronized (this) {
            stopping = true;
            running = worker;
        }
        if (running != null) {
            boolean interrupted = false;
            while (running.isAlive()) {
                try {
                    running.join();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void run() {
        long[] last = new long[2];
        while (!stopping) {
            Exceptions ex = snapshot.exceptions();
            if (ex == null || !ex.valid) {
                LOG.severe(() -> snapshot.context().deviceName() + ": Snapshot is invalid: can't merge");
                return;
            }
            int count;
            try {
                count = ex.store.prepareMerge(last);
            } catch (IOException e) {
                fail(ex, "Read error in exception store: shutting down merge", e);
                return;
            }
            if (count <= 0) {
                snapshot.context().raiseEvent(); // merged: allocated now equals metadata in the status
                return;
            }
            try {
                mergeRun(ex, last[0] + 1 - count, last[1] + 1 - count, count);
            } catch (IOException e) {
                fail(ex, "Merge error: shutting down merge", e);
                return;
            }
        }
    }

    private void fail(Exceptions ex, String why, IOException e) {
        LOG.log(Level.SEVERE, snapshot.context().deviceName() + ": " + why, e);
        ex.mergeFailed = true;
        snapshot.context().raiseEvent();
    }

    private void mergeRun(Exceptions ex, long firstOld, long firstNew, int count) throws IOException {
        Origin origin = snapshot.origin();
        long start = firstOld * ex.chunkBytes;
        long size = count * ex.chunkBytes;
        // The other snapshots keep what the merge is about to overwrite, then the run's cells hold its writers.
        origin.change(start, size, () -> {
            List<StampedLock> cells = distinctCells(ex, firstOld, count);
            long[] stamps = new long[cells.size()];
            for (int i = 0; i < cells.size(); i++) {
                stamps[i] = cells.get(i).writeLock();
            }
            try {
                long length = Math.min(size, origin.device.size() - start);
                origin.copier().copy(Copier.Source.of(ex.cow, firstNew * ex.chunkBytes), length,
                        List.of(new Copier.Destination(origin.device, start)), Copier.Overlay.NONE);
                origin.device.flush();
                ex.store.commitMerge(count);
                for (int i = 0; i < count; i++) {
                    ex.map.remove(firstOld + i);
                }
            } finally {
                for (int i = 0; i < cells.size(); i++) {
                    cells.get(i).unlockWrite(stamps[i]);
                }
            }
        });
    }

    /** The cells of a run, each lock once: chunks of one run may share a stripe, and cells are not reentrant. */
    private static List<StampedLock> distinctCells(Exceptions ex, long firstOld, int count) {
        Set<StampedLock> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        List<StampedLock> cells = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            StampedLock cell = ex.cells.cell(0, firstOld + i);
            if (seen.add(cell)) {
                cells.add(cell);
            }
        }
        return cells;
    }

    /**
     * snapshot_merge_map's writes: a chunk whose exception is not merged yet is written on the COW (the merge
     * carries it over); any other goes to the origin, after the origin's other snapshots have their copies.
     */
    void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        Exceptions ex = snapshot.exceptions();
        if (ex == null) {
            throw new BlockIoException(Errno.EIO, snapshot.context().deviceName() + ": snapshot is invalid");
        }
        if (ex.chunks.lengthAt(offset, src.remaining()) == src.remaining()) {
            writeChunk(ex, offset, src, fua); // one chunk: no split loop (see IoSplit)
        } else {
            IoSplit.forEach(offset, src, ex.chunks, (v, at, piece) -> writeChunk(ex, at, piece, fua));
        }
    }

    private void writeChunk(Exceptions ex, long offset, ByteBuffer piece, boolean fua) throws IOException {
        long chunk = ex.chunkOf(offset);
        StampedLock cell = ex.cells.cell(0, chunk);
        long stamp = cell.readLock();
        try {
            long newChunk = ex.valid ? ex.map.get(chunk) : -1;
            if (newChunk >= 0) {
                ex.cow.write(ex.cowOffset(newChunk, offset), piece, fua);
                return;
            }
        } finally {
            cell.unlockRead(stamp);
        }
        // A merging snapshot never gains exceptions, so the chunk stays the origin's after the cell is let go.
        Origin origin = snapshot.origin();
        origin.change(offset, piece.remaining(), () -> origin.device.write(offset, piece, fua));
    }
}
