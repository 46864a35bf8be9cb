package dev.jdm.formats.luks;

import org.junit.jupiter.api.Test;

import java.util.HexFormat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The keyslot-area cipher against published vectors and dm-crypt's IV rules. */
class SectorCipherTest {

    private static final HexFormat HEX = HexFormat.of();

    /** IEEE 1619-2007 XTS-AES-128 vector 1: zero keys, data unit 0, 32 zero bytes. */
    @Test
    void xtsAesVector1() throws Exception {
        byte[] data = new byte[32];
        new SectorCipher(CipherSpec.parse("aes-xts-plain64"), new byte[32], 32).encrypt(data, 0);
        assertEquals("917cf69ebd68b2ec9b9fe9a3eadda692cd43d2f59598ed858c02c2652fbf922e", HEX.formatHex(data));
    }

    /** IEEE 1619-2007 vector 2: key1 = 11.., key2 = 22.., data unit 0x3333333333, plaintext 44... */
    @Test
    void xtsAesVector2RoundTrips() throws Exception {
        byte[] key = HEX.parseHex("11".repeat(16) + "22".repeat(16));
        byte[] data = HEX.parseHex("44".repeat(32));
        SectorCipher cipher = new SectorCipher(CipherSpec.parse("aes-xts-plain64"), key, 32);
        cipher.encrypt(data, 0x3333333333L);
        assertEquals("c454185e6a16936e39334038acef838bfb186fff7480adc4289382ecd6d394f0", HEX.formatHex(data));
        cipher.decrypt(data, 0x3333333333L);
        assertEquals("44".repeat(32), HEX.formatHex(data));
    }

    /** Sector n of a 512-byte-sector buffer uses IV n: encrypting sectors one by one gives the same bytes. */
    @Test
    void consecutiveSectorsUseConsecutiveIvs() throws Exception {
        for (String spec : new String[] {"aes-xts-plain64", "aes-cbc-essiv:sha256", "serpent-cbc-plain64",
            "twofish-xts-plain"}) {
            byte[] key = new byte[spec.contains("xts") ? 64 : 32];
            for (int i = 0; i < key.length; i++) {
                key[i] = (byte) (7 * i + 1);
            }
            byte[] whole = new byte[1536];
            for (int i = 0; i < whole.length; i++) {
                whole[i] = (byte) i;
            }
            byte[] pieces = whole.clone();
            SectorCipher cipher = new SectorCipher(CipherSpec.parse(spec), key, 512);
            cipher.encrypt(whole, 40);
            for (int sector = 0; sector < 3; sector++) {
                byte[] one = java.util.Arrays.copyOfRange(pieces, 512 * sector, 512 * sector + 512);
                cipher.encrypt(one, 40 + sector);
                assertEquals(HEX.formatHex(java.util.Arrays.copyOfRange(whole, 512 * sector, 512 * sector + 512)),
                        HEX.formatHex(one), spec + " sector " + sector);
            }
            cipher.decrypt(whole, 40);
            for (int i = 0; i < whole.length; i++) {
                assertEquals((byte) i, whole[i], spec);
            }
        }
    }

    @Test
    void refusesKeySizesTheCipherCannotTake() throws Exception {
        CipherSpec xts = CipherSpec.parse("aes-xts-plain64");
        assertEquals("Cipher aes-xts-plain64 (key size 320 bits) is not available.",
                assertThrows(LuksException.class, () -> new SectorCipher(xts, new byte[40], 512)).getMessage());
        assertThrows(LuksException.class, () -> new SectorCipher(CipherSpec.parse("aes-cbc-plain"), new byte[64], 512));
    }
}
