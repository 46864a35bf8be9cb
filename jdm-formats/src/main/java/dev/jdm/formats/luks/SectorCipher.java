package dev.jdm.formats.luks;

import org.bouncycastle.crypto.BlockCipher;
import org.bouncycastle.crypto.engines.AESEngine;
import org.bouncycastle.crypto.engines.SerpentEngine;
import org.bouncycastle.crypto.engines.TwofishEngine;
import org.bouncycastle.crypto.params.KeyParameter;

import java.util.Arrays;

/**
 * dm-crypt's sector encryption (XTS or CBC with a per-sector IV) for the keyslot areas, which
 * cryptsetup encrypts exactly like a dm-crypt mapping of 512-byte sectors starting at IV 0.
 * Not thread-safe: one instance per operation.
 */
final class SectorCipher {

    private static final int BLOCK = 16;
    private static final int IV_UNIT = 512;

    private final CipherSpec spec;
    private final int sectorSize;
    private final BlockCipher encryptor;
    private final BlockCipher decryptor;
    /** XTS: the tweak cipher (second key half); CBC-ESSIV: the cipher keyed by hash(key). */
    private final BlockCipher ivCipher;

    SectorCipher(CipherSpec spec, byte[] key, int sectorSize) throws LuksException {
        spec.checkKeySize(key.length);
        this.spec = spec;
        this.sectorSize = sectorSize;
        boolean xts = "xts".equals(spec.chainMode());
        byte[] dataKey = xts ? Arrays.copyOfRange(key, 0, key.length / 2) : key.clone();
        this.encryptor = engine(spec.cipher(), true, dataKey);
        this.decryptor = engine(spec.cipher(), false, dataKey);
        Arrays.fill(dataKey, (byte) 0);
        if (xts) {
            byte[] tweakKey = Arrays.copyOfRange(key, key.length / 2, key.length);
            this.ivCipher = engine(spec.cipher(), true, tweakKey);
            Arrays.fill(tweakKey, (byte) 0);
        } else if ("essiv".equals(spec.ivMode())) {
            byte[] salt = HashAlgorithm.byName(spec.ivOption()).hash(key);
            this.ivCipher = engine(spec.cipher(), true, salt);
            Arrays.fill(salt, (byte) 0);
        } else {
            this.ivCipher = null;
        }
    }

    private static BlockCipher engine(String name, boolean encrypt, byte[] key) throws LuksException {
        BlockCipher engine = switch (name) {
            case "aes" -> AESEngine.newInstance();
            case "serpent" -> new SerpentEngine();
            case "twofish" -> new TwofishEngine();
            default -> throw new LuksException("Cipher " + name + " is not available.");
        };
        try {
            engine.init(encrypt, new KeyParameter(key));
        } catch (IllegalArgumentException e) {
            throw new LuksException("Cipher " + name + " (key size " + key.length * 8 + " bits) is not available.", e);
        }
        return engine;
    }

    void encrypt(byte[] data, long firstSector) {
        process(data, firstSector, true);
    }

    void decrypt(byte[] data, long firstSector) {
        process(data, firstSector, false);
    }

    private void process(byte[] data, long firstSector, boolean encrypt) {
        if (data.length % sectorSize != 0) {
            throw new IllegalArgumentException("data is not a whole number of " + sectorSize + "-byte sectors");
        }
        long ivSector = firstSector;
        for (int offset = 0; offset < data.length; offset += sectorSize) {
            byte[] iv = iv(ivSector);
            if ("xts".equals(spec.chainMode())) {
                xts(data, offset, iv, encrypt);
            } else if (encrypt) {
                cbcEncrypt(data, offset, iv);
            } else {
                cbcDecrypt(data, offset, iv);
            }
            // plain64 counts 512-byte units whatever the sector size (no iv_large_sectors).
            ivSector += sectorSize / IV_UNIT;
        }
    }

    private byte[] iv(long sector) {
        byte[] iv = new byte[BLOCK];
        switch (spec.ivMode()) {
            case "plain" -> putLittleEndian(iv, sector & 0xFFFF_FFFFL, 4);
            case "plain64", "essiv" -> putLittleEndian(iv, sector, 8);
            case "plain64be" -> {
                for (int i = 0; i < 8; i++) {
                    iv[BLOCK - 1 - i] = (byte) (sector >>> (8 * i));
                }
            }
            default -> { } // "null": all zero
        }
        if ("essiv".equals(spec.ivMode())) {
            ivCipher.processBlock(iv, 0, iv, 0);
        }
        return iv;
    }

    private static void putLittleEndian(byte[] dst, long value, int bytes) {
        for (int i = 0; i < bytes; i++) {
            dst[i] = (byte) (value >>> (8 * i));
        }
    }

    /** IEEE 1619 XTS without ciphertext stealing (sectors are whole blocks). */
    private void xts(byte[] data, int offset, byte[] iv, boolean encrypt) {
        byte[] tweak = new byte[BLOCK];
        ivCipher.processBlock(iv, 0, tweak, 0);
        BlockCipher cipher = encrypt ? encryptor : decryptor;
        byte[] block = new byte[BLOCK];
        for (int at = offset; at < offset + sectorSize; at += BLOCK) {
            for (int i = 0; i < BLOCK; i++) {
                block[i] = (byte) (data[at + i] ^ tweak[i]);
            }
            cipher.processBlock(block, 0, block, 0);
            for (int i = 0; i < BLOCK; i++) {
                data[at + i] = (byte) (block[i] ^ tweak[i]);
            }
            multiplyByAlpha(tweak);
        }
    }

    /** Multiplies the tweak by x in GF(2^128), little-endian byte order as XTS defines it. */
    private static void multiplyByAlpha(byte[] tweak) {
        int carry = 0;
        for (int i = 0; i < BLOCK; i++) {
            int b = tweak[i] & 0xFF;
            tweak[i] = (byte) ((b << 1) | carry);
            carry = b >>> 7;
        }
        if (carry != 0) {
            tweak[0] ^= (byte) 0x87;
        }
    }

    private void cbcEncrypt(byte[] data, int offset, byte[] iv) {
        byte[] chain = iv;
        for (int at = offset; at < offset + sectorSize; at += BLOCK) {
            for (int i = 0; i < BLOCK; i++) {
                data[at + i] ^= chain[i];
            }
            encryptor.processBlock(data, at, data, at);
            chain = Arrays.copyOfRange(data, at, at + BLOCK);
        }
    }

    private void cbcDecrypt(byte[] data, int offset, byte[] iv) {
        byte[] chain = iv;
        for (int at = offset; at < offset + sectorSize; at += BLOCK) {
            byte[] cipherText = Arrays.copyOfRange(data, at, at + BLOCK);
            decryptor.processBlock(data, at, data, at);
            for (int i = 0; i < BLOCK; i++) {
                data[at + i] ^= chain[i];
            }
            chain = cipherText;
        }
    }
}
