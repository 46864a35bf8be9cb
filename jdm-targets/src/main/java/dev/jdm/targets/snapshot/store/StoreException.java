package dev.jdm.targets.snapshot.store;

import java.io.IOException;

/** A COW device whose contents cannot be a snapshot store: the message says what is wrong and where. */
public class StoreException extends IOException {
    public StoreException(String message) {
        super(message);
    }
}
