package dev.jdm.targets.crypt;

/**
 * Makes the IV of one crypto sector (the kernel's {@code crypt_iv_operations}). Shared by all
 * threads, so implementations keep no per-call state in fields.
 */
interface IvGenerator {

    /**
     * Fills {@code iv} before the sector at {@code data[off, off+sectorSize)} is transformed: it holds
     * plaintext when writing, ciphertext when reading. {@code firstKey} is the transform of key 0,
     * which EBOIV encrypts the byte offset with.
     */
    void before(long ivSector, byte[] iv, byte[] data, int off, boolean writing, SectorCipher firstKey);

    /** Runs after the transform (loop-AES fixes up decrypted data, TrueCrypt whitens ciphertext). */
    default void after(long ivSector, byte[] iv, byte[] data, int off, boolean writing) {
    }

    /** Forgets any key material the generator copied ({@code key wipe}). */
    default void wipe() {
    }
}
