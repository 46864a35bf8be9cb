package dev.jdm.core.engine;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Admits I/O to a mapped device and drains it on suspend. The fast path is one atomic increment and
 * one volatile read; the lock is only taken while suspended.
 */
final class IoGate {
    private final AtomicInteger inflight = new AtomicInteger();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition resumed = lock.newCondition();
    private final Condition drained = lock.newCondition();
    private volatile boolean closed;
    private volatile boolean suspended;

    /** Waits while suspended, then counts the caller in. Returns false, not counted in, once the device is gone. */
    boolean enter() {
        while (true) {
            inflight.incrementAndGet();
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

    void exit() {
        if (inflight.decrementAndGet() == 0 && suspended) {
            lock.lock();
            try {
                drained.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    boolean isSuspended() {
        return suspended;
    }

    /** Stops admitting I/O and waits for what is in flight to finish. */
    void suspendAndDrain() {
        suspended = true;
        lock.lock();
        try {
            while (inflight.get() > 0) {
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
            while (inflight.get() > 0) {
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
