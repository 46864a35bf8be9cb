package dev.jdm.pdata;

import dev.jdm.core.Errno;

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
