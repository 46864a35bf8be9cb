package dev.jdm.core;

/**
 * A refused control operation (create, load, suspend, message, ...). Carries the errno the kernel's
 * dm ioctl would have returned, so the CLI can print both the reason and the code.
 */
public class DmException extends Exception {
    private final Errno errno;

    public DmException(Errno errno, String message) {
        super(message);
        this.errno = errno;
    }

    public DmException(Errno errno, String message, Throwable cause) {
        super(message, cause);
        this.errno = errno;
    }

    public Errno errno() {
        return errno;
    }
}
