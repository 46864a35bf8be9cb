package dev.jdm.targets.snapshot.store;

/** No free chunk is left on the COW device (the kernel's -ENOSPC from prepare_exception). */
public final class StoreFullException extends StoreException {
    public StoreFullException(String message) {
        super(message);
    }
}
