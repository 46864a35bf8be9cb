package dev.jdm.targets.crypt;

import dev.jdm.core.testing.ExternalTools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Optional;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** libcrypto's AES-XTS ({@link OpenSslXts}) and the Java one ({@link XtsSectorCipher}), each explicitly, against the standard and each other. */
class OpenSslXtsTest {
    private static final HexFormat HEX = HexFormat.of();

    private static SectorCipher java(byte[] key, int maxSectorSize) {
        int half = key.length / 2;
        return new XtsSectorCipher(BlockCipherKind.AES.create(Arrays.copyOfRange(key, 0, half)),
                BlockCipherKind.AES.create(Arrays.copyOfRange(key, half, key.length)), maxSectorSize);
    }

    private static SectorCipher openssl(byte[] key) {
        ExternalTools.require(OpenSslXts.available(), "libcrypto.so.3 is not installed (Debian package libssl3)");
        return OpenSslXts.create(key).orElseThrow();
    }

    @Test
    void libcryptoIsThereOnMachinesThatHaveOpenSsl() {
        // The build machines have OpenSSL 3; where they do, the OpenSSL path must really be taken.
        ExternalTools.require(new java.io.File("/usr/lib/x86_64-linux-gnu/libcrypto.so.3").exists(), "libcrypto.so.3 is not installed (Debian package libssl3)");
        assertTrue(OpenSslXts.available());
        byte[] key = new byte[64];
        new SplittableRandom(1).nextBytes(key);
        assertInstanceOf(OpenSslXts.class, CipherAlgorithm.of(CipherSpec.parse("aes-xts-plain64")).create(key, 4096));
        assertInstanceOf(OpenSslXts.class, CipherAlgorithm.of(CipherSpec.parse("capi:xts(aes)-plain64")).create(Arrays.copyOf(key, 32), 4096));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.jdm.targets.crypt.XtsVectorsTest#vectors")
    void bothImplementationsEncryptAndDecryptLikeTheStandard(XtsVectorsTest.Vector v) {
        boolean equalHalves = Arrays.equals(v.key(), 0, v.key().length / 2, v.key(), v.key().length / 2, v.key().length);
        check(java(v.key(), 512), v);
        if (equalHalves) {
            // Vector 1 has K1 = K2 = 0: OpenSSL refuses it, the kernel (outside FIPS) and the Java path take it.
            assertTrue(OpenSslXts.create(v.key()).isEmpty());
            assertInstanceOf(XtsSectorCipher.class, CipherAlgorithm.of(CipherSpec.parse("aes-xts-plain64")).create(v.key(), 512));
        } else {
            check(openssl(v.key()), v);
        }
    }

    private static void check(SectorCipher cipher, XtsVectorsTest.Vector v) {
        byte[] buf = v.plain().clone();
        cipher.encrypt(buf, 0, buf.length, v.tweak());
        assertEquals(HEX.formatHex(v.cipher()), HEX.formatHex(buf));
        byte[] out = new byte[buf.length + 7];
        cipher.encrypt(v.plain(), 0, out, 7, v.plain().length, v.tweak()); // out of place, at an offset
        assertArrayEquals(v.cipher(), Arrays.copyOfRange(out, 7, out.length));
        cipher.decrypt(buf, 0, buf.length, v.tweak());
        assertArrayEquals(v.plain(), buf);
    }

    /**
     * Random keys, tweaks, sectors and lengths (whole and partial blocks); the sector data comes from
     * and goes back to heap and direct buffers, as the target's reads and writes get them.
     */
    @ParameterizedTest(name = "{0}-byte key, IV written into the provider: {1}")
    @CsvSource({"32, true", "64, true", "32, false", "64, false"})
    void agreeOnRandomSectorsInHeapAndDirectBuffers(int keyLength, boolean directIv) {
        ExternalTools.require(OpenSslXts.available(), "libcrypto.so.3 is not installed (Debian package libssl3)");
        SplittableRandom random = new SplittableRandom(keyLength);
        for (int round = 0; round < 40; round++) {
            byte[] key = new byte[keyLength];
            random.nextBytes(key);
            SectorCipher java = java(key, 4096);
            Optional<SectorCipher> maybe = OpenSslXts.create(key, directIv);
            ExternalTools.require(maybe.isPresent(), "this libcrypto gives no pointer to its IV");
            SectorCipher openssl = maybe.get();
            for (int s = 0; s < 25; s++) {
                int len = switch (s % 3) {
                    case 0 -> 512 << random.nextInt(4);      // a crypt sector
                    case 1 -> 16 * (1 + random.nextInt(256)); // whole blocks
                    default -> 17 + random.nextInt(4096 - 17); // ciphertext stealing
                };
                byte[] tweak = new byte[16];
                random.nextBytes(tweak);
                ByteBuffer source = random.nextBoolean() ? ByteBuffer.allocateDirect(len + 32) : ByteBuffer.allocate(len + 32);
                byte[] fill = new byte[len + 32];
                random.nextBytes(fill);
                source.put(fill).clear();
                int at = random.nextInt(32);
                byte[] plain = new byte[len];
                source.get(at, plain);

                byte[] viaJava = plain.clone();
                java.encrypt(viaJava, 0, len, tweak);
                byte[] viaOpenSsl = new byte[len + at];
                openssl.encrypt(plain, 0, viaOpenSsl, at, len, tweak);
                assertArrayEquals(viaJava, Arrays.copyOfRange(viaOpenSsl, at, at + len), "encrypting " + len + " bytes");
                byte[] again = new byte[len];
                source.get(at, again);
                assertArrayEquals(plain, again, "the source is left alone");

                source.put(at, viaJava);
                byte[] back = new byte[len];
                source.get(at, back);
                openssl.decrypt(back, 0, len, tweak);
                assertArrayEquals(plain, back, "decrypting " + len + " bytes");
                java.decrypt(viaJava, 0, len, tweak);
                assertArrayEquals(plain, viaJava);
            }
            java.wipe();
            openssl.wipe();
        }
    }

    @Test
    void aWipedCipherRefusesToWork() {
        byte[] key = new byte[64];
        new SplittableRandom(7).nextBytes(key);
        SectorCipher cipher = openssl(key);
        cipher.wipe();
        cipher.wipe(); // twice is harmless
        assertThrows(IllegalStateException.class, () -> cipher.encrypt(new byte[512], 0, 512, new byte[16]));
    }

    @Test
    void aes192AndSerpentStayOnJava() {
        byte[] key = new byte[64];
        new SplittableRandom(3).nextBytes(key);
        assertTrue(OpenSslXts.create(Arrays.copyOf(key, 48)).isEmpty());
        assertInstanceOf(XtsSectorCipher.class, CipherAlgorithm.of(CipherSpec.parse("aes-xts-plain64")).create(Arrays.copyOf(key, 48), 512));
        assertInstanceOf(XtsSectorCipher.class, CipherAlgorithm.of(CipherSpec.parse("serpent-xts-plain64")).create(key, 512));
        assertInstanceOf(XtsSectorCipher.class, CipherAlgorithm.of(CipherSpec.parse("twofish-xts-plain64")).create(key, 512));
    }
}
