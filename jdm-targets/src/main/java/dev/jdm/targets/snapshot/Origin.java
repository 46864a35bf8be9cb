package dev.jdm.targets.snapshot;

import dev.jdm.core.io.BlockDevice;
import dev.jdm.targets.lib.Copier;

import java.io.IOException;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.concurrent.locks.StampedLock;

/**
 * One origin device and the snapshot tables built over it (the kernel's {@code struct origin}). Before a write
 * to the origin lands, {@link #copyOut} gives every valid, active, non-merging snapshot lacking an exception for
 * the chunk a copy of the chunk's current contents (the kernel's __origin_write).
 *
 * <p>The gate orders writes against snapshots coming and going: a writer holds it shared from the check to its
 * own write, and a snapshot is activated, handed over or unregistered under it exclusively, so no write can slip
 * past a snapshot that became active while the write was deciding (the kernel suspends the origin for this).
 */
final class Origin {
    final BlockDevice device;
    private final Copier copier;
    private final ReentrantReadWriteLock gate = new ReentrantReadWriteLock();
    private volatile List<SnapshotTarget> snapshots = List.of();

    Origin(BlockDevice device, Copier copier) {
        this.device = device;
        this.copier = copier;
    }

    /** A change to the origin's bytes: a write, a write of zeroes, a discard. */
    @FunctionalInterface
    interface Change {
        void apply() throws IOException;
    }

    /** do_origin: every snapshot copies what [offset, offset+length) holds now, then the change is made. */
    void change(long offset, long length, Change change) throws IOException {
        gate.readLock().lock();
        try {
            copyOut(offset, length);
            change.apply();
        } finally {
            gate.readLock().unlock();
        }
    }

    /** Held exclusively while a snapshot is registered, activated, handed over or unregistered. */
    Lock changeGate() {
        return gate.writeLock();
    }

    Copier copier() {
        return copier;
    }

    /** The snapshots registered over this origin, in registration order. */
    List<SnapshotTarget> snapshots() {
        return snapshots;
    }

    /** Call under {@link #changeGate}. */
    void register(SnapshotTarget snapshot) {
        List<SnapshotTarget> next = new ArrayList<>(snapshots);
        next.add(snapshot);
        snapshots = List.copyOf(next);
    }

    /** Call under {@link #changeGate}. */
    void unregister(SnapshotTarget snapshot) {
        List<SnapshotTarget> next = new ArrayList<>(snapshots);
        next.remove(snapshot);
        snapshots = List.copyOf(next);
    }

    /**
     * Where origin I/O is cut: the smallest chunk of the snapshots that take copies (the kernel's
     * origin split_boundary), or 0 when none does.
     */
    long splitBytes() {
        long smallest = 0;
        for (SnapshotTarget s : snapshots) {
            Exceptions ex = s.exceptionsTakingCopies();
            if (ex != null && (smallest == 0 || ex.chunkBytes < smallest)) {
                smallest = ex.chunkBytes;
            }
        }
        return smallest;
    }

    /**
     * Copies every chunk of [offset, offset+length) of the origin that a snapshot still needs; call inside
     * {@link #change}. A snapshot whose copy fails or whose store is full is invalidated; the origin write
     * goes ahead all the same.
     */
    private void copyOut(long offset, long length) {
        long split = splitBytes();
        if (split == 0) {
            return;
        }
        // Mostly every snapshot has the chunks already: that is found without locks or allocation. Chunks that
        // need copies go side by side, as the kernel runs the pieces of a split bio, so their store commits
        // share metadata writes instead of paying a flush each, one after the other.
        long firstNeeded = -1;
        List<Runnable> several = null;
        for (long at = offset - offset % split; at < offset + length; at += split) {
            if (!needsCopy(at)) {
                continue;
            }
            if (firstNeeded < 0) {
                firstNeeded = at;
                continue;
            }
            if (several == null) {
                several = new ArrayList<>();
                long chunkAt = firstNeeded;
                several.add(() -> copyChunk(chunkAt));
            }
            long chunkAt = at;
            several.add(() -> copyChunk(chunkAt));
        }
        if (several != null) {
            inParallel(several);
        } else if (firstNeeded >= 0) {
            copyChunk(firstNeeded);
        }
    }

    /**
     * Whether some snapshot taking copies lacks the chunk holding {@code at}. A hint checked again under the
     * cell: the snapshots cannot change while {@link #change} holds the gate, and a map only gains chunks.
     */
    private boolean needsCopy(long at) {
        for (SnapshotTarget s : snapshots) {
            if (lacking(s, at) != null) {
                return true;
            }
        }
        return false;
    }

    /** The exceptions of a snapshot that must take a copy of the chunk holding {@code at}, or null. */
    private static Exceptions lacking(SnapshotTarget s, long at) {
        Exceptions ex = s.exceptionsTakingCopies();
        return ex == null || at >= s.lengthBytes() || ex.map.contains(ex.chunkOf(at)) ? null : ex;
    }

    /** Runs the tasks on virtual threads and returns when all have ended; a task's failure is rethrown here. */
    private static void inParallel(List<Runnable> tasks) {
        List<Future<?>> running = new ArrayList<>(tasks.size());
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            for (Runnable task : tasks) {
                running.add(threads.submit(task));
            }
        }
        for (Future<?> task : running) {
            try {
                task.get();
            } catch (ExecutionException e) {
                if (e.getCause() instanceof RuntimeException r) {
                    throw r;
                }
                if (e.getCause() instanceof Error err) {
                    throw err;
                }
                throw new IllegalStateException(e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt(); // the executor's close already waited for every task
            }
        }
    }

    /** One claimed chunk of one snapshot: its cell held exclusively, a COW chunk allocated once all are held. */
    private static final class Claim {
        final SnapshotTarget snapshot;
        final Exceptions ex;
        final long chunk;
        final StampedLock cell;
        final long stamp;
        long newChunk = -1;

        Claim(SnapshotTarget snapshot, Exceptions ex, long chunk, StampedLock cell, long stamp) {
            this.snapshot = snapshot;
            this.ex = ex;
            this.chunk = chunk;
            this.cell = cell;
            this.stamp = stamp;
        }
    }

    private void copyChunk(long at) {
        List<Claim> claims = new ArrayList<>(2);
        try {
            // All cells first, in list order, then the allocations: a thread that allocated never waits for a
            // cell again, so a store commit waiting on an earlier allocation always sees it finish.
            for (SnapshotTarget s : snapshots) {
                Exceptions ex = lacking(s, at);
                if (ex == null) {
                    continue;
                }
                long chunk = ex.chunkOf(at);
                StampedLock cell = ex.cells.cell(0, chunk);
                claims.add(new Claim(s, ex, chunk, cell, cell.writeLock()));
            }
            if (claims.isEmpty()) {
                return; // the common case: every snapshot has the chunk already
            }
            for (Claim c : claims) {
                if (c.ex.valid && !c.ex.map.contains(c.chunk)) {
                    try {
                        c.newChunk = c.ex.store.allocate();
                    } catch (IOException e) {
                        c.snapshot.invalidate(c.ex, e);
                    }
                }
            }
            copyClaims(claims);
            commitClaims(claims);
        } finally {
            for (Claim c : claims) {
                c.cell.unlockWrite(c.stamp);
            }
        }
    }

    /** Each snapshot's store commits at the same time, so a write waits for one commit, not one per snapshot. */
    private static void commitClaims(List<Claim> claims) {
        List<Claim> copied = claims.stream().filter(c -> c.newChunk >= 0).toList();
        if (copied.size() <= 1) {
            copied.forEach(Origin::commit);
            return;
        }
        inParallel(copied.stream().<Runnable>map(c -> () -> commit(c)).toList());
    }

    private static void commit(Claim c) {
        c.snapshot.commit(c.ex, c.chunk, c.newChunk);
    }

    /** One copy per chunk size, to every snapshot of that size that needs the chunk (kcopyd's several destinations). */
    private void copyClaims(List<Claim> claims) {
        BitSet done = new BitSet();
        for (int i = 0; i < claims.size(); i++) {
            Claim first = claims.get(i);
            if (first.newChunk < 0 || done.get(i)) {
                continue;
            }
            List<Claim> group = new ArrayList<>();
            List<Copier.Destination> to = new ArrayList<>();
            for (int j = i; j < claims.size(); j++) {
                Claim c = claims.get(j);
                if (c.newChunk >= 0 && !done.get(j) && c.ex.chunkBytes == first.ex.chunkBytes) {
                    done.set(j);
                    group.add(c);
                    to.add(new Copier.Destination(c.ex.cow, c.newChunk * c.ex.chunkBytes));
                }
            }
            long start = first.chunk * first.ex.chunkBytes;
            try {
                copier.copy(Copier.Source.of(device, start), Math.min(first.ex.chunkBytes, device.size() - start), to,
                        Copier.Overlay.NONE);
            } catch (Copier.CopyException e) {
                BitSet failed = e.readFailed() ? allOf(group.size()) : e.failedDestinations();
                for (int k = failed.nextSetBit(0); k >= 0; k = failed.nextSetBit(k + 1)) {
                    Claim c = group.get(k);
                    c.snapshot.abandon(c.ex, c.newChunk, e);
                    c.newChunk = -1;
                }
            } catch (IOException e) {
                for (Claim c : group) {
                    c.snapshot.abandon(c.ex, c.newChunk, e);
                    c.newChunk = -1;
                }
            }
        }
    }

    private static BitSet allOf(int n) {
        BitSet all = new BitSet(n);
        all.set(0, n);
        return all;
    }
}
