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

    /**
     * Whether another path to the same storage might succeed where this one failed: the kernel's
     * {@code blk_path_error}, which multipath uses to fail a path and retry the I/O elsewhere. Errors that
     * describe the request or the storage itself (not supported, no space, a medium or integrity error) are
     * the same on every path; so are a read-only device and a request the device calls invalid, which the
     * kernel rejects before a path is chosen. Everything else (EIO, a timeout, a lost connection, an error
     * from the OS) may be the path's fault.
     */
    public static boolean isPathError(IOException e) {
        return switch (errnoOf(e)) {
            case EOPNOTSUPP, ENOSPC, ENODATA, EILSEQ, EROFS, EINVAL, EOVERFLOW -> false;
            default -> true;
        };
    }
}
