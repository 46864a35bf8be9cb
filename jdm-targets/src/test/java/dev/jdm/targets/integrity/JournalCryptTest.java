package dev.jdm.targets.integrity;

import dev.jdm.core.testing.MemoryDevice;
import dev.jdm.core.BlockIoException;
import dev.jdm.core.Errno;
import dev.jdm.core.spi.TargetException;
import dev.jdm.core.testing.ExternalTools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HexFormat;
import java.util.List;

import static dev.jdm.targets.integrity.Harness.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * journal_crypt on disk, checked against {@code openssl enc} following the kernel's scheme
 * ({@code create_journal}, {@code xor_journal}, {@code crypt_journal}) rather than our code.
 * Layout (1 MiB, tag 4, crc32c, journal_sectors:352): two sections of 176 sectors from sector 8,
 * 352 sectors = 44 pages of journal; entry 0 in sector 0, block 0's data in section sector 8.
 * The first commit after formatting uses sequence 1 (the format wrote sequence 0 everywhere).
 */
class JournalCryptTest {
    private static final int MIB = 1 << 20;
    private static final int SECTION_BYTES = 176 * 512;
    private static final int JOURNAL_AT = 8 * 512;
    private static final int JOURNAL_BYTES = 2 * SECTION_BYTES;
    private static final long BASE0 = 0x1111111111111111L;
    private static final long BASE1 = 0x2222222222222222L;
    private static final String KEY128 = "000102030405060708090a0b0c0d0e0f";
    private static final String KEY256 = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4";

    private static String args(String cipher) {
        return "0 4 J 3 journal_sectors:352 internal_hash:crc32c journal_crypt:" + cipher;
    }

    /**
     * Stream ciphers: the pad is the cipher's keystream (all-zero IV: AES-CTR from counter 0,
     * ChaCha20 from block 0 with a zero nonce) over 44 zero pages and then the four commit-id
     * bases; the journal on disk is the plaintext XOR the pad at the same byte, and the commit ids
     * inside it are built from the encrypted bases.
     */
    @ParameterizedTest
    @CsvSource({"ctr(aes), " + KEY128 + ", -aes-128-ctr", "chacha20, " + KEY256 + ", -chacha20"})
    void streamCipherJournalIsThePlaintextXorTheKernelsPad(String cipher, String key, String opensslCipher) throws Exception {
        String openssl = ExternalTools.requireTool("openssl", "openssl");
        MemoryDevice dev = new MemoryDevice("dev", MIB);
        IntegrityTarget t = open(dev, 1000, args(cipher + ":" + key));
        byte[] a = pattern(512, 1);
        write(t, 5, a, true);
        MemoryDevice crashed = new MemoryDevice("dev", dev.snapshot()); // before a clean shutdown empties the journal
        t.close();

        // openssl's chacha20 IV is the kernel's: le32 block counter then the 96-bit nonce.
        byte[] pad = runBytes(List.of(openssl, "enc", opensslCipher, "-K", key, "-iv", "00".repeat(16), "-nosalt"),
                new byte[JOURNAL_BYTES + 32]);
        long[] bases = new long[4];
        for (int k = 0; k < 4; k++) {
            bases[k] = (BASE0 * (k + 1)) ^ le64At(pad, JOURNAL_BYTES + 8 * k);
        }
        byte[] onDisk = crashed.slice(JOURNAL_AT, JOURNAL_BYTES);
        assertEquals(-1, indexOf(onDisk, copy(a, 0, 64)), "the journalled block is not on the disk in the clear");
        byte[] plain = xor(onDisk, pad);
        assertArrayEquals(concat(le64(5), copy(a, 504, 8), Crc32cReference.tag(5, a, 4), new byte[4]), copy(plain, 0, 24),
                "entry 0: sector, last 8 data bytes, tag, padding");
        assertArrayEquals(concat(copy(a, 0, 504), le64(bases[1] ^ 8)), copy(plain, 8 * 512, 512),
                "block 0's data and the commit id of sequence 1, from the encrypted base");
        for (int j = 0; j < 176; j++) {
            assertEquals(bases[1] ^ j, le64At(plain, j * 512 + 504), "section 0 sector " + j);
            assertEquals(bases[0] ^ (1L << 32 ^ j), le64At(plain, SECTION_BYTES + j * 512 + 504), "section 1 sector " + j);
        }
        assertArrayEquals(a, crashed.slice(t.geometry().dataSector(5) << 9, 512), "data at home is not encrypted");
    }

    /**
     * Block ciphers: each section is one message; for CBC section i's IV is AES-ECB of le32(i)
     * padded with zeroes (CBC of one block under a zero IV), ECB has none. openssl decrypts what jdm wrote.
     */
    @ParameterizedTest
    @CsvSource({"cbc(aes), " + KEY256 + ", -aes-256-cbc", "ecb(aes), " + KEY128 + ", -aes-128-ecb"})
    void blockCipherSectionsDecryptWithOpensslUnderTheKernelsSectionIvs(String cipher, String key, String opensslCipher)
            throws Exception {
        String openssl = ExternalTools.requireTool("openssl", "openssl");
        MemoryDevice dev = new MemoryDevice("dev", MIB);
        IntegrityTarget t = open(dev, 1000, args(cipher + ":" + key));
        byte[] a = pattern(512, 2);
        write(t, 9, a, true);
        MemoryDevice crashed = new MemoryDevice("dev", dev.snapshot());
        t.close();

        String ecb = opensslCipher.replace("-cbc", "-ecb");
        byte[][] plain = new byte[2][];
        for (int i = 0; i < 2; i++) {
            List<String> decrypt = new java.util.ArrayList<>(List.of(openssl, "enc", "-d", opensslCipher, "-K", key, "-nopad"));
            if (opensslCipher.endsWith("-cbc")) {
                byte[] iv = runBytes(List.of(openssl, "enc", ecb, "-K", key, "-nopad"), concat(le32(i), new byte[12]));
                decrypt.addAll(List.of("-iv", HexFormat.of().formatHex(iv)));
            }
            plain[i] = runBytes(decrypt, crashed.slice(JOURNAL_AT + (long) i * SECTION_BYTES, SECTION_BYTES));
        }
        assertEquals(-1, indexOf(crashed.slice(JOURNAL_AT, JOURNAL_BYTES), copy(a, 0, 64)), "not in the clear");
        assertArrayEquals(concat(le64(9), copy(a, 504, 8), Crc32cReference.tag(9, a, 4), new byte[4]), copy(plain[0], 0, 24));
        assertArrayEquals(concat(copy(a, 0, 504), le64(BASE1 ^ 8)), copy(plain[0], 8 * 512, 512),
                "block cipher: the default commit-id bases");
        for (int j = 0; j < 176; j++) {
            assertEquals(BASE1 ^ j, le64At(plain[0], j * 512 + 504), "section 0 sector " + j);
            assertEquals(BASE0 ^ (1L << 32 ^ j), le64At(plain[1], j * 512 + 504), "section 1 sector " + j);
        }
    }

    /**
     * X committed in section 0, then Y's commit to section 1 torn (one sector keeps its old
     * ciphertext): the reload replays section 0 only, so sector 3 reads X; the whole commit gives Y.
     * A wrong key, or none, cannot make sense of the commit ids: the replay refuses and the device fails.
     */
    @ParameterizedTest
    @ValueSource(strings = {"ctr(aes):" + KEY128, "cbc(aes):" + KEY256, "chacha20:" + KEY256, "ecb(aes):" + KEY128})
    void tornEncryptedCommitReplaysOldOrNewAndAWrongKeyIsRefused(String cipher) throws Exception {
        MemoryDevice dev = new MemoryDevice("dev", MIB);
        IntegrityTarget t = open(dev, 1000, args(cipher));
        byte[] x = pattern(512, 3), y = pattern(512, 4);
        write(t, 3, x, true);
        byte[] afterX = dev.snapshot();
        dev.record(true);
        write(t, 3, y, true);
        MemoryDevice.Event commit = dev.events().getFirst();
        dev.record(false);
        assertEquals(JOURNAL_AT + SECTION_BYTES, commit.offset(), "the commit of section 1");
        t.close();

        for (int keep : new int[]{0, 8, 100, 175}) {
            byte[] image = afterX.clone();
            for (int s = 0; s < 176; s++) {
                if (s != keep) {
                    System.arraycopy(commit.bytes(), s * 512, image, (int) commit.offset() + s * 512, 512);
                }
            }
            IntegrityTarget r = open(new MemoryDevice("dev", image), 1000, args(cipher));
            assertArrayEquals(x, read(r, 3, 1), "torn at sector " + keep + ": the old block");
            r.close();
        }
        byte[] whole = afterX.clone();
        System.arraycopy(commit.bytes(), 0, whole, (int) commit.offset(), commit.bytes().length);
        IntegrityTarget r = open(new MemoryDevice("dev", whole.clone()), 1000, args(cipher));
        assertArrayEquals(y, read(r, 3, 1), "complete commit: the new block");
        r.close();

        String wrongKey = cipher.substring(0, cipher.indexOf(':') + 1) + "ff" + cipher.substring(cipher.indexOf(':') + 3);
        IntegrityTarget w = open(new MemoryDevice("dev", whole.clone()), 1000, args(wrongKey));
        BlockIoException e = assertThrows(BlockIoException.class, () -> read(w, 3, 1));
        assertEquals(Errno.EIO, e.errno());
        assertTrue(e.getMessage().contains("journal commit id not recognised"), e.getMessage());
        w.close();

        IntegrityTarget plain = open(new MemoryDevice("dev", whole.clone()), 1000, "0 4 J 2 journal_sectors:352 internal_hash:crc32c");
        BlockIoException without = assertThrows(BlockIoException.class, () -> read(plain, 3, 1));
        assertTrue(without.getMessage().contains("journal commit id not recognised"), "without journal_crypt: " + without.getMessage());
        plain.close();
    }

    /** The same plaintext journal never leaves the same bytes under two keys or two ciphers. */
    @Test
    void formattedJournalDiffersPerKeyAndEveryModeReopens() throws Exception {
        MemoryDevice one = new MemoryDevice("dev", MIB);
        open(one, 1000, args("ctr(aes):" + KEY128)).close();
        MemoryDevice two = new MemoryDevice("dev", MIB);
        open(two, 1000, args("ctr(aes):" + "ff" + KEY128.substring(2))).close();
        assertFalse(java.util.Arrays.equals(one.slice(JOURNAL_AT, JOURNAL_BYTES), two.slice(JOURNAL_AT, JOURNAL_BYTES)));
        for (String mode : new String[]{"D", "B"}) {
            String a = "0 4 " + mode + " 3 journal_sectors:352 internal_hash:crc32c journal_crypt:cbc(aes):" + KEY128;
            MemoryDevice dev = new MemoryDevice("dev", MIB);
            IntegrityTarget t = open(dev, 1000, a);
            byte[] b = pattern(1024, 5);
            write(t, 10, b, true);
            t.close();
            IntegrityTarget r = open(dev, 1000, a);
            assertArrayEquals(b, read(r, 10, 2), mode + " mode over an encrypted journal reopens");
            assertEquals("0 1432 -", r.status());
            r.close();
        }
    }

    @Test
    void tableShowsTheCipherBetweenHashAndMac() throws Exception {
        IntegrityTarget t = open(new MemoryDevice("dev", MIB), 1000,
                "0 4 J 4 journal_sectors:352 internal_hash:crc32c journal_crypt:ctr(aes):" + KEY128 + " journal_mac:sha256");
        // The MAC's 8 bytes per sector leave room for fewer entries: sections of 168 sectors.
        assertEquals("/mem/dev 0 4 J 8 journal_sectors:336 interleave_sectors:32768 buffer_sectors:128 journal_watermark:50"
                + " commit_time:10000 internal_hash:crc32c journal_crypt:ctr(aes):" + KEY128 + " journal_mac:sha256", t.table());
        t.close();
    }

    @Test
    void badCipherArgumentsAreRefusedWithTheKernelsWords() {
        String[][] cases = {
                {"journal_crypt:ctr(aes):abc", "Invalid journal_crypt argument"},
                {"journal_crypt:ctr(aes):zz", "Invalid journal_crypt argument"},
                {"journal_crypt:gcm(aes):" + KEY128, "Invalid journal cipher"},
                {"journal_crypt:cbc(aes):0011", "Error setting encryption key (2 bytes for cbc(aes))"},
                {"journal_crypt:chacha20:" + KEY128, "Error setting encryption key (16 bytes for chacha20)"},
                {"journal_crypt:ctr(aes)", "Unable to encrypt journal (no key)"},
                {"journal_crypt:cbc(aes)", "Unable to generate iv (no key)"},
        };
        for (String[] c : cases) {
            TargetException e = assertThrows(TargetException.class,
                    () -> open(new MemoryDevice("dev", MIB), 1000, "0 4 J 1 " + c[0]));
            assertTrue(e.getMessage().contains(c[1]), c[0] + ": " + e.getMessage());
        }
    }

    private static long le64At(byte[] b, int at) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(at);
    }

    private static byte[] xor(byte[] data, byte[] pad) {
        byte[] out = new byte[data.length];
        for (int i = 0; i < data.length; i++) {
            out[i] = (byte) (data[i] ^ pad[i]);
        }
        return out;
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
