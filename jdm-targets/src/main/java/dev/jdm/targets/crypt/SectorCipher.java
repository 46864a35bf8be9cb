package dev.jdm.targets.crypt;

/**
 * One crypto sector's transform under one key: a chain mode over a {@link BlockPrimitive}, in place.
 * Per-thread, like the primitives under it.
 */
interface SectorCipher {

    /**
     * Encrypts {@code src[srcOff, srcOff+len)} into {@code dst[dstOff, ...)}: the same range (in
     * place) or ranges that do not overlap. Writing straight into the bounce buffer saves a copy of
     * every written sector. {@code iv} (the generator's output) is not changed.
     */
    void encrypt(byte[] src, int srcOff, byte[] dst, int dstOff, int len, byte[] iv);

    /** Encrypts in place. */
    default void encrypt(byte[] buf, int off, int len, byte[] iv) {
        encrypt(buf, off, buf, off, len, iv);
    }

    void decrypt(byte[] buf, int off, int len, byte[] iv);

    /** Overwrites every key schedule this cipher holds. */
    void wipe();
}
