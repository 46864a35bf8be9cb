package dev.jdm.formats.luks;

import dev.jdm.core.testing.ExternalTools;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.targets.crypt.SectorCrypt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static dev.jdm.formats.luks.CryptsetupMadeVolumesTest.sparseFile;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The table line of a cryptsetup-made volume, loaded into jdm's crypt target, encrypts exactly as
 * dm-crypt would: ciphertext on the image decrypts with openssl (Debian package openssl) given the
 * volume key cryptsetup dumps. XTS is rebuilt from AES-ECB as IEEE 1619 defines it (openssl enc
 * has no XTS); CBC-ESSIV uses openssl's CBC directly with ESSIV IVs from AES-ECB.
 */
class CryptMappingRoundTripTest {

    private static final byte[] PASSPHRASE = "round trip".getBytes(StandardCharsets.UTF_8);
    private static final int WRITE_OFFSET = 12288;
    private static final int WRITE_LENGTH = 16384;

    @TempDir
    Path dir;

    @Test
    void luks2AesXts512With4096ByteSectors() throws Exception {
        Path image = sparseFile(dir.resolve("xts.img"));
        Cryptsetup.run(PASSPHRASE, "luksFormat", "--batch-mode", "--type", "luks2", "--cipher", "aes-xts-plain64",
                "--key-size", "512", "--sector-size", "4096", "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000",
                "--key-file", "-", image.toString()).ok();
        byte[] plain = pattern();
        byte[] cipherText = writeThroughMapping(image, plain, 32768);
        byte[] key = Cryptsetup.dumpVolumeKey(image, PASSPHRASE);
        assertArrayEquals(plain, xtsDecrypt(key, cipherText, WRITE_OFFSET / 512, 4096));
    }

    @Test
    void luks1AesCbcEssiv256() throws Exception {
        Path image = sparseFile(dir.resolve("essiv.img"));
        Cryptsetup.run(PASSPHRASE, "luksFormat", "--batch-mode", "--type", "luks1", "--cipher",
                "aes-cbc-essiv:sha256", "--key-size", "256", "--pbkdf-force-iterations", "1000", "--key-file", "-",
                image.toString()).ok();
        byte[] plain = pattern();
        byte[] cipherText = writeThroughMapping(image, plain, 4096);
        byte[] key = Cryptsetup.dumpVolumeKey(image, PASSPHRASE);
        assertArrayEquals(plain, cbcEssivDecrypt(key, cipherText, WRITE_OFFSET / 512));
    }

    /**
     * Serpent and Twofish cannot be checked with openssl or cryptsetup here (no AF_ALG): the volume key
     * recovered through a serpent/twofish keyslot must decrypt what the mapping wrote, with the crypt
     * transform that CryptConformanceTest checks against Bouncy Castle.
     */
    @Test
    void serpentAndTwofishVolumesRoundTrip() throws Exception {
        for (String spec : List.of("serpent-xts-plain64", "twofish-xts-plain64", "serpent-cbc-essiv:sha256",
            "twofish-cbc-plain64")) {
            Path image = sparseFile(dir.resolve(spec.replace(':', '_') + ".img"));
            Luks.format(LuksDevice.of(image), FormatOptions.defaults(LuksVersion.LUKS2)
                    .withCipher(spec, spec.contains("xts") ? 512 : 256).withSectorSize(512)
                    .withKdf(JdmMadeVolumesTest.FAST_PBKDF2), PASSPHRASE);
            byte[] plain = pattern();
            byte[] cipherText = writeThroughMapping(image, plain, 32768);
            try (Unlocked unlocked = Luks.open(LuksDevice.of(image), OpenOptions.defaults(), PASSPHRASE)) {
                try (SectorCrypt crypt = SectorCrypt.create(spec, unlocked.volumeKey(), 512)) {
                    crypt.decrypt(cipherText, 0, cipherText.length, WRITE_OFFSET / 512);
                }
            }
            assertArrayEquals(plain, cipherText, spec);
        }
    }

    private static byte[] pattern() {
        byte[] plain = new byte[WRITE_LENGTH];
        new Random(42).nextBytes(plain);
        return plain;
    }

    /** Writes through a crypt mapping built from jdm's table line; returns the ciphertext on the image. */
    private static byte[] writeThroughMapping(Path image, byte[] plain, long payloadSectors) throws Exception {
        String line;
        try (Unlocked unlocked = Luks.open(LuksDevice.of(image), OpenOptions.defaults(), PASSPHRASE)) {
            line = unlocked.tableLine();
        }
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("luks", null, line, false);
            MappedDevice device = dm.device("luks");
            device.write(WRITE_OFFSET, ByteBuffer.wrap(plain), false);
            device.flush();
            ByteBuffer back = ByteBuffer.allocate(plain.length);
            device.read(WRITE_OFFSET, back);
            assertArrayEquals(plain, back.array(), "read back through the mapping");
            dm.remove("luks", false, false);
        }
        try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "r")) {
            byte[] cipherText = new byte[plain.length];
            file.seek(payloadSectors * 512 + WRITE_OFFSET);
            file.readFully(cipherText);
            return cipherText;
        }
    }

    /** IEEE 1619 XTS decryption from AES-ECB: T = E_K2(le64(sector)), P = D_K1(C ^ T) ^ T, T *= x per block. */
    private static byte[] xtsDecrypt(byte[] key, byte[] cipherText, long firstSector, int sectorSize)
            throws Exception {
        byte[] k1 = Arrays.copyOfRange(key, 0, key.length / 2);
        byte[] k2 = Arrays.copyOfRange(key, key.length / 2, key.length);
        int units = cipherText.length / sectorSize;
        byte[] ivs = new byte[16 * units];
        for (int unit = 0; unit < units; unit++) {
            long sector = firstSector + (long) unit * (sectorSize / 512); // plain64 counts 512-byte sectors
            for (int i = 0; i < 8; i++) {
                ivs[16 * unit + i] = (byte) (sector >>> (8 * i));
            }
        }
        byte[] tweaks = openssl(ivs, "enc", "-aes-256-ecb", "-nopad", "-K", HexFormat.of().formatHex(k2));
        byte[] masks = new byte[cipherText.length];
        for (int unit = 0; unit < units; unit++) {
            byte[] tweak = Arrays.copyOfRange(tweaks, 16 * unit, 16 * unit + 16);
            for (int block = 0; block < sectorSize / 16; block++) {
                System.arraycopy(tweak, 0, masks, unit * sectorSize + block * 16, 16);
                timesX(tweak);
            }
        }
        byte[] masked = xor(cipherText, masks);
        byte[] decrypted = openssl(masked, "enc", "-d", "-aes-256-ecb", "-nopad", "-K", HexFormat.of().formatHex(k1));
        return xor(decrypted, masks);
    }

    private static void timesX(byte[] tweak) {
        int carry = 0;
        for (int i = 0; i < 16; i++) {
            int b = tweak[i] & 0xFF;
            tweak[i] = (byte) ((b << 1) | carry);
            carry = b >>> 7;
        }
        if (carry != 0) {
            tweak[0] ^= (byte) 0x87;
        }
    }

    /** dm-crypt's cbc-essiv:sha256: IV = AES_{sha256(key)}(le64(sector)), then plain CBC per 512-byte sector. */
    private static byte[] cbcEssivDecrypt(byte[] key, byte[] cipherText, long firstSector) throws Exception {
        byte[] salt = MessageDigest.getInstance("SHA-256").digest(key);
        int sectors = cipherText.length / 512;
        byte[] counters = new byte[16 * sectors];
        for (int s = 0; s < sectors; s++) {
            long sector = firstSector + s;
            for (int i = 0; i < 8; i++) {
                counters[16 * s + i] = (byte) (sector >>> (8 * i));
            }
        }
        byte[] ivs = openssl(counters, "enc", "-aes-256-ecb", "-nopad", "-K", HexFormat.of().formatHex(salt));
        byte[] plain = new byte[cipherText.length];
        for (int s = 0; s < sectors; s++) {
            byte[] sector = openssl(Arrays.copyOfRange(cipherText, 512 * s, 512 * s + 512), "enc", "-d",
                    "-aes-256-cbc", "-nopad", "-K", HexFormat.of().formatHex(key),
                    "-iv", HexFormat.of().formatHex(Arrays.copyOfRange(ivs, 16 * s, 16 * s + 16)));
            System.arraycopy(sector, 0, plain, 512 * s, 512);
        }
        return plain;
    }

    private static byte[] xor(byte[] a, byte[] b) {
        byte[] out = new byte[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = (byte) (a[i] ^ b[i]);
        }
        return out;
    }

    private static byte[] openssl(byte[] input, String... args) throws Exception {
        Path binary = Path.of("/usr/bin/openssl");
        ExternalTools.require(Files.isExecutable(binary), "openssl not found (install the Debian package openssl)");
        List<String> command = new ArrayList<>(List.of(binary.toString()));
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try (var in = process.getOutputStream()) {
            in.write(input);
        }
        byte[] out = process.getInputStream().readAllBytes();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            fail("openssl did not finish");
        }
        assertEquals(0, process.exitValue(), "openssl " + String.join(" ", args));
        return out;
    }
}
