package dev.jdm.formats.luks;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static dev.jdm.formats.luks.CryptsetupMadeVolumesTest.sparseFile;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Damaged headers are refused with the reason, or recovered from the good LUKS2 copy without writing. */
class DamagedHeaderTest {

    private static final byte[] PASSPHRASE = "passphrase".getBytes(StandardCharsets.UTF_8);
    private static final int SECONDARY = 16384;
    private static final int CHECKSUM_OFFSET = 448;

    @TempDir
    Path dir;

    private Path luks2() throws IOException {
        Path image = sparseFile(dir.resolve("luks2.img"));
        Luks.format(LuksDevice.of(image), FormatOptions.defaults(LuksVersion.LUKS2)
                .withKdf(JdmMadeVolumesTest.FAST_PBKDF2), PASSPHRASE);
        return image;
    }

    private Path luks1() throws IOException {
        Path image = sparseFile(dir.resolve("luks1.img"));
        Luks.format(LuksDevice.of(image), FormatOptions.defaults(LuksVersion.LUKS1)
                .withKdf(JdmMadeVolumesTest.FAST_PBKDF2), PASSPHRASE);
        return image;
    }

    @Test
    void luks1WithBadMagicIsNotLuks() throws Exception {
        Path image = luks1();
        poke(image, 0, "XUKS".getBytes(StandardCharsets.US_ASCII));
        LuksException e = assertThrows(LuksException.class, () -> Luks.dump(LuksDevice.of(image)));
        assertEquals("Device " + image + " is not a valid LUKS device.", e.getMessage());
        Cryptsetup.Result cryptsetup = Cryptsetup.run(null, "luksDump", image.toString());
        assertEquals(1, cryptsetup.exitCode());
        assertTrue(cryptsetup.stderr().contains("is not a valid LUKS device"), cryptsetup.stderr());
    }

    @Test
    void unsupportedVersionIsRefused() throws Exception {
        Path image = luks1();
        poke(image, 6, new byte[] {0, 3});
        LuksException e = assertThrows(LuksException.class,
                () -> Luks.open(LuksDevice.of(image), OpenOptions.defaults(), PASSPHRASE));
        assertEquals("Unsupported LUKS version 3.", e.getMessage());
    }

    @Test
    void luks1KeyslotWithBadStateIsRefused() throws Exception {
        Path image = luks1();
        poke(image, 208 + 48 * 3, new byte[] {0x12, 0x34, 0x56, 0x78});
        LuksException e = assertThrows(LuksException.class, () -> Luks.dump(LuksDevice.of(image)));
        assertEquals("LUKS keyslot 3 is invalid.", e.getMessage());
    }

    @Test
    void damagedPrimaryIsRecoveredFromSecondaryWithoutWriting() throws Exception {
        Path image = luks2();
        byte[] key = openKey(image);
        poke(image, 4096 + 10, new byte[] {'#'});
        byte[] before = Files.readAllBytes(image);
        try (Unlocked unlocked = Luks.open(LuksDevice.of(image), OpenOptions.defaults(), PASSPHRASE)) {
            assertEquals(HeaderCopy.SECONDARY, unlocked.headerCopy());
            assertEquals(List.of("primary header: checksum mismatch"), unlocked.headerProblems());
            assertArrayEquals(key, unlocked.volumeKey());
        }
        assertArrayEquals(before, Files.readAllBytes(image), "reading must not repair");
        assertCryptsetupOpensCopy(image, key);

        assertEquals(HeaderCopy.SECONDARY, Luks.repair(LuksDevice.of(image)));
        List<String> problems = new ArrayList<>();
        assertEquals(HeaderCopy.BOTH, Luks.inspect(LuksDevice.of(image), problems));
        assertEquals(List.of(), problems);
        byte[] after = Files.readAllBytes(image);
        assertArrayEquals(Arrays.copyOfRange(after, SECONDARY + 4096, 2 * SECONDARY),
                Arrays.copyOfRange(after, 4096, SECONDARY), "both JSON areas equal after repair");
        assertEquals(0, Cryptsetup.run(PASSPHRASE, "open", "--test-passphrase", "--key-file", "-",
                image.toString()).exitCode());
        assertArrayEquals(key, Cryptsetup.dumpVolumeKey(image, PASSPHRASE));
    }

    @Test
    void damagedSecondaryLeavesPrimaryInUse() throws Exception {
        Path image = luks2();
        byte[] key = openKey(image);
        poke(image, SECONDARY + CHECKSUM_OFFSET, new byte[] {0, 0, 0, 0});
        try (Unlocked unlocked = Luks.open(LuksDevice.of(image), OpenOptions.defaults(), PASSPHRASE)) {
            assertEquals(HeaderCopy.PRIMARY, unlocked.headerCopy());
            assertEquals(List.of("secondary header: checksum mismatch"), unlocked.headerProblems());
            assertArrayEquals(key, unlocked.volumeKey());
        }
        assertCryptsetupOpensCopy(image, key);
    }

    @Test
    void primaryWithoutMagicIsFoundThroughTheSecondary() throws Exception {
        Path image = luks2();
        byte[] key = openKey(image);
        poke(image, 0, new byte[6]);
        try (Unlocked unlocked = Luks.open(LuksDevice.of(image), OpenOptions.defaults(), PASSPHRASE)) {
            assertEquals(HeaderCopy.SECONDARY, unlocked.headerCopy());
            assertEquals(List.of("primary header: bad magic at offset 0"), unlocked.headerProblems());
            assertArrayEquals(key, unlocked.volumeKey());
        }
    }

    @Test
    void bothCopiesDamagedIsRefusedWithBothReasons() throws Exception {
        Path image = luks2();
        poke(image, 4096 + 10, new byte[] {'#'});
        poke(image, SECONDARY + 4096 + 10, new byte[] {'#'});
        byte[] before = Files.readAllBytes(image);
        LuksException e = assertThrows(LuksException.class,
                () -> Luks.open(LuksDevice.of(image), OpenOptions.defaults(), PASSPHRASE));
        assertEquals("Device " + image + " is not a valid LUKS2 device: primary header: checksum mismatch; "
                + "secondary header: checksum mismatch.", e.getMessage());
        assertThrows(LuksException.class, () -> Luks.repair(LuksDevice.of(image)));
        assertArrayEquals(before, Files.readAllBytes(image));
    }

    @Test
    void invalidJsonWithValidChecksumIsRefused() throws Exception {
        Path image = luks2();
        for (int copy : new int[] {0, SECONDARY}) {
            poke(image, copy + 4096, "{\"keyslots\":".getBytes(StandardCharsets.US_ASCII));
            poke(image, copy + 4096 + 12, new byte[SECONDARY - 4096 - 12]);
            rewriteChecksum(image, copy);
        }
        LuksException e = assertThrows(LuksException.class, () -> Luks.dump(LuksDevice.of(image)));
        assertTrue(e.getMessage().startsWith("Device " + image + " is not a valid LUKS2 device: primary header: "
                + "invalid JSON: "), e.getMessage());
        assertTrue(e.getMessage().contains("; secondary header: invalid JSON: "), e.getMessage());
    }

    @Test
    void jsonWithoutASectionIsRefused() throws Exception {
        Path image = luks2();
        byte[] json = "{\"keyslots\":{},\"segments\":{},\"digests\":{},\"config\":{\"json_size\":\"12288\"}}"
                .getBytes(StandardCharsets.US_ASCII);
        for (int copy : new int[] {0, SECONDARY}) {
            poke(image, copy + 4096, Arrays.copyOf(json, SECONDARY - 4096));
            rewriteChecksum(image, copy);
        }
        LuksException e = assertThrows(LuksException.class, () -> Luks.dump(LuksDevice.of(image)));
        assertEquals("Device " + image + " is not a valid LUKS2 device: primary header: JSON metadata lacks the "
                + "\"tokens\" object; secondary header: JSON metadata lacks the \"tokens\" object.", e.getMessage());
    }

    @Test
    void wrongPassphraseBadCipherAndBadKeySizeWriteNothing() throws Exception {
        Path image = luks2();
        byte[] before = Files.readAllBytes(image);
        byte[] wrong = "wrong".getBytes(StandardCharsets.UTF_8);
        assertEquals("No key available with this passphrase.", assertThrows(LuksException.class,
                () -> Luks.addKey(LuksDevice.of(image), wrong, PASSPHRASE, -1, JdmMadeVolumesTest.FAST_PBKDF2))
                .getMessage());
        assertEquals("No key available with this passphrase.", assertThrows(LuksException.class,
                () -> Luks.changeKey(LuksDevice.of(image), wrong, PASSPHRASE, -1, JdmMadeVolumesTest.FAST_PBKDF2))
                .getMessage());
        assertEquals("No key available with this passphrase.", assertThrows(LuksException.class,
                () -> Luks.removeKey(LuksDevice.of(image), wrong)).getMessage());
        assertArrayEquals(before, Files.readAllBytes(image));

        Path blank = sparseFile(dir.resolve("blank.img"));
        FormatOptions defaults = FormatOptions.defaults(LuksVersion.LUKS2).withKdf(JdmMadeVolumesTest.FAST_PBKDF2);
        assertEquals("Cipher aes-foo-plain64 (key size in bits unknown) is not available.", assertThrows(
                LuksException.class, () -> Luks.format(LuksDevice.of(blank), defaults.withCipher("aes-foo-plain64", 256),
                        PASSPHRASE)).getMessage());
        assertEquals("Cipher aes-cbc-essiv:sha256 (key size 512 bits) is not available.", assertThrows(
                LuksException.class, () -> Luks.format(LuksDevice.of(blank),
                        defaults.withCipher("aes-cbc-essiv:sha256", 512), PASSPHRASE)).getMessage());
        assertEquals("Cipher aes-xts-plain64 (key size 128 bits) is not available.", assertThrows(
                LuksException.class, () -> Luks.format(LuksDevice.of(blank), defaults.withCipher("aes-xts-plain64", 128),
                        PASSPHRASE)).getMessage());
        assertEquals("PBKDF argon2id is not supported for LUKS1.", assertThrows(LuksException.class,
                () -> Luks.format(LuksDevice.of(blank), FormatOptions.defaults(LuksVersion.LUKS1)
                        .withKdf(JdmMadeVolumesTest.FAST_ARGON2ID), PASSPHRASE)).getMessage());
        assertArrayEquals(new byte[(int) Files.size(blank)], Files.readAllBytes(blank));
    }

    /** A header asking for a feature jdm lacks (an unknown one) is dumped like cryptsetup but not opened. */
    @Test
    void unmetRequirementsAreDumpedButNotOpened() throws Exception {
        Path image = luks2();
        com.fasterxml.jackson.databind.node.ObjectNode json = (com.fasterxml.jackson.databind.node.ObjectNode)
                new com.fasterxml.jackson.databind.ObjectMapper().readTree(Luks.dumpJson(LuksDevice.of(image)));
        ((com.fasterxml.jackson.databind.node.ObjectNode) json.get("config")).putObject("requirements").putArray("mandatory").add("jdm-future-feature");
        byte[] text = new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsBytes(json);
        for (int copy : new int[] {0, SECONDARY}) {
            poke(image, copy + 4096, Arrays.copyOf(text, SECONDARY - 4096));
            rewriteChecksum(image, copy);
        }
        String dump = Luks.dump(LuksDevice.of(image));
        assertEquals(Cryptsetup.run(null, "luksDump", image.toString()).ok().stdout(), dump);
        assertTrue(dump.contains("Flags:       \t(no flags)\nRequirements:\tjdm-future-feature \n\n"), dump);
        assertEquals("Operation incompatible with device marked with unmet requirements [\"jdm-future-feature\"].",
                assertThrows(LuksException.class,
                        () -> Luks.open(LuksDevice.of(image), OpenOptions.defaults(), PASSPHRASE)).getMessage());
    }

    @Test
    void refusedFormatCreatesNoDetachedHeader() throws Exception {
        Path data = sparseFile(dir.resolve("data.img"));
        Path header = dir.resolve("header.img");
        FormatOptions options = FormatOptions.defaults(LuksVersion.LUKS1).withKdf(JdmMadeVolumesTest.FAST_PBKDF2);
        assertEquals("Key slot 8 is invalid.", assertThrows(LuksException.class,
                () -> Luks.format(LuksDevice.detached(data, header), options.withKeySlot(8), PASSPHRASE)).getMessage());
        assertEquals("Unsupported encryption sector size.", assertThrows(LuksException.class,
                () -> Luks.format(LuksDevice.detached(data, header), options.withSectorSize(4096), PASSPHRASE))
                .getMessage());
        assertTrue(Files.notExists(header));
    }

    private static byte[] openKey(Path image) throws IOException {
        try (Unlocked unlocked = Luks.open(LuksDevice.of(image), OpenOptions.defaults(), PASSPHRASE)) {
            return unlocked.volumeKey();
        }
    }

    /** cryptsetup repairs what it loads, so it gets a copy; it must find the same key. */
    private void assertCryptsetupOpensCopy(Path image, byte[] key) throws Exception {
        Path copy = Files.copy(image, dir.resolve("copy-for-cryptsetup.img"), StandardCopyOption.REPLACE_EXISTING);
        assertArrayEquals(key, Cryptsetup.dumpVolumeKey(copy, PASSPHRASE));
        Files.delete(copy);
    }

    private static void poke(Path image, long offset, byte[] bytes) throws IOException {
        try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "rw")) {
            file.seek(offset);
            file.write(bytes);
        }
    }

    /** Recomputes a copy's SHA-256 checksum independently of the code under test. */
    private static void rewriteChecksum(Path image, int copyOffset) throws Exception {
        byte[] all = Files.readAllBytes(image);
        byte[] copy = Arrays.copyOfRange(all, copyOffset, copyOffset + SECONDARY);
        Arrays.fill(copy, CHECKSUM_OFFSET, CHECKSUM_OFFSET + 64, (byte) 0);
        byte[] checksum = MessageDigest.getInstance("SHA-256").digest(copy);
        poke(image, copyOffset + CHECKSUM_OFFSET, checksum);
        assertNotEquals(0, checksum[0] | checksum[1]);
    }
}
