package dev.jdm.formats.luks;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class CipherSpecTest {

    @Test
    void splitsIntoTheLuks1Fields() throws Exception {
        CipherSpec essiv = CipherSpec.parse("aes-cbc-essiv:sha256");
        assertEquals("aes", essiv.cipher());
        assertEquals("cbc-essiv:sha256", essiv.mode());
        assertEquals("aes-cbc-essiv:sha256", essiv.toString());
        assertEquals(CipherSpec.parse("serpent-xts-plain64"), CipherSpec.fromNameAndMode("serpent", "xts-plain64"));
    }

    @Test
    void refusesWhatItCannotDo() {
        for (String bad : new String[] {"aes", "aes-xts", "aes-gcm-random", "des-cbc-plain", "aes-cbc-essiv",
            "aes-cbc-essiv:md4", "aes-xts-plain64:sha256", "capi:xts(aes)-plain64"}) {
            assertThrows(LuksException.class, () -> CipherSpec.parse(bad), bad);
        }
    }

    @Test
    void keySizes() throws Exception {
        CipherSpec xts = CipherSpec.parse("aes-xts-plain64");
        xts.checkKeySize(32);
        xts.checkKeySize(64);
        assertEquals("Cipher aes-xts-plain64 (key size 128 bits) is not available.",
                assertThrows(LuksException.class, () -> xts.checkKeySize(16)).getMessage());
        CipherSpec cbc = CipherSpec.parse("twofish-cbc-plain64");
        cbc.checkKeySize(16);
        assertEquals("Cipher twofish-cbc-plain64 (key size 512 bits) is not available.",
                assertThrows(LuksException.class, () -> cbc.checkKeySize(64)).getMessage());
    }
}
