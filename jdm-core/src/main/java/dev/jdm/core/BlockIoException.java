package dev.jdm.core;

import java.io.IOException;

/** An I/O that failed with a specific errno (EIO from the error target, ENOSPC from a full pool, ...). */
public class BlockIoException extends IOException {
    private final Errno errno;

    public BlockIoException(Errno errno, String message) {
        super(message);
        this.errno = errno;
    }

    public BlockIoException(Errno errno, String message, Throwable cause) {
        super(message, cause);
        this.errno = errno;
    }

    public Errno errno() {
        return errno;
    }

    /** The errno of any I/O failure: ours carry one, anything else from the OS is EIO. */
    public static Errno errnoOf(IOException e) {
        return e instanceof BlockIoException b ? b.errno : Errno.EIO;
    }
}
