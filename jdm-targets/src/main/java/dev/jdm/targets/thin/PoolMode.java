package dev.jdm.targets.thin;

/** The pool's modes, in the kernel's order of degradation (comparisons rely on it). */
enum PoolMode {
    /** Metadata may change. */
    WRITE,
    /** Metadata may change but no data block can be allocated. */
    OUT_OF_DATA_SPACE,
    /** Reported as read-only; growing the metadata device returns to {@link #WRITE}. */
    OUT_OF_METADATA_SPACE,
    /** Metadata may not change. */
    READ_ONLY,
    /** Every I/O fails. */
    FAIL;

    boolean readOnly() {
        return compareTo(OUT_OF_METADATA_SPACE) >= 0;
    }

    /** The kernel log's word for the mode ("switching pool to %s mode"). */
    String description() {
        return switch (this) {
            case WRITE -> "write";
            case OUT_OF_DATA_SPACE -> "out-of-data-space";
            case OUT_OF_METADATA_SPACE, READ_ONLY -> "read-only";
            case FAIL -> "fail";
        };
    }
}
