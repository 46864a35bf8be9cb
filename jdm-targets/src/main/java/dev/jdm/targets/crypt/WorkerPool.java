package dev.jdm.targets.crypt;

import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Per-I/O crypto state (cipher instances, IV and bounce buffers) that is not thread-safe, lent to
 * one I/O at a time. A fixed array of slots rather than a ThreadLocal: requests run on virtual
 * threads, so a ThreadLocal would build new ciphers for every request. Taking and returning a
 * worker allocates nothing; a burst beyond the slots gets fresh workers that are dropped after.
 */
final class WorkerPool<W> {
    private final AtomicReferenceArray<W> slots;
    private final Supplier<W> factory;
    private final Consumer<W> wiper;

    WorkerPool(int size, Supplier<W> factory, Consumer<W> wiper) {
        this.slots = new AtomicReferenceArray<>(size);
        this.factory = factory;
        this.wiper = wiper;
    }

    W take() {
        for (int i = 0; i < slots.length(); i++) {
            W w = slots.get(i);
            if (w != null && slots.compareAndSet(i, w, null)) {
                return w;
            }
        }
        return factory.get();
    }

    void give(W w) {
        for (int i = 0; i < slots.length(); i++) {
            if (slots.get(i) == null && slots.compareAndSet(i, null, w)) {
                return;
            }
        }
        wiper.accept(w);
    }

    /** Wipes and forgets every idle worker (the key changed or the target is closing). */
    void wipeAll() {
        for (int i = 0; i < slots.length(); i++) {
            W w = slots.getAndSet(i, null);
            if (w != null) {
                wiper.accept(w);
            }
        }
    }
}
