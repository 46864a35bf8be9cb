package dev.jdm.core.spi;

import dev.jdm.core.DmException;
import dev.jdm.core.Errno;

/** A target constructor refusing its arguments; the table parser adds the line and target name. */
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
