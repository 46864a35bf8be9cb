package dev.jdm.core.engine;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Admits I/O to a mapped device and drains it on suspend. The fast path is one atomic increment and
 * one volatile read; the lock is only taken while suspended.
 * <p>
 * The in-flight count is striped: each thread counts itself in and out on a counter of its own (by
 * thread id, a cache line apart from the others), so threads doing I/O side by side do not pass one
 * cache line between their cores twice per I/O (two threads of 4 KiB crypt I/O lost a tenth of
 * their throughput to that). A thread enters and exits on the same stripe, so no stripe is ever
 * negative, and the sum is zero only when nothing is in flight: a thread that counted itself in
 * before {@code suspended} was set is seen by the sum read after setting it (both are volatile).
 */
final class IoGate {
    /** Longs per stripe: 128 bytes, two cache lines (the adjacent-line prefetcher pairs them). */
    private static final int STRIDE = 16;
    /** A power of two, well above the core count so that threads seldom share a stripe. */
    private static final int STRIPES = Math.max(32, Integer.highestOneBit(Math.max(1, Runtime.getRuntime().availableProcessors()) * 2 - 1) * 4);
    private final AtomicLongArray inflight = new AtomicLongArray(STRIPES * STRIDE);
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition resumed = lock.newCondition();
    private final Condition drained = lock.newCondition();
    private volatile boolean closed;
    private volatile boolean suspended;

    /** Waits while suspended, then counts the caller in. Returns false, not counted in, once the device is gone. */
    boolean enter() {
        while (true) {
            int stripe = stripe();
            inflight.getAndIncrement(stripe);
            if (!suspended) {
                if (closed) {
                    exit();
                    return false;
                }
                return true;
            }
            exit();
            lock.lock();
            try {
                while (suspended && !closed) {
                    resumed.awaitUninterruptibly();
                }
            } finally {
                lock.unlock();
            }
            if (closed) {
                return false;
            }
        }
    }

    /** Counts the caller in unless the device is suspended or gone; never waits. */
    boolean tryEnter() {
        inflight.getAndIncrement(stripe());
        if (!suspended && !closed) {
            return true;
        }
        exit();
        return false;
    }

    /** Counts the caller out; it must be the thread that entered. */
    void exit() {
        inflight.getAndDecrement(stripe());
        if (suspended && inflight() == 0) {
            lock.lock();
            try {
                drained.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    /** The current thread's counter (a virtual thread keeps its id on every carrier). */
    private static int stripe() {
        return (int) (Thread.currentThread().threadId() & (STRIPES - 1)) * STRIDE;
    }

    private long inflight() {
        long sum = 0;
        for (int i = 0; i < STRIPES * STRIDE; i += STRIDE) {
            sum += inflight.get(i);
        }
        return sum;
    }

    boolean isSuspended() {
        return suspended;
    }

    /** Stops admitting I/O and waits for what is in flight to finish. */
    void suspendAndDrain() {
        suspended = true;
        lock.lock();
        try {
            while (inflight() > 0) {
                drained.awaitUninterruptibly();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Waits at most the given time for in-flight I/O to drain; true if it did. */
    boolean awaitDrained(long timeout, TimeUnit unit) throws InterruptedException {
        long nanos = unit.toNanos(timeout);
        lock.lock();
        try {
            while (inflight() > 0) {
                if (nanos <= 0) {
                    return false;
                }
                nanos = drained.awaitNanos(nanos);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    void resume() {
        lock.lock();
        try {
            suspended = false;
            resumed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Releases held I/O for good: every caller waiting or arriving is refused. */
    void close() {
        lock.lock();
        try {
            closed = true;
            resumed.signalAll();
        } finally {
            lock.unlock();
        }
    }
}
