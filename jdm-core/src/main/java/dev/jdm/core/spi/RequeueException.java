package dev.jdm.core.spi;

import java.io.IOException;

/**
 * Thrown by a target to give an I/O back to the engine instead of completing it: the kernel's
 * {@code DM_MAPIO_REQUEUE} during a noflush suspend. The mapped device lets the suspend drain past it and
 * submits the whole I/O again, through whatever table is live, once the device resumes. Multipath throws
 * it for I/O queued with no usable path when a noflush suspend begins, so a table reload (as multipathd
 * does with noflush) loses none of it. Only a target of a mapped device may throw it, and only between its
 * {@link Target#presuspend presuspend(true)} and its next {@link Target#resume resume}; it never reaches the
 * mapped device's callers.
 */
public final class RequeueException extends IOException {
    public RequeueException() {
        super("requeued until the device resumes");
    }
}
