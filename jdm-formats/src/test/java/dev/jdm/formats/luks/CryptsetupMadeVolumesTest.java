package dev.jdm.formats.luks;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Volumes formatted by cryptsetup open in jdm with the same volume key and the table line cryptsetup loads. */
class CryptsetupMadeVolumesTest {

    private static final byte[] PASSPHRASE = "correct horse battery staple".getBytes(StandardCharsets.UTF_8);
    private static final long IMAGE_BYTES = 20L * 1024 * 1024;

    /** One luksFormat option set and what the header must say. */
    record Case(String name, String type, String cipher, int keyBits, String pbkdf, String hash, int sectorSize,
                boolean detached, long expectedOffset) {
        @Override
        public String toString() {
            return name;
        }

        List<String> formatArgs(Path header, Path data) {
            List<String> args = new ArrayList<>(List.of("luksFormat", "--batch-mode", "--type", type,
                    "--cipher", cipher, "--key-size", Integer.toString(keyBits), "--hash", hash, "--pbkdf", pbkdf));
            if (pbkdf.equals("pbkdf2")) {
                args.addAll(List.of("--pbkdf-force-iterations", "1000"));
            } else {
                args.addAll(List.of("--pbkdf-memory", "32", "--pbkdf-force-iterations", "4", "--pbkdf-parallel", "1"));
            }
            if (type.equals("luks2")) {
                args.addAll(List.of("--sector-size", Integer.toString(sectorSize)));
            }
            if (detached) {
                args.addAll(List.of("--header", header.toString()));
            }
            args.addAll(List.of("--key-file", "-", data.toString()));
            return args;
        }
    }

    static Stream<Case> cases() {
        return Stream.of(
                new Case("luks1 aes-xts 512 pbkdf2-sha256", "luks1", "aes-xts-plain64", 512, "pbkdf2", "sha256", 512, false, 4096),
                new Case("luks1 aes-xts 256 pbkdf2-sha1", "luks1", "aes-xts-plain64", 256, "pbkdf2", "sha1", 512, false, 4096),
                new Case("luks1 aes-cbc-essiv 256 pbkdf2-sha512", "luks1", "aes-cbc-essiv:sha256", 256, "pbkdf2", "sha512", 512, false, 4096),
                new Case("luks1 aes-xts 512 detached", "luks1", "aes-xts-plain64", 512, "pbkdf2", "sha256", 512, true, 0),
                new Case("luks2 aes-xts 512 argon2id 4096", "luks2", "aes-xts-plain64", 512, "argon2id", "sha256", 4096, false, 32768),
                new Case("luks2 aes-xts 256 argon2i 512", "luks2", "aes-xts-plain64", 256, "argon2i", "sha256", 512, false, 32768),
                new Case("luks2 aes-cbc-essiv 256 pbkdf2-sha256 512", "luks2", "aes-cbc-essiv:sha256", 256, "pbkdf2", "sha256", 512, false, 32768),
                new Case("luks2 aes-xts 512 pbkdf2-sha512 4096 detached", "luks2", "aes-xts-plain64", 512, "pbkdf2", "sha512", 4096, true, 0),
                new Case("luks2 aes-xts 256 pbkdf2-sha1 4096", "luks2", "aes-xts-plain64", 256, "pbkdf2", "sha1", 4096, false, 32768));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void opensWithCryptsetupsVolumeKeyAndTableLine(Case c, @TempDir Path dir) throws Exception {
        Path data = sparseFile(dir.resolve("data.img"));
        Path header = dir.resolve("header.img");
        Cryptsetup.run(PASSPHRASE, c.formatArgs(header, data).toArray(String[]::new)).ok();
        LuksDevice device = c.detached() ? LuksDevice.detached(data, header) : LuksDevice.of(data);
        byte[] expectedKey = Cryptsetup.dumpVolumeKey(device.header(), PASSPHRASE);

        try (Unlocked unlocked = Luks.open(device, OpenOptions.defaults(), PASSPHRASE)) {
            assertArrayEquals(expectedKey, unlocked.volumeKey());
            assertEquals(c.keyBits(), expectedKey.length * 8);
            assertEquals(0, unlocked.keyslot());
            assertEquals(HeaderCopy.BOTH, unlocked.headerCopy());
            String uuid = Cryptsetup.run(null, "luksUUID", device.header().toString()).ok().stdout().strip();
            assertEquals(uuid, unlocked.uuid());
            assertEquals("CRYPT-" + c.type().toUpperCase() + "-" + uuid.replace("-", "") + "-secret",
                    unlocked.dmUuid("secret"));
            String sectorOption = c.type().equals("luks2") && c.sectorSize() != 512
                    ? " 1 sector_size:" + c.sectorSize() : "";
            assertEquals("0 " + (IMAGE_BYTES / 512 - c.expectedOffset()) + " crypt " + c.cipher() + " "
                    + HexFormat.of().formatHex(expectedKey) + " 0 " + data.toAbsolutePath() + " "
                    + c.expectedOffset() + sectorOption, unlocked.tableLine());
        }
        assertEquals(0, Luks.testPassphrase(device, PASSPHRASE, -1));
        LuksException wrong = assertThrows(LuksException.class,
                () -> Luks.open(device, OpenOptions.defaults(), "wrong".getBytes(StandardCharsets.UTF_8)));
        assertEquals("No key available with this passphrase.", wrong.getMessage());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void dumpMatchesCryptsetup(Case c, @TempDir Path dir) throws Exception {
        Path data = sparseFile(dir.resolve("data.img"));
        Path header = dir.resolve("header.img");
        Cryptsetup.run(PASSPHRASE, c.formatArgs(header, data).toArray(String[]::new)).ok();
        LuksDevice device = c.detached() ? LuksDevice.detached(data, header) : LuksDevice.of(data);
        String expected = Cryptsetup.run(null, "luksDump", device.header().toString()).ok().stdout();
        assertEquals(expected, Luks.dump(device));
        assertEquals(Cryptsetup.run(PASSPHRASE, "luksDump", "--dump-volume-key", "--batch-mode", "--key-file", "-",
                device.header().toString()).ok().stdout(), Luks.dumpVolumeKey(device, PASSPHRASE));
        if (c.type().equals("luks2")) {
            String expectedJson = Cryptsetup.run(null, "luksDump", "--dump-json-metadata", device.header().toString())
                    .ok().stdout();
            assertEquals(expectedJson.strip(), Luks.dumpJson(device));
        }
    }

    /** Non-default metadata and keyslots area sizes; with the primary destroyed, the secondary is found at 64 KiB. */
    @org.junit.jupiter.api.Test
    void largerMetadataAreaAndSecondaryScan(@TempDir Path dir) throws Exception {
        Path image = sparseFile(dir.resolve("meta64k.img"));
        Cryptsetup.run(PASSPHRASE, "luksFormat", "--batch-mode", "--type", "luks2", "--luks2-metadata-size", "64k",
                "--luks2-keyslots-size", "1m", "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000",
                "--key-file", "-", image.toString()).ok();
        LuksDevice device = LuksDevice.of(image);
        assertEquals(Cryptsetup.run(null, "luksDump", image.toString()).ok().stdout(), Luks.dump(device));
        byte[] key = Cryptsetup.dumpVolumeKey(image, PASSPHRASE);
        try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "rw")) {
            file.write(new byte[4096]);
        }
        try (Unlocked unlocked = Luks.open(device, OpenOptions.defaults(), PASSPHRASE)) {
            assertArrayEquals(key, unlocked.volumeKey());
            assertEquals(HeaderCopy.SECONDARY, unlocked.headerCopy());
        }
        assertEquals(HeaderCopy.SECONDARY, Luks.repair(device));
        assertEquals(Cryptsetup.run(null, "luksDump", image.toString()).ok().stdout(), Luks.dump(device));
        assertArrayEquals(key, Cryptsetup.dumpVolumeKey(image, PASSPHRASE));
    }

    /** A keyslot encrypted with another cipher and key size than the data (--keyslot-cipher). */
    @org.junit.jupiter.api.Test
    void keyslotCipherDifferentFromTheSegment(@TempDir Path dir) throws Exception {
        Path image = sparseFile(dir.resolve("keyslot-cipher.img"));
        Cryptsetup.run(PASSPHRASE, "luksFormat", "--batch-mode", "--type", "luks2", "--cipher", "aes-cbc-essiv:sha256",
                "--key-size", "256", "--keyslot-cipher", "aes-xts-plain64", "--keyslot-key-size", "512",
                "--sector-size", "512", "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000", "--key-file", "-",
                image.toString()).ok();
        LuksDevice device = LuksDevice.of(image);
        String dump = Luks.dump(device);
        assertEquals(Cryptsetup.run(null, "luksDump", image.toString()).ok().stdout(), dump);
        assertEquals("aes-xts-plain64", Cryptsetup.field(dump, "Cipher:"));
        byte[] key = Cryptsetup.dumpVolumeKey(image, PASSPHRASE);
        try (Unlocked unlocked = Luks.open(device, OpenOptions.defaults(), PASSPHRASE)) {
            assertArrayEquals(key, unlocked.volumeKey());
            assertEquals("0 8192 crypt aes-cbc-essiv:sha256 " + HexFormat.of().formatHex(key) + " 0 "
                    + image.toAbsolutePath() + " 32768", unlocked.tableLine());
        }
    }

    static Path sparseFile(Path path) throws IOException {
        try (RandomAccessFile file = new RandomAccessFile(path.toFile(), "rw")) {
            file.setLength(IMAGE_BYTES);
        }
        return path;
    }
}
