package dev.jdm.formats.luks;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.bouncycastle.crypto.digests.RIPEMD160Digest;
import org.bouncycastle.crypto.digests.SHA1Digest;
import org.bouncycastle.crypto.digests.SHA224Digest;
import org.bouncycastle.crypto.digests.SHA256Digest;
import org.bouncycastle.crypto.digests.SHA384Digest;
import org.bouncycastle.crypto.digests.SHA512Digest;
import org.bouncycastle.crypto.Digest;
import org.bouncycastle.crypto.generators.PKCS5S2ParametersGenerator;
import org.bouncycastle.crypto.params.KeyParameter;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.HexFormat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class KdfTest {

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    /** RFC 6070 PBKDF2-HMAC-SHA1 test vectors 1, 2, 3 and 5. */
    @Test
    void rfc6070Vectors() {
        assertEquals("0c60c80f961f0e71f3a9b524af6012062fe037a6", hex(pbkdf2(HashAlgorithm.SHA1, "password", "salt", 1, 20)));
        assertEquals("ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957", hex(pbkdf2(HashAlgorithm.SHA1, "password", "salt", 2, 20)));
        assertEquals("4b007901b765489abead49d926f721d065a429c1", hex(pbkdf2(HashAlgorithm.SHA1, "password", "salt", 4096, 20)));
        assertEquals("3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038",
                hex(pbkdf2(HashAlgorithm.SHA1, "passwordPASSWORDpassword", "saltSALTsaltSALTsaltSALTsaltSALTsalt", 4096, 25)));
    }

    /** Same bytes as Bouncy Castle's PBKDF2 for every hash, passphrases empty, short and longer than a block. */
    @Property(tries = 60)
    void agreesWithBouncyCastle(@ForAll HashAlgorithm hash, @ForAll @Size(max = 200) byte[] passphrase,
                                @ForAll @Size(max = 40) byte[] salt, @ForAll @IntRange(min = 1, max = 50) int iterations,
                                @ForAll @IntRange(min = 1, max = 150) int length) {
        PKCS5S2ParametersGenerator generator = new PKCS5S2ParametersGenerator(bouncyCastle(hash));
        generator.init(passphrase, salt, iterations);
        byte[] expected = ((KeyParameter) generator.generateDerivedMacParameters(length * 8)).getKey();
        assertArrayEquals(expected, new Kdf.Pbkdf2(hash, iterations, salt).derive(passphrase, length));
    }

    /**
     * Outputs of the reference implementation (Debian's argon2 tool), e.g.
     * {@code echo -n password | argon2 somesalt -id -t 2 -k 64 -p 1 -l 32 -r}.
     */
    @Test
    void argon2MatchesTheReferenceImplementation() {
        assertEquals("16a1a498734609dd01456da406de9f3d9da93e6c86c300a12fc1465214ce4922",
                hex(new Kdf.Argon2(true, 2, 64, 1, ascii("somesalt")).derive(ascii("password"), 32)));
        assertEquals("1ef0fe28c7ef705a6c04cb107cd4de2e77df575f269844ee92eca13b1b4db837"
                        + "2b8825f7489436e89f07f4c1806aedc799f09c012029e3d36752d38748c9156a",
                hex(new Kdf.Argon2(false, 3, 32, 2, ascii("somesalt")).derive(ascii("password"), 64)));
    }

    private static byte[] pbkdf2(HashAlgorithm hash, String passphrase, String salt, int iterations, int length) {
        return new Kdf.Pbkdf2(hash, iterations, ascii(salt)).derive(ascii(passphrase), length);
    }

    private static Digest bouncyCastle(HashAlgorithm hash) {
        return switch (hash) {
            case SHA1 -> new SHA1Digest();
            case SHA224 -> new SHA224Digest();
            case SHA256 -> new SHA256Digest();
            case SHA384 -> new SHA384Digest();
            case SHA512 -> new SHA512Digest();
            case RIPEMD160 -> new RIPEMD160Digest();
        };
    }

    private static String hex(byte[] bytes) {
        return HexFormat.of().formatHex(bytes);
    }
}
