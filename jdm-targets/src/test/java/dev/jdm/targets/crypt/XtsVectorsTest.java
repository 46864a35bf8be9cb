package dev.jdm.targets.crypt;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Our XTS against the published IEEE 1619-2007 vectors, and the BC block ciphers against published single-block vectors. */
class XtsVectorsTest {
    private static final HexFormat HEX = HexFormat.of();

    record Vector(String name, byte[] key, byte[] tweak, byte[] plain, byte[] cipher) {
        @Override
        public String toString() {
            return "IEEE 1619 vector " + name + " (" + plain.length + " bytes, XTS-AES-" + key.length * 4 + ")";
        }
    }

    static List<Vector> vectors() throws IOException {
        try (var in = XtsVectorsTest.class.getResourceAsStream("ieee1619-xts-aes.txt");
             var r = new BufferedReader(new InputStreamReader(in, StandardCharsets.US_ASCII))) {
            return r.lines().filter(l -> !l.startsWith("#") && !l.isBlank()).map(l -> l.split(" "))
                    .map(f -> new Vector(f[0], HEX.parseHex(f[1]), HEX.parseHex(f[2]), HEX.parseHex(f[3]), HEX.parseHex(f[4])))
                    .toList();
        }
    }

    @Test
    void theVectorFileHoldsVectors1To5And10To18() throws IOException {
        assertEquals(List.of("1", "2", "3", "4", "5", "10", "11", "12", "13", "14", "15", "16", "17", "18"),
                vectors().stream().map(Vector::name).toList());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("vectors")
    void encryptsAndDecryptsLikeTheStandard(Vector v) {
        CipherAlgorithm xts = CipherAlgorithm.of(CipherSpec.parse("aes-xts-plain64"));
        SectorCipher cipher = xts.create(v.key(), 512);
        byte[] buf = v.plain().clone();
        cipher.encrypt(buf, 0, buf.length, v.tweak());
        assertEquals(HEX.formatHex(v.cipher()), HEX.formatHex(buf));
        cipher.decrypt(buf, 0, buf.length, v.tweak());
        assertArrayEquals(v.plain(), buf);
    }

    @Test
    void worksAtAnOffsetInsideALargerBuffer() throws IOException {
        Vector v = vectors().get(3);
        SectorCipher cipher = CipherAlgorithm.of(CipherSpec.parse("aes-xts-plain64")).create(v.key(), 4096);
        byte[] buf = new byte[v.plain().length + 48];
        Arrays.fill(buf, (byte) 0x5a);
        System.arraycopy(v.plain(), 0, buf, 16, v.plain().length);
        cipher.encrypt(buf, 16, v.plain().length, v.tweak());
        assertArrayEquals(v.cipher(), Arrays.copyOfRange(buf, 16, 16 + v.cipher().length));
        assertEquals(0x5a, buf[15]);
        assertEquals(0x5a, buf[16 + v.cipher().length]);
    }

    /**
     * NESSIE's Serpent-128 set 1 vector 0 (key 80 00.., plaintext 0 -> 49afbfad...) is the kernel's
     * "tnepres" byte order; the kernel's "serpent" is the same cipher with every byte string reversed.
     */
    @Test
    void serpentIsTheKernelsByteOrder() {
        byte[] key = new byte[16];
        key[15] = (byte) 0x80;
        byte[] out = new byte[16];
        BlockCipherKind.SERPENT.create(key).encrypt(new byte[16], 0, out, 0, 16);
        assertEquals("ddd26b98a5ffd82c05345a9dadbfaf49", HEX.formatHex(out));
    }

    /** The Twofish paper's first 128-bit known-answer test (key and plaintext zero). */
    @Test
    void twofishMatchesItsPublishedVector() {
        byte[] out = new byte[16];
        BlockCipherKind.TWOFISH.create(new byte[16]).encrypt(new byte[16], 0, out, 0, 16);
        assertEquals("9f589f5cf6122c32b6bfec2f2ae8c35a", HEX.formatHex(out));
    }
}
