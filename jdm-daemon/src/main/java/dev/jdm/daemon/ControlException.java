package dev.jdm.daemon;

/** A refusal from the daemon: its errno name and number, and its message. */
public final class ControlException extends Exception {
    private final String errno;
    private final int code;

    public ControlException(String errno, int code, String message) {
        super(message);
        this.errno = errno;
        this.code = code;
    }

    public String errno() {
        return errno;
    }

    public int code() {
        return code;
    }
}
