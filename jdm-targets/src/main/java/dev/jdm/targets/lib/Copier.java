package dev.jdm.targets.lib;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.io.BlockDevice;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.BitSet;
import java.util.Deque;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Copies a range of bytes from a device, or zeroes, to one or more destinations (the kernel's dm-kcopyd:
 * dm_kcopyd_copy, dm_kcopyd_zero). The range goes a bounded chunk at a time, so a 1 GiB thin block never needs
 * a 1 GiB buffer, and a {@code Copier} bounds the chunks all its copies have in flight at once (kcopyd's
 * page reserve). An {@link Overlay} is the caller's own write covering part of the range (dm-thin's
 * overwrite optimisation): its bytes go out in place of the source's there, straight from the caller's buffer
 * where the rest of the chunk is zeroes, so a partial first write to a new block costs no chunk buffer.
 *
 * <p>{@link #copy} runs in the caller's thread (it may hold the locks the copy needs, like thin's cell).
 * {@link #submit} runs it on a virtual thread and answers with a future; a copier made with
 * {@link Completion#IN_ORDER} completes those futures in the order they were submitted, whatever order the
 * copies end in (what dm-snap needs to commit exceptions in order).
 *
 * <p>Errors: chunks go in order and a failed chunk is the last one touched. A failed read writes nothing of its
 * chunk; a failed write still writes the chunk's other destinations (kcopyd's write_err bits), then stops.
 *
 * <p>A {@link Throttle} caps the share of time the copier keeps I/O in flight, so background copies (a merge, a
 * resync) leave the devices to the I/O they serve; it is unthrottled unless set.
 */
public final class Copier {
    /** When futures from {@link #submit} complete: as each copy ends, or in the order of submission. */
    public enum Completion { AS_DONE, IN_ORDER }

    /**
     * Where a copy reads: {@code readableBytes} of a device from {@code offset}; past them, and everywhere for
     * {@link #ZEROES}, the range reads as zeroes (thin's external origin ends inside a block).
     */
    public record Source(BlockDevice device, long offset, long readableBytes) {
        public static final Source ZEROES = new Source(null, 0, 0);

        public static Source of(BlockDevice device, long offset) {
            return new Source(device, offset, Long.MAX_VALUE);
        }

        /** Whether [from, to) of the range is all zeroes, read from nothing. */
        boolean zeroesIn(long from) {
            return device == null || from >= readableBytes;
        }
    }

    /** Where a copy writes: the range lands at {@code offset} of the device. */
    public record Destination(BlockDevice device, long offset) {
    }

    /** The caller's bytes (position to limit of {@code data}) for the range from {@code at}: written, not copied. */
    public record Overlay(long at, ByteBuffer data) {
        public static final Overlay NONE = new Overlay(0, ByteBuffer.allocate(0));

        long end() {
            return at + data.remaining();
        }
    }

    /** A copy that stopped: what it had finished, and whether the read or which destinations failed. */
    public static final class CopyException extends BlockIoException {
        private final long copiedBytes;
        private final boolean readFailed;
        private final BitSet failedDestinations;

        CopyException(IOException cause, long copiedBytes, boolean readFailed, BitSet failedDestinations) {
            super(BlockIoException.errnoOf(cause), cause.getMessage(), cause);
            this.copiedBytes = copiedBytes;
            this.readFailed = readFailed;
            this.failedDestinations = failedDestinations;
        }

        /** Bytes from the start of the range written to every destination before the failed chunk. */
        public long copiedBytes() {
            return copiedBytes;
        }

        public boolean readFailed() {
            return readFailed;
        }

        /** Indexes of the destinations whose write failed (empty when the read failed). */
        public BitSet failedDestinations() {
            return (BitSet) failedDestinations.clone();
        }
    }

    /**
     * The share of time, in percent, that copies may keep I/O in flight (the kernel's {@code dm_kcopyd_throttle},
     * which dm-snap exposes as {@code snapshot_copy_throttle}); 100 does not throttle. Before each read or write
     * of a chunk the copier asks {@link #ioStarts}: when the time with I/O in flight exceeds the share of the time
     * seen, it pauses {@link #PAUSE_NANOS} and asks again, at most {@link #MAX_PAUSES} times (several copiers
     * sharing one throttle could otherwise starve each other). The history halves whenever it grows past
     * {@link #WINDOW_NANOS}, so a change of load or of the percentage shows within a second or so. One throttle
     * may serve several copiers (the kernel's is one per module) and its percentage may change at any time.
     */
    public static final class Throttle {
        /** Time as a throttle sees it; tests pass a clock of their own. */
        public interface Clock {
            long nanoTime();

            void sleep(long nanos) throws InterruptedException;
        }

        public static final Clock SYSTEM_CLOCK = new Clock() {
            @Override
            public long nanoTime() {
                return System.nanoTime();
            }

            @Override
            public void sleep(long nanos) throws InterruptedException {
                Thread.sleep(nanos / 1_000_000, (int) (nanos % 1_000_000));
            }
        };

        /** About a second of history (the kernel's ACCOUNT_INTERVAL_SHIFT); older time halves away. */
        public static final long WINDOW_NANOS = 1L << 30;
        /** The kernel's SLEEP_USEC: shorter pauses overshot the limit there. */
        public static final long PAUSE_NANOS = 100_000_000;
        public static final int MAX_PAUSES = 10;

        private final Clock clock;
        private volatile int percent;
        // guarded by this
        private int ioInFlight;
        private long lastNanos;
        private long busyNanos;
        private long totalNanos;

        public Throttle(int percent) {
            this(percent, SYSTEM_CLOCK);
        }

        public Throttle(int percent, Clock clock) {
            this.clock = clock;
            percent(percent);
            this.lastNanos = clock.nanoTime();
        }

        public int percent() {
            return percent;
        }

        public void percent(int percent) {
            if (percent < 0 || percent > 100) {
                throw new IllegalArgumentException("a copy throttle of " + percent + "%: it must be 0 to 100");
            }
            this.percent = percent;
        }

        /** Waits while the copies are over their share, then counts one more I/O in flight. */
        public void ioStarts() {
            for (int pauses = 0; !startsNow(pauses); pauses++) {
                try {
                    clock.sleep(PAUSE_NANOS);
                } catch (InterruptedException e) {
                    // The copy goes on and its caller sees the flag; the pauses left end at once.
                    Thread.currentThread().interrupt();
                }
            }
        }

        private synchronized boolean startsNow(int pauses) {
            int limit = percent;
            if (limit < 100 && pauses < MAX_PAUSES && overShare(limit)) {
                return false;
            }
            ioInFlight++;
            return true;
        }

        /** Counts an I/O that {@link #ioStarts} let go as finished; the last one out closes a busy stretch. */
        public synchronized void ioFinished() {
            ioInFlight--;
            if (ioInFlight == 0 && percent < 100) {
                account(true);
            }
        }

        /** Time with I/O in flight, and all time, as the throttle weighs them now (for tests). */
        synchronized long[] history() {
            return new long[] {busyNanos, totalNanos};
        }

        private boolean overShare(int limit) {
            account(ioInFlight > 0);
            if (totalNanos >= WINDOW_NANOS) {
                int halvings = 64 - Long.numberOfLeadingZeros(totalNanos / WINDOW_NANOS);
                totalNanos >>= halvings;
                busyNanos >>= halvings;
            }
            return busyNanos * 100 > limit * totalNanos;
        }

        /** Adds the time since the last look, to busy time too when I/O was in flight all along. */
        private void account(boolean busy) {
            long now = clock.nanoTime();
            long elapsed = Math.max(0, now - lastNanos);
            lastNanos = now;
            totalNanos += elapsed;
            if (busy) {
                busyNanos = Math.min(totalNanos, busyNanos + elapsed);
            }
        }
    }

    /** Bytes of direct chunk buffers a copier keeps for reuse, at most (and at least one buffer). */
    private static final long RESERVE_BYTES = 4L << 20;
    private static final int RESERVE_ALIGNMENT = 4096;

    private final int chunkBytes;
    private final Throttle throttle;
    private final int maxReservedBuffers;
    private final AtomicInteger reservedBuffers = new AtomicInteger();
    private final Queue<ByteBuffer> spareBuffers = new ConcurrentLinkedQueue<>();
    private final Semaphore chunksInFlight;
    private final boolean inOrder;
    private final Deque<Job> submitted = new ArrayDeque<>(); // IN_ORDER only; guarded by itself
    private boolean delivering;

    /** Chunks of {@code chunkBytes}, at most {@code maxBytesInFlight} of them (at least one chunk) at once. */
    public Copier(int chunkBytes, long maxBytesInFlight, Completion completion) {
        this(chunkBytes, maxBytesInFlight, completion, new Throttle(100));
    }

    /** As above, I/O paced by {@code throttle} (which other copiers may share). */
    public Copier(int chunkBytes, long maxBytesInFlight, Completion completion, Throttle throttle) {
        if (chunkBytes <= 0 || maxBytesInFlight < chunkBytes) {
            throw new IllegalArgumentException("chunks of " + chunkBytes + " bytes with " + maxBytesInFlight
                    + " bytes in flight: both must be positive and a chunk must fit");
        }
        this.chunkBytes = chunkBytes;
        this.throttle = throttle;
        this.chunksInFlight = new Semaphore((int) Math.min(Integer.MAX_VALUE, maxBytesInFlight / chunkBytes));
        this.maxReservedBuffers = (int) Math.max(1, Math.min(maxBytesInFlight, RESERVE_BYTES) / chunkBytes);
        this.inOrder = completion == Completion.IN_ORDER;
    }

    public int chunkBytes() {
        return chunkBytes;
    }

    /** The throttle this copier's I/O goes through; set its percentage to change the pace at run time. */
    public Throttle throttle() {
        return throttle;
    }

    /** Copies {@code length} bytes of {@code source} to every destination, the overlay written over them. */
    public void copy(Source source, long length, List<Destination> to, Overlay overlay) throws IOException {
        if (overlay.at() < 0 || overlay.end() > length) {
            throw new IllegalArgumentException("the overlay [" + overlay.at() + ", " + overlay.end()
                    + ") lies outside the range of " + length + " bytes");
        }
        for (long at = 0; at < length; at += chunkBytes) {
            long end = Math.min(length, at + chunkBytes);
            chunksInFlight.acquireUninterruptibly();
            try {
                copyChunk(source, at, end, to, overlay);
            } catch (ChunkFailure f) {
                throw new CopyException(f.cause, at, f.readFailed, f.failedDestinations);
            } finally {
                chunksInFlight.release();
            }
        }
    }

    /** {@link #copy} on a virtual thread; the future fails with the copy's {@link CopyException}. */
    public CompletableFuture<Void> submit(Source source, long length, List<Destination> to, Overlay overlay) {
        Job job = new Job();
        if (inOrder) {
            synchronized (submitted) {
                submitted.add(job);
            }
        }
        Thread.ofVirtual().name("copier").start(() -> {
            Throwable error = null;
            try {
                copy(source, length, to, overlay);
            } catch (IOException | RuntimeException e) {
                error = e;
            }
            finished(job, error);
        });
        return job.future;
    }

    /** Chunks the copies of this copier may still start without waiting (for tests of the throttle). */
    public int chunksAvailable() {
        return chunksInFlight.availablePermits();
    }

    private void copyChunk(Source source, long at, long end, List<Destination> to, Overlay overlay) throws ChunkFailure {
        long from = Math.max(at, overlay.at());
        long until = Math.min(end, overlay.end());
        boolean touched = from < until;
        if (touched && from == at && until == end) {
            writeAll(to, d -> d.device().write(d.offset() + at, overlaid(overlay, from, until), false));
            return;
        }
        if (source.zeroesIn(at)) {
            // Zeroes around the overlay, the overlay from the caller's buffer: no chunk buffer at all.
            writeAll(to, d -> {
                if (!touched) {
                    d.device().writeZeroes(d.offset() + at, end - at, false);
                    return;
                }
                if (from > at) {
                    d.device().writeZeroes(d.offset() + at, from - at, false);
                }
                if (end > until) {
                    d.device().writeZeroes(d.offset() + until, end - until, false);
                }
                d.device().write(d.offset() + from, overlaid(overlay, from, until), false);
            });
            return;
        }
        ByteBuffer reserved = takeReserved();
        int length = (int) (end - at);
        ByteBuffer buf = reserved != null ? reserved.clear().slice(0, length) : ByteBuffer.allocate(length);
        try {
            int readable = (int) Math.min(buf.capacity(), source.readableBytes() - at);
            throttle.ioStarts();
            try {
                source.device().read(source.offset() + at, buf.limit(readable));
            } catch (IOException e) {
                throw new ChunkFailure(e, true, new BitSet());
            } finally {
                throttle.ioFinished();
            }
            buf.clear();
            if (readable < buf.capacity()) {
                buf.put(readable, new byte[buf.capacity() - readable]); // a reused buffer holds the last chunk's bytes
            }
            if (touched) {
                ByteBuffer data = overlay.data();
                buf.put((int) (from - at), data, data.position() + (int) (from - overlay.at()), (int) (until - from));
            }
            writeAll(to, d -> d.device().write(d.offset() + at, buf.duplicate(), false));
        } finally {
            if (reserved != null) {
                spareBuffers.add(reserved);
            }
        }
    }

    /**
     * A spare chunk buffer of the copier's reserve of page-aligned direct buffers (kcopyd's reserved pages), or
     * null past the reserve (the caller then takes a heap buffer). A reserved buffer costs a copy no allocation,
     * no zeroing, and none of the JDK's hidden copies of a heap buffer into a direct one for each read and write.
     */
    private ByteBuffer takeReserved() {
        ByteBuffer spare = spareBuffers.poll();
        if (spare != null || reservedBuffers.getAndUpdate(n -> n < maxReservedBuffers ? n + 1 : n) >= maxReservedBuffers) {
            return spare;
        }
        // alignedSlice also rounds the end down: room for a whole aligned page past the chunk.
        int pages = (chunkBytes + RESERVE_ALIGNMENT - 1) / RESERVE_ALIGNMENT;
        return ByteBuffer.allocateDirect((pages + 1) * RESERVE_ALIGNMENT).alignedSlice(RESERVE_ALIGNMENT).slice(0, chunkBytes);
    }

    /** The overlay's bytes for [from, until) of the range, a view of the caller's buffer. */
    private static ByteBuffer overlaid(Overlay overlay, long from, long until) {
        int start = overlay.data().position() + (int) (from - overlay.at());
        return overlay.data().duplicate().limit(start + (int) (until - from)).position(start);
    }

    @FunctionalInterface
    private interface ChunkWrite {
        void to(Destination d) throws IOException;
    }

    /** Writes the chunk to every destination, even past a failed one, then reports the failures. */
    private void writeAll(List<Destination> to, ChunkWrite write) throws ChunkFailure {
        IOException first = null;
        BitSet failed = null; // made on the first failure only: this runs for every chunk copied
        throttle.ioStarts();
        try {
            for (int i = 0; i < to.size(); i++) {
                try {
                    write.to(to.get(i));
                } catch (IOException e) {
                    if (first == null) {
                        first = e;
                        failed = new BitSet();
                    }
                    failed.set(i);
                }
            }
        } finally {
            throttle.ioFinished();
        }
        if (first != null) {
            throw new ChunkFailure(first, false, failed);
        }
    }

    private static final class ChunkFailure extends Exception {
        final IOException cause;
        final boolean readFailed;
        final BitSet failedDestinations;

        ChunkFailure(IOException cause, boolean readFailed, BitSet failedDestinations) {
            super(null, null, false, false);
            this.cause = cause;
            this.readFailed = readFailed;
            this.failedDestinations = failedDestinations;
        }
    }

    private static final class Job {
        final CompletableFuture<Void> future = new CompletableFuture<>();
        boolean done; // guarded by submitted
        Throwable error;
    }

    /** Completes a job's future; in order, a job waits for the ones submitted before it, and one thread delivers. */
    private void finished(Job job, Throwable error) {
        if (!inOrder) {
            complete(job.future, error);
            return;
        }
        synchronized (submitted) {
            job.done = true;
            job.error = error;
            if (delivering) {
                return;
            }
            delivering = true;
        }
        while (true) {
            Job head;
            synchronized (submitted) {
                head = submitted.peekFirst();
                if (head == null || !head.done) {
                    delivering = false;
                    return;
                }
                submitted.pollFirst();
            }
            complete(head.future, head.error);
        }
    }

    private static void complete(CompletableFuture<Void> future, Throwable error) {
        if (error == null) {
            future.complete(null);
        } else {
            future.completeExceptionally(error);
        }
    }
}
