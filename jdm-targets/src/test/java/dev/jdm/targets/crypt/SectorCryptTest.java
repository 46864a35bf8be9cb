package dev.jdm.targets.crypt;

import dev.jdm.targets.Images;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * {@link SectorCrypt}, the crypt transform without a mapping (LUKS keyslots use it), gives the same
 * ciphertext as the independent reference the crypt target is checked against, for every case of
 * {@link CryptConformanceTest} it can express.
 */
class SectorCryptTest {
    private static final HexFormat HEX = HexFormat.of();

    @BeforeAll
    static void openssl() {
        CryptReference.requireOpenssl();
    }

    static List<CryptConformanceTest.Case> cases() {
        return CryptConformanceTest.cases().stream().filter(c -> !c.ivLargeSectors()).toList();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesTheReference(CryptConformanceTest.Case c) {
        byte[] key = Images.pattern(c.keyBytes(), c.keyBytes() * 31 + c.sectorSize());
        byte[] plain = Images.pattern(4 * c.sectorSize(), c.hashCode());
        byte[] data = plain.clone();
        try (SectorCrypt crypt = SectorCrypt.create(c.spec(), key, c.sectorSize())) {
            crypt.encrypt(data, 0, data.length, c.ivOffset());
            assertEquals(HEX.formatHex(CryptConformanceTest.reference(c, key, plain)), HEX.formatHex(data));
            crypt.decrypt(data, 0, data.length, c.ivOffset());
            assertArrayEquals(plain, data);
        }
    }

    @Test
    void aPieceOfABufferUsesItsOwnSectorNumbers() {
        byte[] key = Images.pattern(64, 5);
        byte[] whole = Images.pattern(1536, 9);
        byte[] middle = Arrays.copyOfRange(whole, 512, 1024);
        try (SectorCrypt crypt = SectorCrypt.create("aes-xts-plain64", key, 512)) {
            crypt.encrypt(whole, 0, whole.length, 40);
            crypt.encrypt(middle, 0, 512, 41);
        }
        assertArrayEquals(Arrays.copyOfRange(whole, 512, 1024), middle);
    }

    @Test
    void refusesWhatATableWouldRefuse() {
        assertEquals("Error decoding and setting key: a 40-byte key does not fit aes-xts-plain64 (1 key of 32, 48, 64 bytes)",
                assertThrows(IllegalArgumentException.class, () -> SectorCrypt.create("aes-xts-plain64", new byte[40], 512)).getMessage());
        assertEquals("Unsupported sector size for LMK (512-byte sectors only)",
                assertThrows(IllegalArgumentException.class, () -> SectorCrypt.create("aes:64-cbc-lmk", new byte[1024], 4096)).getMessage());
        assertEquals("sector size 1000 is not a power of two from 512 to 4096",
                assertThrows(IllegalArgumentException.class, () -> SectorCrypt.create("aes-xts-plain64", new byte[64], 1000)).getMessage());
        try (SectorCrypt crypt = SectorCrypt.create("aes-xts-plain64", new byte[64], 4096)) {
            assertEquals("512 bytes are not a whole number of 4096-byte sectors",
                    assertThrows(IllegalArgumentException.class, () -> crypt.encrypt(new byte[512], 0, 512, 0)).getMessage());
        }
    }
}
