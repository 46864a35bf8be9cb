package dev.jdm.targets.thin.metadata;

import dev.jdm.core.Errno;
import dev.jdm.pdata.MetadataException;

/**
 * The data device is full (ENOSPC from {@link ThinMetadata#allocateDataBlock}). Any other ENOSPC from
 * {@link ThinMetadata} means the metadata device is full: a pool goes out-of-data-space mode on this one
 * and read-only (after an abort) on the other, so the two have their own types.
 */
public final class OutOfDataSpaceException extends MetadataException {
    public OutOfDataSpaceException(String message) {
        super(Errno.ENOSPC, message);
    }
}
