package dev.jdm.targets.integrity;

import dev.jdm.core.testing.MemoryDevice;
import dev.jdm.core.testing.ExternalTools;
import org.junit.jupiter.api.Test;

import java.util.HexFormat;
import java.util.List;

import static dev.jdm.targets.integrity.Harness.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Tags on disk checked against hash implementations that share no code with ours: a bitwise CRC-32C,
 * python3's zlib and hmac, and {@code openssl dgst}. Every case writes through D mode, flushes, and
 * reads the tag at its hand-computed place: 16 MiB device, defaults → tags of area 0 start at
 * sector 184 (superblock 8 + one 176-sector journal section for tag sizes up to 16; the journal
 * section is recomputed per tag size in {@link #tagStart}).
 */
class IntegrityTagTest {
    private static final int MIB = 1 << 20;

    @Test
    void crc32cMatchesBitwiseReference() throws Exception {
        byte[] block = pattern(512, 5);
        assertArrayEquals(Crc32cReference.tag(100, block, 4), storedTag("0 4 D 1 internal_hash:crc32c", 100, block, 4));
    }

    @Test
    void crc32IsTheKernelsRawCrcCheckedWithZlib() throws Exception {
        byte[] block = pattern(512, 6);
        // The kernel's "crc32" shash: crc32_le seeded with 0, no final inversion = ~zlib.crc32(data, 0xffffffff).
        String py = "import sys,zlib,struct; d=sys.stdin.buffer.read(); "
                + "sys.stdout.write(struct.pack('<I', ~zlib.crc32(d, 0xffffffff) & 0xffffffff).hex())";
        byte[] expected = HexFormat.of().parseHex(run(List.of(python(), "-c", py), concat(le64(7), block)));
        assertArrayEquals(expected, storedTag("0 4 D 1 internal_hash:crc32", 7, block, 4));
    }

    @Test
    void sha256FullAndTruncatedCheckedWithOpenssl() throws Exception {
        String openssl = ExternalTools.requireTool("openssl", "openssl");
        byte[] block = pattern(512, 8);
        byte[] digest = runBytes(List.of(openssl, "dgst", "-sha256", "-binary"), concat(le64(9), block));
        assertEquals(32, digest.length);
        assertArrayEquals(digest, storedTag("0 32 D 1 internal_hash:sha256", 9, block, 32));
        assertArrayEquals(copy(digest, 0, 16), storedTag("0 16 D 1 internal_hash:sha256", 9, block, 16), "cut to the tag size");
        // A tag wider than the digest is zero-padded: crc32c in 8 bytes.
        assertArrayEquals(concat(Crc32cReference.tag(9, block, 4), new byte[4]), storedTag("0 8 D 1 internal_hash:crc32c", 9, block, 8));
    }

    @Test
    void hmacSha256WithFixHmacSaltCheckedWithPython() throws Exception {
        byte[] block = pattern(4096, 10);
        String key = "000102030405060708090a0b0c0d0e0f";
        MemoryDevice dev = new MemoryDevice("dev", 16 * MIB);
        IntegrityTarget t = open(dev, 8, "0 32 D 3 block_size:4096 fix_hmac internal_hash:hmac(sha256):" + key);
        write(t, 8, block, true);
        t.close();
        byte[] salt = dev.slice(48, 16);
        assertFalse(allZero(salt), "fix_hmac stores a random salt");
        assertEquals(0x10, dev.bytes()[24], "flags = FIXED_HMAC");
        String py = "import sys,hmac,hashlib; d=sys.stdin.buffer.read(); "
                + "sys.stdout.write(hmac.new(bytes.fromhex('" + key + "'), d, hashlib.sha256).hexdigest())";
        byte[] expected = HexFormat.of().parseHex(run(List.of(python(), "-c", py), concat(salt, le64(8), block)));
        // 4 KiB blocks, tag 32: entry 8+64+32 = 104, 4 per sector, section 264 sectors; 1 section (256 < 264) → tags at 272.
        // Sector 8 is block 1 of area 0: byte 32.
        assertArrayEquals(expected, dev.slice(272 * 512L + 32, 32));
    }

    /** Direct buffers take another path through the hashes (no backing array): same tags, same data. */
    @Test
    void directBuffersGiveTheSameTagsAsHeapBuffers() throws Exception {
        for (String alg : new String[]{"crc32c", "crc32", "sha256"}) {
            int tagSize = alg.equals("sha256") ? 32 : 4;
            byte[] block = pattern(4 * 512, 12);
            byte[] heapTags = storedTag("0 " + tagSize + " D 1 internal_hash:" + alg, 40, block, tagSize);
            MemoryDevice dev = new MemoryDevice("dev", 16 * MIB);
            IntegrityTarget t = open(dev, 8, "0 " + tagSize + " D 1 internal_hash:" + alg);
            java.nio.ByteBuffer src = java.nio.ByteBuffer.allocateDirect(block.length).put(block).flip();
            t.write(40 * 512, src, true);
            assertEquals(src.limit(), src.position(), "the source is consumed");
            java.nio.ByteBuffer dst = java.nio.ByteBuffer.allocateDirect(block.length);
            t.read(40 * 512, dst);
            assertEquals(block.length, dst.position(), "the destination is filled");
            byte[] back = new byte[block.length];
            dst.flip().get(back);
            assertArrayEquals(block, back, alg);
            t.close();
            assertArrayEquals(heapTags, dev.slice(tagStart(tagSize) * 512L + 40L * tagSize, tagSize), alg + ": tag of sector 40");
        }
    }

    /** Formats a fresh 16 MiB device with {@code args}, writes one block at {@code sector} and returns its stored tag. */
    private static byte[] storedTag(String args, long sector, byte[] block, int tagSize) throws java.io.IOException, dev.jdm.core.spi.TargetException {
        MemoryDevice dev = new MemoryDevice("dev", 16 * MIB);
        IntegrityTarget t = open(dev, 8, args);
        write(t, sector, block, true);
        assertArrayEquals(block, read(t, sector, block.length >> 9), "reads back");
        t.close();
        return dev.slice(tagStart(tagSize) * 512L + sector * tagSize, tagSize);
    }

    /** 8 + one journal section: entry = roundup(16 + tag, 8), 504/entry per sector, ·8 entries + 8 sectors. */
    private static long tagStart(int tagSize) {
        int entry = (16 + tagSize + 7) / 8 * 8;
        int section = 504 / entry * 8 + 8;
        // journal_sectors 256 (32768>>7) holds 256/section sections, at least one.
        return 8 + (long) Math.max(1, 256 / section) * section;
    }

    private static String python() {
        return ExternalTools.requireTool("python3", "python3");
    }

}
