package dev.jdm.targets.crypt;

/**
 * One keyed block cipher (AES, Serpent, Twofish) as the chain modes need it. Instances are not
 * thread-safe: each worker thread owns its own. Source and destination ranges of the bulk calls
 * must not overlap (the JDK copies overlapping input, which would allocate on every call).
 */
interface BlockPrimitive {

    int BLOCK_SIZE = 16;

    /** ECB-encrypts {@code len} bytes (whole blocks) from src to dst. */
    void encrypt(byte[] src, int srcOff, byte[] dst, int dstOff, int len);

    /** ECB-decrypts {@code len} bytes (whole blocks) from src to dst. */
    void decrypt(byte[] src, int srcOff, byte[] dst, int dstOff, int len);

    /** CBC-encrypts {@code buf[off, off+len)} in place, chaining from {@code iv} (which is left unchanged). */
    void cbcEncrypt(byte[] buf, int off, int len, byte[] iv);

    /** Overwrites the key schedule; the instance is unusable afterwards. */
    void wipe();
}
