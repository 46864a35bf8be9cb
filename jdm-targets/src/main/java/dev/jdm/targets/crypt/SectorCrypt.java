package dev.jdm.targets.crypt;

import java.util.Arrays;

/**
 * dm-crypt's transform of whole sectors, for code that encrypts without a mapping: the bytes are
 * exactly what a table {@code crypt <cipherSpec> <key> 0 <dev> 0 [1 sector_size:<n>]} would write at
 * the same sectors. LUKS keyslot areas use it (cryptsetup encrypts them like a dm-crypt mapping).
 * One thread at a time; {@link #close()} wipes the key and every schedule made from it.
 */
public final class SectorCrypt implements AutoCloseable {
    private final byte[] key;
    private final int sectorSize;
    private final IvGenerator ivGenerator;
    private final SectorTransformer transformer;

    private SectorCrypt(KeyLayout layout, byte[] key, int sectorSize) {
        this.key = key;
        this.sectorSize = sectorSize;
        this.ivGenerator = layout.ivGenerator(key, sectorSize);
        this.transformer = new SectorTransformer(layout, key, sectorSize, false);
    }

    /**
     * A transform for a crypt table's cipher argument and key (copied; the caller keeps and wipes its own).
     *
     * @throws IllegalArgumentException the spec is not supported or the key does not fit it (the message never holds the key)
     */
    public static SectorCrypt create(String cipherSpec, byte[] key, int sectorSize) {
        if (sectorSize < 512 || sectorSize > 4096 || Integer.bitCount(sectorSize) != 1) {
            throw new IllegalArgumentException("sector size " + sectorSize + " is not a power of two from 512 to 4096");
        }
        CipherSpec spec = CipherSpec.parse(cipherSpec);
        CipherAlgorithm algorithm = CipherAlgorithm.of(spec);
        KeyLayout.checkIvMode(KeyLayout.ivMode(spec, algorithm), sectorSize);
        KeyLayout layout = new KeyLayout(spec, algorithm, key.length);
        return new SectorCrypt(layout, key.clone(), sectorSize);
    }

    /** Encrypts {@code data[off, off+len)} in place; {@code firstSector} counts 512-byte sectors, as iv_offset does. */
    public void encrypt(byte[] data, int off, int len, long firstSector) {
        transform(data, off, len, firstSector, true);
    }

    /** Decrypts in place, the reverse of {@link #encrypt}. */
    public void decrypt(byte[] data, int off, int len, long firstSector) {
        transform(data, off, len, firstSector, false);
    }

    private void transform(byte[] data, int off, int len, long firstSector, boolean writing) {
        if (len % sectorSize != 0) {
            throw new IllegalArgumentException(len + " bytes are not a whole number of " + sectorSize + "-byte sectors");
        }
        transformer.transform(ivGenerator, data, off, data, off, len, firstSector, writing);
    }

    @Override
    public void close() {
        transformer.wipe();
        if (ivGenerator != null) {
            ivGenerator.wipe();
        }
        Arrays.fill(key, (byte) 0);
    }
}
