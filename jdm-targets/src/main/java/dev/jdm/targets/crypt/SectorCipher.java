package dev.jdm.targets.crypt;

/**
 * One crypto sector's transform under one key: a chain mode over a {@link BlockPrimitive}, in place.
 * Per-thread, like the primitives under it.
 */
interface SectorCipher {

    /** Encrypts {@code buf[off, off+len)} in place; {@code iv} (the generator's output) is not changed. */
    void encrypt(byte[] buf, int off, int len, byte[] iv);

    void decrypt(byte[] buf, int off, int len, byte[] iv);

    /** Overwrites every key schedule this cipher holds. */
    void wipe();
}
