package dev.jdm.formats.luks;

import dev.jdm.core.io.BlockDevice;
import dev.jdm.targets.crypt.SectorCrypt;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.util.Arrays;

/**
 * The key material of one keyslot on disk: the volume key, AF-split into stripes and encrypted with
 * a key derived from the passphrase, using the area's cipher over 512-byte sectors from IV 0.
 * Same for LUKS1 and LUKS2; only where the parameters come from differs.
 *
 * @param offset      byte offset of the area on the header device
 * @param cipher      the area's cipher
 * @param cipherKeyBytes size of the key the KDF derives for the area cipher
 * @param stripes     AF stripes (4000 in everything cryptsetup writes)
 * @param afHash      AF diffusion hash
 */
record KeyslotArea(long offset, CipherSpec cipher, int cipherKeyBytes, int stripes, HashAlgorithm afHash) {

    static final int SECTOR = 512;
    static final int STRIPES = 4000;

    /** Bytes the split material of a {@code keyBytes} key takes, rounded up to whole sectors. */
    static long materialBytes(int keyBytes, int stripes) {
        return ((long) keyBytes * stripes + SECTOR - 1) / SECTOR * SECTOR;
    }

    /** Decrypts the area with the passphrase and merges it: a candidate key the caller checks against the digest. */
    byte[] recover(BlockDevice device, Kdf kdf, byte[] passphrase, int keyBytes) throws IOException {
        byte[] material = Luks2Header.readBytes(device, offset, (int) materialBytes(keyBytes, stripes));
        byte[] areaKey = kdf.derive(passphrase, cipherKeyBytes);
        try {
            transform(areaKey, material, false);
            return AntiForensic.merge(material, keyBytes, stripes, afHash);
        } finally {
            Arrays.fill(areaKey, (byte) 0);
            Arrays.fill(material, (byte) 0);
        }
    }

    /** Splits, encrypts and writes the volume key so that the passphrase opens it. */
    void store(BlockDevice device, Kdf kdf, byte[] passphrase, byte[] volumeKey, SecureRandom random)
            throws IOException {
        byte[] split = AntiForensic.split(volumeKey, stripes, afHash, random);
        byte[] material = Arrays.copyOf(split, (int) materialBytes(volumeKey.length, stripes));
        Arrays.fill(split, (byte) 0);
        byte[] areaKey = kdf.derive(passphrase, cipherKeyBytes);
        try {
            transform(areaKey, material, true);
            device.write(offset, ByteBuffer.wrap(material), false);
            device.flush();
        } finally {
            Arrays.fill(areaKey, (byte) 0);
            Arrays.fill(material, (byte) 0);
        }
    }

    /** Encrypts or decrypts the material as a crypt mapping of the area would, from sector 0. */
    private void transform(byte[] areaKey, byte[] material, boolean encrypt) throws LuksException {
        cipher.checkKeySize(areaKey.length);
        try (SectorCrypt crypt = SectorCrypt.create(cipher.toString(), areaKey, SECTOR)) {
            if (encrypt) {
                crypt.encrypt(material, 0, material.length, 0);
            } else {
                crypt.decrypt(material, 0, material.length, 0);
            }
        } catch (IllegalArgumentException e) {
            throw new LuksException("Cipher " + cipher + " (key size " + areaKey.length * 8 + " bits) is not available.", e);
        }
    }

    /** Overwrites an area with random bytes so a destroyed keyslot cannot be recovered. */
    static void wipe(BlockDevice device, long offset, long length, SecureRandom random) throws IOException {
        byte[] noise = new byte[(int) length];
        random.nextBytes(noise);
        device.write(offset, ByteBuffer.wrap(noise), false);
        device.flush();
    }
}
