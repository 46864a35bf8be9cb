package dev.jdm.targets.crypt;

import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Per-I/O crypto state (cipher instances, IV and bounce buffers) that is not thread-safe, lent to
 * one I/O at a time. A fixed array of slots rather than a ThreadLocal: requests run on virtual
 * threads, so a ThreadLocal would build new ciphers for every request. Taking and returning a
 * worker allocates nothing; a burst beyond the slots gets fresh workers that are dropped after.
 * <p>
 * Slots sit a cache line apart and each thread starts its search at a slot of its own, so threads
 * working side by side do not bounce one cache line between cores on every I/O.
 */
final class WorkerPool<W> {
    /** References per 64-byte cache line, with compressed (4-byte) references; harmless if larger. */
    private static final int STRIDE = 16;

    private final AtomicReferenceArray<W> slots;
    private final int size;
    private final Supplier<W> factory;
    private final Consumer<W> wiper;

    WorkerPool(int size, Supplier<W> factory, Consumer<W> wiper) {
        this.size = size;
        this.slots = new AtomicReferenceArray<>(size * STRIDE);
        this.factory = factory;
        this.wiper = wiper;
    }

    W take() {
        int start = home();
        for (int n = 0; n < size; n++) {
            int i = slot((start + n) % size);
            W w = slots.get(i);
            if (w != null && slots.compareAndSet(i, w, null)) {
                return w;
            }
        }
        return factory.get();
    }

    void give(W w) {
        int start = home();
        for (int n = 0; n < size; n++) {
            int i = slot((start + n) % size);
            if (slots.get(i) == null && slots.compareAndSet(i, null, w)) {
                return;
            }
        }
        wiper.accept(w);
    }

    /** Wipes and forgets every idle worker (the key changed or the target is closing). */
    void wipeAll() {
        for (int n = 0; n < size; n++) {
            W w = slots.getAndSet(slot(n), null);
            if (w != null) {
                wiper.accept(w);
            }
        }
    }

    /** Where the current thread starts looking. */
    private int home() {
        return (int) (Thread.currentThread().threadId() % size);
    }

    private static int slot(int n) {
        return n * STRIDE;
    }
}
