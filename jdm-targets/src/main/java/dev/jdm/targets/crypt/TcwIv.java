package dev.jdm.targets.crypt;

import java.util.Arrays;
import java.util.zip.CRC32;

/**
 * {@code tcw}: TrueCrypt before 4.1. IV = seed xor (le64(sector) twice); and the whole ciphertext
 * sector is XORed with an 8-byte whitening value derived from the whitening key, the sector and
 * CRC32. The last {@code 16 + 16} bytes of the table key are the seed and the whitening key.
 */
final class TcwIv implements IvGenerator {
    static final int WHITENING_SIZE = 16;
    private static final int SECTOR = 512;
    /**
     * The kernel's "crc32" hash starts from 0 and skips the final inversion; java.util.zip.CRC32
     * starts from ~0 and inverts. CRC is affine in the start value, so over 4 bytes the two differ by
     * the JDK's CRC of four zero bytes.
     */
    private static final int KERNEL_CRC32_CORRECTION;

    static {
        CRC32 zeros = new CRC32();
        zeros.update(new byte[4]);
        KERNEL_CRC32_CORRECTION = (int) zeros.getValue();
    }

    private final byte[] ivSeed;
    private final byte[] whitening;

    TcwIv(byte[] ivSeed, byte[] whitening) {
        this.ivSeed = ivSeed.clone();
        this.whitening = whitening.clone();
    }

    @Override
    public void before(long ivSector, byte[] iv, byte[] data, int off, boolean writing, SectorCipher firstKey) {
        if (!writing) {
            whiten(ivSector, data, off);
        }
        for (int i = 0; i < iv.length; i++) {
            iv[i] = (byte) (ivSeed[i] ^ (ivSector >>> (8 * (i % 8))));
        }
    }

    @Override
    public void after(long ivSector, byte[] iv, byte[] data, int off, boolean writing) {
        if (writing) {
            whiten(ivSector, data, off);
        }
    }

    private void whiten(long sector, byte[] data, int off) {
        byte[] buf = new byte[WHITENING_SIZE];
        for (int i = 0; i < WHITENING_SIZE; i++) {
            buf[i] = (byte) (whitening[i] ^ (sector >>> (8 * (i % 8))));
        }
        CRC32 crc = new CRC32();
        for (int i = 0; i < 4; i++) {
            crc.reset();
            crc.update(buf, 4 * i, 4);
            Bytes.putIntLE(buf, 4 * i, (int) crc.getValue() ^ KERNEL_CRC32_CORRECTION);
        }
        for (int i = 0; i < 4; i++) {
            buf[i] ^= buf[12 + i];
            buf[4 + i] ^= buf[8 + i];
        }
        for (int i = 0; i < SECTOR; i++) {
            data[off + i] ^= buf[i % 8];
        }
        Arrays.fill(buf, (byte) 0);
    }

    @Override
    public void wipe() {
        Arrays.fill(ivSeed, (byte) 0);
        Arrays.fill(whitening, (byte) 0);
    }
}
