package dev.jdm.formats.verity;

import java.io.IOException;

/** A verity format, verify, dump or open that failed; the message is the one veritysetup prints. */
public class VerityException extends IOException {
    public VerityException(String message) {
        super(message);
    }

    public VerityException(String message, Throwable cause) {
        super(message, cause);
    }
}
