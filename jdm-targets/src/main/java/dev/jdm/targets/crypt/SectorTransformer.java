package dev.jdm.targets.crypt;

import java.util.Arrays;

/**
 * One thread's ciphers (one per key, built from the key on first use) and IV buffer: transforms runs
 * of crypto sectors as dm-crypt does, sector {@code n} with key {@code n mod keyCount} and the IV of
 * its sector number. Not thread-safe.
 */
final class SectorTransformer {
    private final KeyLayout layout;
    /** Shared with the owner, which may replace its bytes ({@code key set}) after {@link #wipe()}. */
    private final byte[] key;
    private final int sectorSize;
    /** log2(sectorSize / 512), for iv_large_sectors. */
    private final int sectorShift;
    private final boolean ivLargeSectors;
    private final SectorCipher[] ciphers;
    private final byte[] iv;

    SectorTransformer(KeyLayout layout, byte[] key, int sectorSize, boolean ivLargeSectors) {
        this.layout = layout;
        this.key = key;
        this.sectorSize = sectorSize;
        this.sectorShift = Integer.numberOfTrailingZeros(sectorSize) - 9;
        this.ivLargeSectors = ivLargeSectors;
        this.ciphers = new SectorCipher[layout.keyCount];
        this.iv = new byte[Math.max(layout.algorithm.ivSize(), 8)];
    }

    private SectorCipher cipher(int index) {
        SectorCipher c = ciphers[index];
        if (c == null) {
            byte[] subkey = Arrays.copyOfRange(key, index * layout.subkeySize, (index + 1) * layout.subkeySize);
            c = layout.algorithm.create(subkey, sectorSize);
            Arrays.fill(subkey, (byte) 0);
            ciphers[index] = c;
        }
        return c;
    }

    /**
     * Encrypts ({@code writing}) the whole sectors of {@code src[srcOff, srcOff+len)} into {@code dst} (the
     * same range, or apart), or decrypts them in place (reads always do: {@code dst} is {@code src}), the
     * first being 512-byte sector {@code ccSector}.
     */
    void transform(IvGenerator ivGen, byte[] src, int srcOff, byte[] dst, int dstOff, int len, long ccSector, boolean writing) {
        int step = sectorSize >> 9;
        for (int p = 0; p < len; p += sectorSize, ccSector += step) {
            SectorCipher c = cipher((int) (ccSector & (layout.keyCount - 1)));
            long ivSector = ivLargeSectors ? ccSector >>> sectorShift : ccSector;
            if (ivGen != null) {
                ivGen.before(ivSector, iv, src, srcOff + p, writing, cipher(0));
            }
            if (writing) {
                c.encrypt(src, srcOff + p, dst, dstOff + p, sectorSize, iv);
            } else {
                c.decrypt(dst, dstOff + p, sectorSize, iv);
            }
            if (ivGen != null) {
                ivGen.after(ivSector, iv, dst, dstOff + p, writing);
            }
        }
    }

    /** Drops every key schedule; the next use rebuilds them from the (new) key. */
    void wipe() {
        for (SectorCipher c : ciphers) {
            if (c != null) {
                c.wipe();
            }
        }
        Arrays.fill(ciphers, null);
    }
}
