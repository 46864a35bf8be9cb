package dev.jdm.formats.luks;

/** Which LUKS2 header copy the metadata was taken from (LUKS1 has only one header). */
public enum HeaderCopy {
    /** LUKS1, or LUKS2 with both copies valid and equal. */
    BOTH,
    /** LUKS2: the secondary copy was damaged or older; the primary was used. */
    PRIMARY,
    /** LUKS2: the primary copy was damaged or older; the secondary was used. */
    SECONDARY
}
