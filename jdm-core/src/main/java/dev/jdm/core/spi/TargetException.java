package dev.jdm.core.spi;

import dev.jdm.core.DmException;
import dev.jdm.core.Errno;

/**
 * A target constructor refusing its arguments; the table parser adds the line and target name.
 * The message starts with the kernel's text for the same refusal, word for word, and puts jdm's
 * detail after a colon (docs/targets.md):
 * {@code "Error setting metadata or data device: the metadata and data devices must differ"}.
 */
public class TargetException extends DmException {
    public TargetException(String message) {
        super(Errno.EINVAL, message);
    }

    public TargetException(Errno errno, String message) {
        super(errno, message);
    }

    public TargetException(Errno errno, String message, Throwable cause) {
        super(errno, message, cause);
    }
}
