package dev.jdm.formats.luks;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

import java.security.SecureRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

class AntiForensicTest {

    @Property(tries = 60)
    void mergeUndoesSplit(@ForAll @Size(min = 1, max = 80) byte[] key, @ForAll @IntRange(min = 1, max = 40) int stripes,
                          @ForAll HashAlgorithm hash) {
        byte[] material = AntiForensic.split(key, stripes, hash, new SecureRandom());
        assertEquals(key.length * stripes, material.length);
        assertArrayEquals(key, AntiForensic.merge(material, key.length, stripes, hash));
    }

    /** The point of the splitter: damage to any one stripe loses the key. */
    @Property(tries = 40)
    void anyDamagedStripeLosesTheKey(@ForAll @Size(min = 16, max = 64) byte[] key,
                                     @ForAll @IntRange(min = 2, max = 20) int stripes,
                                     @ForAll @IntRange(min = 0, max = 10_000) int where) {
        byte[] material = AntiForensic.split(key, stripes, HashAlgorithm.SHA256, new SecureRandom());
        material[where % material.length] ^= 1;
        assertFalse(java.util.Arrays.equals(key, AntiForensic.merge(material, key.length, stripes,
                HashAlgorithm.SHA256)));
    }
}
