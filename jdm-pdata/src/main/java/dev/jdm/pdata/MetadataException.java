package dev.jdm.pdata;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.Errno;

/** Metadata that cannot be trusted (bad checksum, wrong location, bad magic) or an operation it refuses. */
public class MetadataException extends BlockIoException {
    public MetadataException(Errno errno, String message) {
        super(errno, message);
    }

    public MetadataException(Errno errno, String message, Throwable cause) {
        super(errno, message, cause);
    }
}
