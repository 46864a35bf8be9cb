package dev.jdm.formats.luks;

import dev.jdm.core.io.BlockDevice;

import java.io.IOException;
import java.security.SecureRandom;
import java.util.List;

/**
 * A LUKS header read into memory: what both versions offer to the operations in {@link Luks}.
 * Changes are made in memory and reach the disk with {@link #write}.
 */
sealed interface LuksVolume permits Luks1Volume, Luks2Volume {

    LuksVersion version();

    String uuid();

    CipherSpec cipher() throws LuksException;

    /** Where the ciphertext starts on the data device, in 512-byte sectors. */
    long dataOffsetSectors();

    /** Fixed data size in 512-byte sectors, or -1 when the data runs to the end of the device. */
    long dataSizeSectors();

    /** The IV offset of the data segment in 512-byte sectors (LUKS2 iv_tweak). */
    default long ivOffsetSectors() {
        return 0;
    }

    /** The encryption sector size in bytes (512 for LUKS1). */
    int sectorSize();

    /** dm-crypt activation flags the header asks for (LUKS2 persistent flags), in cryptsetup's names. */
    List<String> persistentFlags();

    /** The copy the metadata came from and what was wrong with the other one. */
    HeaderCopy headerCopy();

    List<String> headerProblems();

    /** Active keyslot numbers in ascending order. */
    List<Integer> activeKeyslots();

    /** The keyslots a passphrase is tried on when no slot is named, in the order they are tried. */
    default List<Integer> unlockOrder() {
        return activeKeyslots();
    }

    boolean isActive(int keyslot);

    int maxKeyslots();

    /** Decrypts one keyslot; the result is a candidate key, not yet checked against the digest. */
    byte[] recoverKey(BlockDevice header, int keyslot, byte[] passphrase) throws IOException;

    /**
     * Whether this key is the volume key, by the digest the keyslot is bound to (-1: the data
     * segment's digest), compared in constant time.
     */
    boolean isVolumeKey(byte[] key, int keyslot) throws LuksException;

    /** Lowest free keyslot a new key can go to, or -1 when all are used. */
    int freeKeyslot();

    /** Writes a keyslot for the passphrase into the given (free or to-be-replaced) slot. */
    void storeKeyslot(BlockDevice header, int keyslot, byte[] volumeKey, byte[] passphrase, KdfOptions kdf,
                      SecureRandom random) throws IOException;

    /** Disables a keyslot and wipes its key material. */
    void destroyKeyslot(BlockDevice header, int keyslot, SecureRandom random) throws IOException;

    /** Writes the header metadata back (both copies for LUKS2, with an increased sequence id). */
    void write(BlockDevice header, SecureRandom random) throws IOException;

    /** The luksDump text. */
    String dump(String deviceName);
}
