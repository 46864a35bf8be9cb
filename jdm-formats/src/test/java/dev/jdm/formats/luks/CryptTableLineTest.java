package dev.jdm.formats.luks;

import org.junit.jupiter.api.Test;

import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Feature order and counting as cryptsetup's get_dm_crypt_params writes them. */
class CryptTableLineTest {

    private static final byte[] KEY = {0x00, 0x01, (byte) 0xab, (byte) 0xff};

    @Test
    void noFeaturesNoCount() throws Exception {
        assertEquals("0 100 crypt aes-cbc-essiv:sha256 0001abff 0 /d.img 4096",
                CryptTableLine.format(100, CipherSpec.parse("aes-cbc-essiv:sha256"), KEY, 0, "/d.img", 4096, 512,
                        Set.of()));
    }

    @Test
    void featuresInCryptsetupsOrderThenSectorSize() throws Exception {
        assertEquals("0 8192 crypt aes-xts-plain64 0001abff 16 8:16 32768 4 allow_discards same_cpu_crypt "
                        + "no_write_workqueue sector_size:4096",
                CryptTableLine.format(8192, CipherSpec.parse("aes-xts-plain64"), KEY, 16, "8:16", 32768, 4096,
                        Set.of("no-write-workqueue", "allow-discards", "same-cpu-crypt", "no-journal")));
    }
}
