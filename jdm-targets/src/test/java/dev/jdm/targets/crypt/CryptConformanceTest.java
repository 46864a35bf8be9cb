package dev.jdm.targets.crypt;

import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.targets.Images;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Writes through a crypt mapping and compares the bytes that land on the backing file with
 * {@link CryptReference} (openssl for AES, Bouncy Castle for Serpent/Twofish), for every IV mode,
 * both cipher spec forms, key counts, 512- and 4096-byte sectors and non-zero IV offsets; then reads
 * the plaintext back through the mapping.
 */
class CryptConformanceTest {
    private static final HexFormat HEX = HexFormat.of();
    /** Where the ciphertext starts on the backing file, in sectors: the table's {@code <offset>}. */
    private static final long OFFSET = 16;
    private static final int CRYPTO_SECTORS = 4;

    @TempDir
    Path dir;

    /**
     * One table to check. {@code cipher}, {@code mode}, {@code iv} and {@code keyCount} restate the
     * spec for the reference, which must not lean on the target's own parser.
     */
    record Case(String spec, String cipher, String mode, String iv, int keyCount, int keyBytes, int sectorSize,
                long ivOffset, boolean ivLargeSectors) {
        String options() {
            List<String> o = new ArrayList<>();
            if (sectorSize != 512) o.add("sector_size:" + sectorSize);
            if (ivLargeSectors) o.add("iv_large_sectors");
            return o.isEmpty() ? "" : " " + o.size() + " " + String.join(" ", o);
        }

        @Override
        public String toString() {
            return spec + " key " + keyBytes + "B, " + sectorSize + "-byte sectors, iv_offset " + ivOffset + options();
        }
    }

    static List<Case> cases() {
        return List.of(
                new Case("aes-xts-plain64", "aes", "xts", "plain64", 1, 64, 512, 7, false),
                new Case("aes-xts-plain64", "aes", "xts", "plain64", 1, 64, 4096, 16, false),
                new Case("aes-xts-plain64", "aes", "xts", "plain64", 1, 32, 4096, 24, true),
                new Case("capi:xts(aes)-plain64", "aes", "xts", "plain64", 1, 48, 512, 1, false),
                new Case("aes-xts-plain", "aes", "xts", "plain", 1, 32, 512, 0xFFFF_FFFEL, false),
                new Case("aes-xts-essiv:sha256", "aes", "xts", "essiv", 1, 64, 512, 3, false),
                new Case("aes-cbc-essiv:sha256", "aes", "cbc", "essiv", 1, 32, 512, 3, false),
                new Case("capi:cbc(aes)-essiv:sha256", "aes", "cbc", "essiv", 1, 16, 4096, 8, false),
                new Case("aes-cbc-plain", "aes", "cbc", "plain", 1, 16, 512, 0xFFFF_FFFEL, false),
                new Case("aes", "aes", "cbc", "plain", 1, 16, 512, 5, false),
                new Case("aes-cbc-plain64", "aes", "cbc", "plain64", 1, 24, 4096, 0x1_0000_0000L, false),
                new Case("aes-cbc-plain64be", "aes", "cbc", "plain64be", 1, 24, 4096, 8, false),
                new Case("aes-cbc-benbi", "aes", "cbc", "benbi", 1, 32, 512, 9, false),
                new Case("aes-cbc-null", "aes", "cbc", "null", 1, 32, 512, 2, false),
                new Case("aes-cbc-eboiv", "aes", "cbc", "eboiv", 1, 32, 4096, 16, false),
                new Case("aes-ecb", "aes", "ecb", null, 1, 32, 512, 0, false),
                new Case("aes:2-cbc-plain64", "aes", "cbc", "plain64", 2, 64, 512, 1, false),
                new Case("aes:4-xts-plain64", "aes", "xts", "plain64", 4, 128, 512, 0, false),
                new Case("aes:64-cbc-lmk", "aes", "cbc", "lmk", 64, 64 * 16, 512, 62, false),
                new Case("capi:cbc(aes)-lmk", "aes", "cbc", "lmk", 64, 64 * 32, 512, 0, false),
                new Case("aes-cbc-tcw", "aes", "cbc", "tcw", 1, 32 + 32, 512, 4, false),
                new Case("serpent-xts-plain64", "serpent", "xts", "plain64", 1, 64, 512, 3, false),
                new Case("serpent-xts-plain64", "serpent", "xts", "plain64", 1, 64, 4096, 8, false),
                new Case("twofish-xts-plain64", "twofish", "xts", "plain64", 1, 64, 4096, 8, true),
                new Case("twofish-xts-plain64", "twofish", "xts", "plain64", 1, 32, 512, 1, false),
                new Case("serpent-cbc-essiv:sha256", "serpent", "cbc", "essiv", 1, 32, 512, 2, false),
                new Case("capi:cbc(twofish)-plain64", "twofish", "cbc", "plain64", 1, 16, 512, 2, false));
    }

    @BeforeAll
    static void openssl() {
        CryptReference.requireOpenssl();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void ciphertextMatchesTheReference(Case c) throws Exception {
        byte[] key = Images.pattern(c.keyBytes(), c.keyBytes() * 31 + c.sectorSize());
        int bytes = CRYPTO_SECTORS * c.sectorSize();
        long sectors = bytes / 512;
        Path image = Images.create(dir, "backing.img", (OFFSET + sectors) * 512);
        byte[] plain = Images.pattern(bytes, c.hashCode());
        String params = c.spec() + " " + HEX.formatHex(key) + " " + c.ivOffset() + " " + image + " " + OFFSET + c.options();
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("c", null, "0 " + sectors + " crypt " + params, false);
            MappedDevice md = dm.device("c");
            Images.write(md, 0, plain);
            md.flush();

            byte[] expected = reference(c, key, plain);
            byte[] onDisk = Images.slice(image, OFFSET * 512, bytes);
            assertEquals(HEX.formatHex(expected), HEX.formatHex(onDisk), "ciphertext on the backing file");
            assertArrayEquals(new byte[(int) OFFSET * 512], Images.slice(image, 0, (int) OFFSET * 512), "nothing before <offset>");

            assertArrayEquals(plain, Images.read(md, 0, bytes), "read back through a heap buffer");
            ByteBuffer direct = ByteBuffer.allocateDirect(bytes);
            md.read(0, direct);
            byte[] viaDirect = new byte[bytes];
            direct.flip().get(viaDirect);
            assertArrayEquals(plain, viaDirect, "read back through a direct buffer");

            md.writeZeroes(0, bytes, false);
            ByteBuffer directPlain = ByteBuffer.allocateDirect(bytes).put(plain).flip();
            md.write(0, directPlain, false);
            assertEquals(HEX.formatHex(expected), HEX.formatHex(Images.slice(image, OFFSET * 512, bytes)), "written from a direct buffer");

            assertEquals("0 " + sectors + " crypt " + params, dm.table("c", false).getFirst().format());
        }
    }

    /** The ciphertext of {@code plain} written at target sector 0, computed sector by sector. */
    static byte[] reference(Case c, byte[] key, byte[] plain) {
        CryptReference.Blocks blocks = CryptReference.forCipher(c.cipher());
        int step = c.sectorSize() / 512;
        int extra = "tcw".equals(c.iv()) ? 32 : 0;
        int subkeyBytes = (c.keyBytes() - extra) / c.keyCount();
        List<byte[]> out = new ArrayList<>();
        long ccSector = c.ivOffset();
        for (int off = 0; off < plain.length; off += c.sectorSize(), ccSector += step) {
            byte[] p = Arrays.copyOfRange(plain, off, off + c.sectorSize());
            long ivSector = c.ivLargeSectors() ? ccSector / step : ccSector;
            int keyIndex = (int) (ccSector % c.keyCount());
            byte[] subkey = Arrays.copyOfRange(key, keyIndex * subkeyBytes, (keyIndex + 1) * subkeyBytes);
            byte[] sector = switch (c.mode()) {
                case "ecb" -> blocks.ecbEncrypt(subkey, p);
                case "cbc" -> blocks.cbcEncrypt(subkey, iv(c, blocks, key, subkey, ivSector, p), p);
                case "xts" -> CryptReference.xtsEncrypt(blocks, subkey, iv(c, blocks, key, subkey, ivSector, p), p);
                default -> throw new IllegalArgumentException(c.mode());
            };
            if ("tcw".equals(c.iv())) {
                CryptReference.tcwWhiten(Arrays.copyOfRange(key, key.length - 16, key.length), ivSector, sector, 0);
            }
            out.add(sector);
        }
        return CryptReference.concat(out);
    }

    private static byte[] iv(Case c, CryptReference.Blocks blocks, byte[] key, byte[] subkey, long sector, byte[] plainSector) {
        return switch (c.iv()) {
            case "plain" -> CryptReference.le64Iv(sector & 0xFFFF_FFFFL);
            case "plain64" -> CryptReference.le64Iv(sector);
            case "plain64be" -> CryptReference.be64IvAtEnd(sector);
            case "benbi" -> CryptReference.be64IvAtEnd((sector << 5) + 1);
            case "null" -> new byte[16];
            case "essiv" -> blocks.ecbEncrypt(CryptReference.sha256(subkey), CryptReference.le64Iv(sector));
            case "eboiv" -> blocks.ecbEncrypt(subkey, CryptReference.le64Iv(sector * c.sectorSize()));
            case "lmk" -> CryptReference.lmkIv(sector, plainSector);
            case "tcw" -> {
                byte[] seed = Arrays.copyOfRange(key, key.length - 32, key.length - 16);
                byte[] iv = CryptReference.le64Iv(sector);
                for (int i = 0; i < 16; i++) {
                    iv[i] = (byte) (seed[i] ^ (sector >>> (8 * (i % 8))));
                }
                yield iv;
            }
            default -> throw new IllegalArgumentException(c.iv());
        };
    }
}
