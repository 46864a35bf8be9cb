package dev.jdm.formats.luks;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

import static dev.jdm.formats.luks.CryptsetupMadeVolumesTest.sparseFile;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Volumes formatted by jdm are what cryptsetup expects: same dump, same volume key, passphrases accepted. */
class JdmMadeVolumesTest {

    private static final byte[] PASSPHRASE = "first passphrase".getBytes(StandardCharsets.UTF_8);
    private static final byte[] SECOND = "second passphrase".getBytes(StandardCharsets.UTF_8);
    private static final byte[] THIRD = "third passphrase".getBytes(StandardCharsets.UTF_8);
    static final KdfOptions FAST_PBKDF2 = new KdfOptions("pbkdf2", HashAlgorithm.SHA256, 0, 1000, 0, 0);
    static final KdfOptions FAST_ARGON2ID = new KdfOptions("argon2id", HashAlgorithm.SHA256, 0, 4, 32, 1);
    static final KdfOptions FAST_ARGON2I = new KdfOptions("argon2i", HashAlgorithm.SHA512, 0, 4, 64, 2);

    record Case(String name, FormatOptions options, boolean detached, long expectedOffset, int expectedSectorSize) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Case> cases() {
        FormatOptions luks1 = FormatOptions.defaults(LuksVersion.LUKS1).withKdf(FAST_PBKDF2);
        FormatOptions luks2 = FormatOptions.defaults(LuksVersion.LUKS2).withKdf(FAST_ARGON2ID);
        return Stream.of(
                new Case("luks1 aes-xts 512 pbkdf2", luks1, false, 4096, 512),
                new Case("luks1 aes-cbc-essiv 256 pbkdf2-sha1", luks1.withCipher("aes-cbc-essiv:sha256", 256)
                        .withKdf(new KdfOptions("pbkdf2", HashAlgorithm.SHA1, 0, 1000, 0, 0)), false, 4096, 512),
                new Case("luks1 aes-xts 256 detached", luks1.withCipher("aes-xts-plain64", 256), true, 0, 512),
                new Case("luks2 aes-xts 512 argon2id auto-4096", luks2, false, 32768, 4096),
                new Case("luks2 aes-xts 256 argon2i 512", luks2.withCipher("aes-xts-plain64", 256).withKdf(FAST_ARGON2I)
                        .withSectorSize(512), false, 32768, 512),
                new Case("luks2 aes-cbc-essiv 256 pbkdf2-sha512", luks2.withCipher("aes-cbc-essiv:sha256", 256)
                        .withKdf(new KdfOptions("pbkdf2", HashAlgorithm.SHA512, 0, 1000, 0, 0)).withSectorSize(512),
                        false, 32768, 512),
                new Case("luks2 aes-xts 512 pbkdf2 detached labelled", luks2.withKdf(FAST_PBKDF2)
                        .withLabel("jdm-label", "jdm-subsystem"), true, 0, 4096));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void cryptsetupAgreesWithJdmFormat(Case c, @TempDir Path dir) throws Exception {
        LuksDevice device = device(c, dir);
        Luks.Formatted formatted = Luks.format(device, c.options(), PASSPHRASE);
        assertEquals(c.expectedOffset(), formatted.dataOffsetSectors());
        assertEquals(c.expectedSectorSize(), formatted.sectorSize());
        String header = device.header().toString();

        String dump = Cryptsetup.run(null, "luksDump", header).ok().stdout();
        assertEquals(dump, Luks.dump(device));
        CipherSpec cipher = CipherSpec.parse(c.options().cipher());
        int keyBits = c.options().keySizeBits() == 0 ? 512 : c.options().keySizeBits();
        if (c.options().type() == LuksVersion.LUKS1) {
            assertEquals("1", Cryptsetup.field(dump, "Version:"));
            assertEquals(cipher.cipher(), Cryptsetup.field(dump, "Cipher name:"));
            assertEquals(cipher.mode(), Cryptsetup.field(dump, "Cipher mode:"));
            assertEquals(c.options().kdf().hash().luksName(), Cryptsetup.field(dump, "Hash spec:"));
            assertEquals(Long.toString(c.expectedOffset()), Cryptsetup.field(dump, "Payload offset:"));
            assertEquals(Integer.toString(keyBits), Cryptsetup.field(dump, "MK bits:"));
            assertEquals("1000", Cryptsetup.field(dump, "Iterations:"));
        } else {
            assertEquals("2", Cryptsetup.field(dump, "Version:"));
            assertEquals(cipher.toString(), Cryptsetup.field(dump, "cipher:"));
            assertEquals(c.expectedOffset() * 512 + " [bytes]", Cryptsetup.field(dump, "offset:"));
            assertEquals(c.expectedSectorSize() + " [bytes]", Cryptsetup.field(dump, "sector:"));
            assertEquals(keyBits + " bits", Cryptsetup.field(dump, "Key:"));
            assertEquals(c.options().kdf().pbkdf(), Cryptsetup.field(dump, "PBKDF:"));
            assertEquals(Cryptsetup.run(null, "luksDump", "--dump-json-metadata", header).ok().stdout().strip(),
                    Luks.dumpJson(device));
        }

        assertEquals(0, testPassphrase(device, PASSPHRASE, -1).exitCode());
        Cryptsetup.Result wrong = testPassphrase(device, SECOND, -1);
        assertEquals(2, wrong.exitCode());
        assertTrue(wrong.stderr().contains("No key available with this passphrase."), wrong.stderr());
        try (Unlocked unlocked = Luks.open(device, OpenOptions.defaults(), PASSPHRASE)) {
            assertArrayEquals(Cryptsetup.dumpVolumeKey(device.header(), PASSPHRASE), unlocked.volumeKey());
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void keyslotChangesAreSeenByCryptsetup(Case c, @TempDir Path dir) throws Exception {
        LuksDevice device = device(c, dir);
        Luks.format(device, c.options(), PASSPHRASE);
        KdfOptions kdf = c.options().kdf();
        boolean luks1 = c.options().type() == LuksVersion.LUKS1;

        assertEquals(1, Luks.addKey(device, PASSPHRASE, SECOND, -1, kdf));
        assertEquals(0, testPassphrase(device, SECOND, 1).exitCode());
        assertEquals(List.of(0, 1), cryptsetupActiveSlots(device));

        // LUKS1 moves the changed key to the first free slot; LUKS2 keeps the slot number (cryptsetup 2.x)
        // but writes the new key material to a free area before the old one is wiped.
        String areaBefore = luks1 ? "" : Cryptsetup.field(Luks.dump(device), "Area offset:");
        int changed = Luks.changeKey(device, PASSPHRASE, THIRD, -1, kdf);
        if (!luks1) {
            assertNotEquals(areaBefore, Cryptsetup.field(Luks.dump(device), "Area offset:"));
        }
        assertEquals(luks1 ? 2 : 0, changed);
        assertEquals(2, testPassphrase(device, PASSPHRASE, -1).exitCode());
        assertEquals(0, testPassphrase(device, THIRD, changed).exitCode());
        assertEquals(luks1 ? List.of(1, 2) : List.of(0, 1), cryptsetupActiveSlots(device));

        assertEquals(1, Luks.removeKey(device, SECOND));
        assertEquals(2, testPassphrase(device, SECOND, -1).exitCode());
        assertEquals(List.of(changed), cryptsetupActiveSlots(device));

        // And the other way round: a slot cryptsetup adds opens in jdm with the same volume key.
        Cryptsetup.run((new String(THIRD, StandardCharsets.UTF_8) + "\n" + "added by cryptsetup\n")
                        .getBytes(StandardCharsets.UTF_8),
                withHeader(device, "luksAddKey", "--batch-mode", "--pbkdf", "pbkdf2", "--pbkdf-force-iterations",
                        "1000", "--key-slot", "5")).ok();
        byte[] key = Cryptsetup.dumpVolumeKey(device.header(), THIRD);
        try (Unlocked unlocked = Luks.open(device, OpenOptions.defaults(),
                "added by cryptsetup".getBytes(StandardCharsets.UTF_8))) {
            assertEquals(5, unlocked.keyslot());
            assertArrayEquals(key, unlocked.volumeKey());
        }
    }

    @Test
    void serpentAndTwofishHeadersAreReadByCryptsetupAndOpenInJdm(@TempDir Path dir) throws Exception {
        for (String spec : List.of("serpent-xts-plain64", "twofish-xts-plain64", "serpent-cbc-essiv:sha256")) {
            for (LuksVersion version : LuksVersion.values()) {
                Path image = sparseFile(dir.resolve(spec.replace(':', '_') + version + ".img"));
                LuksDevice device = LuksDevice.of(image);
                int bits = spec.contains("xts") ? 512 : 256;
                Luks.format(device, FormatOptions.defaults(version).withCipher(spec, bits).withKdf(FAST_PBKDF2)
                        .withSectorSize(version == LuksVersion.LUKS2 ? 512 : 0), PASSPHRASE);
                String dump = Cryptsetup.run(null, "luksDump", image.toString()).ok().stdout();
                assertEquals(dump, Luks.dump(device));
                CipherSpec cipher = CipherSpec.parse(spec);
                if (version == LuksVersion.LUKS1) {
                    assertEquals(cipher.cipher(), Cryptsetup.field(dump, "Cipher name:"));
                    assertEquals(cipher.mode(), Cryptsetup.field(dump, "Cipher mode:"));
                } else {
                    assertEquals(spec, Cryptsetup.field(dump, "cipher:"));
                }
                try (Unlocked unlocked = Luks.open(device, OpenOptions.defaults(), PASSPHRASE)) {
                    assertEquals(bits / 8, unlocked.volumeKey().length);
                    String offset = version == LuksVersion.LUKS1 ? "4096" : "32768";
                    assertEquals("0 " + (40960 - Long.parseLong(offset)) + " crypt " + spec + " "
                            + HexFormat.of().formatHex(unlocked.volumeKey()) + " 0 " + image.toAbsolutePath() + " "
                            + offset, unlocked.tableLine());
                }
            }
        }
    }

    /** Without forced costs the KDF is benchmarked; whatever it picks, cryptsetup must take it. */
    @Test
    void benchmarkedCostsAreAcceptedByCryptsetup(@TempDir Path dir) throws Exception {
        KdfOptions pbkdf2 = new KdfOptions("pbkdf2", HashAlgorithm.SHA256, 100, 0, 0, 0);
        KdfOptions argon2 = new KdfOptions("argon2id", HashAlgorithm.SHA256, 100, 0, 1024, 1);
        for (FormatOptions options : List.of(FormatOptions.defaults(LuksVersion.LUKS1).withKdf(pbkdf2),
                FormatOptions.defaults(LuksVersion.LUKS2).withKdf(argon2))) {
            LuksDevice device = LuksDevice.of(sparseFile(dir.resolve(options.type() + ".img")));
            Luks.format(device, options, PASSPHRASE);
            String dump = Cryptsetup.run(null, "luksDump", device.header().toString()).ok().stdout();
            if (options.type() == LuksVersion.LUKS1) {
                assertTrue(Long.parseLong(Cryptsetup.field(dump, "Iterations:")) >= 1000, dump);
                assertTrue(Long.parseLong(Cryptsetup.field(dump, "MK iterations:")) >= 1000, dump);
            } else {
                assertTrue(Long.parseLong(Cryptsetup.field(dump, "Time cost:")) >= 4, dump);
                assertEquals("1024", Cryptsetup.field(dump, "Memory:"));
            }
            assertEquals(0, testPassphrase(device, PASSPHRASE, -1).exitCode());
        }
    }

    /** --uuid and --volume-key-file at format, luksAddKey --volume-key-file later. */
    @Test
    void givenVolumeKeyAndUuid(@TempDir Path dir) throws Exception {
        byte[] volumeKey = HexFormat.of().parseHex("00112233445566778899aabbccddeeff".repeat(4));
        String uuid = "12345678-9abc-def0-1234-56789abcdef0";
        LuksDevice device = LuksDevice.of(sparseFile(dir.resolve("given.img")));
        Luks.format(device, FormatOptions.defaults(LuksVersion.LUKS2).withKdf(FAST_PBKDF2).withUuid(uuid)
                .withVolumeKey(volumeKey), PASSPHRASE);
        assertEquals(uuid, Cryptsetup.run(null, "luksUUID", device.header().toString()).ok().stdout().strip());
        assertArrayEquals(volumeKey, Cryptsetup.dumpVolumeKey(device.header(), PASSPHRASE));

        byte[] otherKey = volumeKey.clone();
        otherKey[0] ^= 1;
        assertEquals("Volume key does not match the volume.", org.junit.jupiter.api.Assertions.assertThrows(
                LuksException.class, () -> Luks.addKeyWithVolumeKey(device, otherKey, SECOND, -1, FAST_PBKDF2))
                .getMessage());
        assertEquals(3, Luks.addKeyWithVolumeKey(device, volumeKey, SECOND, 3, FAST_PBKDF2));
        assertEquals(0, testPassphrase(device, SECOND, 3).exitCode());
        assertEquals("Key slot 3 is full, please select another one.", org.junit.jupiter.api.Assertions.assertThrows(
                LuksException.class, () -> Luks.addKey(device, PASSPHRASE, THIRD, 3, FAST_PBKDF2)).getMessage());
    }

    private static LuksDevice device(Case c, Path dir) throws Exception {
        Path data = sparseFile(dir.resolve("data.img"));
        return c.detached() ? LuksDevice.detached(data, dir.resolve("header.img")) : LuksDevice.of(data);
    }

    private static Cryptsetup.Result testPassphrase(LuksDevice device, byte[] passphrase, int slot) throws Exception {
        List<String> args = new ArrayList<>(List.of("open", "--test-passphrase", "--key-file", "-"));
        if (slot >= 0) {
            args.addAll(List.of("--key-slot", Integer.toString(slot)));
        }
        return Cryptsetup.run(passphrase, withHeader(device, args.toArray(String[]::new)));
    }

    /** Arguments with --header when detached, and the data device last. */
    private static String[] withHeader(LuksDevice device, String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        if (device.isDetached()) {
            all.addAll(List.of("--header", device.header().toString()));
        }
        all.add(device.data().toString());
        return all.toArray(String[]::new);
    }

    /** Active keyslots as cryptsetup's luksDump lists them. */
    private static List<Integer> cryptsetupActiveSlots(LuksDevice device) throws Exception {
        String dump = Cryptsetup.run(null, "luksDump", device.header().toString()).ok().stdout();
        List<Integer> slots = new ArrayList<>();
        boolean inKeyslots = false;
        for (String line : dump.split("\n")) {
            if (line.startsWith("Key Slot ") && line.endsWith(": ENABLED")) {
                slots.add(Integer.parseInt(line.substring(9, line.indexOf(':'))));
            }
            if (line.equals("Keyslots:")) {
                inKeyslots = true;
            } else if (line.equals("Tokens:")) {
                inKeyslots = false;
            } else if (inKeyslots && line.matches("  \\d+: luks2.*")) {
                slots.add(Integer.parseInt(line.strip().substring(0, line.strip().indexOf(':'))));
            }
        }
        return slots;
    }
}
