package dev.jdm.targets.integrity;

import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.targets.Images;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The target through the device mapper, the way integritysetup drives the kernel: load with length 1
 * to format, read provided_data_sectors from the status, reload with that length. Refused tables
 * name the argument and leave the device untouched.
 */
class IntegrityTableTest {
    private static final long SIZE = 16 << 20;

    @TempDir
    Path dir;

    @Test
    void formatReadProvidedSizeAndReload() throws Exception {
        Path img = Images.create(dir, "i.img", SIZE);
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("i", null, "0 1 integrity " + img + " 0 4 J 1 internal_hash:crc32c", false);
            assertEquals("0 1 integrity 0 32328 -", dm.status("i", false).getFirst().format());
            String provided = dm.status("i", false).getFirst().params().split(" ")[1];
            dm.load("i", "0 " + provided + " integrity " + img + " 0 4 J 1 internal_hash:crc32c", false);
            dm.resume("i");
            assertEquals("0 32328 integrity " + img + " 0 4 J 6 journal_sectors:176 interleave_sectors:32768"
                    + " buffer_sectors:128 journal_watermark:50 commit_time:10000 internal_hash:crc32c",
                    dm.table("i", false).getFirst().format());
            MappedDevice md = dm.device("i");
            assertEquals(32328L * 512, md.size());
            byte[] data = Images.pattern(1 << 20, 1);
            md.write(0, ByteBuffer.wrap(data), false);
            md.flush();
            dm.remove("i", false, false);
        }
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("i", null, "0 32328 integrity " + img + " 0 4 D 1 internal_hash:crc32c", false);
            ByteBuffer back = ByteBuffer.allocate(1 << 20);
            dm.device("i").read(0, back);
            assertArrayEquals(Images.pattern(1 << 20, 1), back.array(), "persisted, readable in D mode too");
            assertEquals("0 32328 integrity " + img + " 0 4 D 4 journal_sectors:176 interleave_sectors:32768"
                    + " buffer_sectors:128 internal_hash:crc32c", dm.table("i", false).getFirst().format());
        }
    }

    @Test
    void bitmapModeTableAndStatus() throws Exception {
        Path img = Images.create(dir, "b.img", SIZE);
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("b", null, "0 1000 integrity " + img + " 0 - B 4 sectors_per_bit:4096 bitmap_flush_interval:5000"
                    + " fix_padding internal_hash:sha256", false);
            // Tag 32 (sha256): entries of 48 bytes, 10 per sector, sections of 88 sectors, 2 in 256 → 176.
            // Tags of an area: 32·32768 bytes = 2048 sectors; data from 8 + 176 + 2048 = 2232 → 32768 − 2232 = 30536.
            assertEquals("0 1000 integrity " + img + " 0 32 B 7 journal_sectors:176 interleave_sectors:32768"
                    + " buffer_sectors:128 sectors_per_bit:4096 bitmap_flush_interval:5000 fix_padding internal_hash:sha256",
                    dm.table("b", false).getFirst().format());
            assertEquals("0 1000 integrity 0 30536 -", dm.status("b", false).getFirst().format());
        }
    }

    @Test
    void refusedTablesNameTheArgumentAndWriteNothing() throws Exception {
        Path img = Images.create(dir, "r.img", SIZE);
        String p = img.toString();
        String[][] cases = {
                {"0 8 integrity " + p + " 0 4 J", "Invalid argument count: expected <dev> <reserved_sectors> <tag_size|-> <mode> <#opt> [opt...], got 4 arguments"},
                {"0 8 integrity " + p + " x 4 J 0", "argument 2 (\"x\"): invalid starting offset (reserved sectors)"},
                {"0 8 integrity " + p + " 0 0 J 0", "argument 3 (\"0\"): tag size out of range (1..4294967295)"},
                {"0 8 integrity " + p + " 0 425 J 0", "argument 3 (\"425\"): Too big tag size (at most 424)"},
                {"0 8 integrity " + p + " 0 - J 0", "argument 3 (\"-\"): Unknown tag size (\"-\" needs internal_hash)"},
                {"0 8 integrity " + p + " 0 4 X 0", "argument 4 (\"X\"): Invalid mode (expecting J, B, D, R, I)"},
                {"0 8 integrity " + p + " 0 4 I 1 internal_hash:crc32c", "argument 4 (\"I\"): inline mode (I) needs per-sector integrity metadata in the underlying device, which jdm block devices do not carry"},
                {"0 8 integrity " + p + " 0 4 B 0", "argument 4 (\"B\"): Bitmap mode can be only used with internal hash"},
                {"0 8 integrity " + p + " 0 4 J 19", "argument 5 (\"19\"): number of feature args (Invalid number of feature args) out of range (0..18)"},
                {"0 8 integrity " + p + " 0 4 J 2 internal_hash:crc32c", "argument 7 is missing: Not enough feature arguments: #opt is 2 but only 1 follow"},
                {"0 8 integrity " + p + " 0 4 J 1 frobnicate", "argument 6 (\"frobnicate\"): Invalid argument"},
                {"0 8 integrity " + p + " 0 4 J 1 internal_hash:nosuch", "argument 6 (\"internal_hash:nosuch\"): Invalid internal hash"},
                {"0 8 integrity " + p + " 0 32 J 1 internal_hash:hmac(sha256)", "argument 6 (\"internal_hash:hmac(sha256)\"): Error setting internal hash key"},
                {"0 8 integrity " + p + " 0 4 J 1 internal_hash:crc32c:abc", "argument 6 (\"internal_hash:crc32c:abc\"): Invalid internal_hash argument"},
                {"0 8 integrity " + p + " 0 4 J 1 block_size:1000", "argument 6 (\"block_size:1000\"): Invalid block_size argument (512..4096, a power of two)"},
                {"0 8 integrity " + p + " 0 4 J 1 journal_watermark:101", "argument 6 (\"journal_watermark:101\"): Invalid argument (journal_watermark is a percentage, 0..100)"},
                {"0 8 integrity " + p + " 0 4 J 1 journal_crypt:cbc(aes):00", "argument 6 (\"journal_crypt:cbc(aes):00\"): Error setting encryption key (1 bytes for cbc(aes))"},
                {"0 8 integrity " + p + " 0 4 J 1 allow_discards", "Discard can be only used with internal hash"},
                {"0 40000 integrity " + p + " 0 4 J 1 internal_hash:crc32c", "Not enough provided sectors for requested mapping size: the target is 40000 sectors, the device provides 32328"},
                {"0 8 integrity " + p + " 0 4 J 1 recalculate", "Recalculate can only be specified with internal_hash"},
                {"0 8 integrity " + p + " 0 32 J 2 recalculate internal_hash:hmac(sha256):0011", "Recalculating with HMAC is disabled for security reasons - if you really need it, use the argument \"legacy_recalculate\""},
        };
        try (DeviceMapper dm = DeviceMapper.create()) {
            for (String[] c : cases) {
                DmException e = assertThrows(DmException.class, () -> dm.create("r", null, c[0], false), c[0]);
                assertEquals("table line 1: integrity: " + c[1], e.getMessage(), c[0]);
                assertTrue(e.errno() == Errno.EINVAL || e.errno() == Errno.EOPNOTSUPP, c[0] + ": " + e.errno());
                assertTrue(dm.names().isEmpty());
                assertTrue(isAllZero(img), c[0] + " wrote to the device");
            }
        }
    }

    @Test
    void existingSuperblockMustAgree() throws Exception {
        Path img = Images.create(dir, "s.img", SIZE);
        String p = img.toString();
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("s", null, "0 8 integrity " + p + " 0 4 J 1 internal_hash:crc32c", false);
            dm.remove("s", false, false);
            byte[] before = Files.readAllBytes(img);
            String[][] cases = {
                    {"0 8 integrity " + p + " 0 8 J 1 internal_hash:crc32c", "Tag size doesn't match the information in superblock (table 8, superblock 4)"},
                    {"0 8 integrity " + p + " 0 4 J 2 block_size:4096 internal_hash:crc32c", "Block size doesn't match the information in superblock (table 4096, superblock 512)"},
                    {"0 8 integrity " + p + " 0 4 J 2 journal_mac:sha256 internal_hash:crc32c", "Journal mac mismatch"},
            };
            for (String[] c : cases) {
                DmException e = assertThrows(DmException.class, () -> dm.create("s", null, c[0], false));
                assertEquals("table line 1: integrity: " + c[1], e.getMessage());
            }
            assertArrayEquals(before, Files.readAllBytes(img), "refused loads write nothing");
        }
        Path junk = Images.create(dir, "junk.img", SIZE);
        Files.write(junk, new byte[]{1}, java.nio.file.StandardOpenOption.WRITE);
        try (DeviceMapper dm = DeviceMapper.create()) {
            DmException e = assertThrows(DmException.class,
                    () -> dm.create("j", null, "0 8 integrity " + junk + " 0 4 J 1 internal_hash:crc32c", false));
            assertEquals("table line 1: integrity: The device is not initialized (no integrity superblock at sector 0, and the area is not zero)",
                    e.getMessage());
        }
    }

    /** The superblock's flags are the le32 at byte 24; an inline-mode device cannot be opened in any other mode. */
    @Test
    void inlineSuperblockIsRefused() throws Exception {
        Path img = Images.create(dir, "inline.img", SIZE);
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("i", null, "0 8 integrity " + img + " 0 4 J 1 internal_hash:crc32c", false);
            dm.remove("i", false, false);
            byte[] bytes = Files.readAllBytes(img);
            bytes[24] |= (byte) IntegritySuperblock.FLAG_INLINE;
            Files.write(img, bytes);
            DmException e = assertThrows(DmException.class,
                    () -> dm.create("i", null, "0 8 integrity " + img + " 0 4 J 1 internal_hash:crc32c", false));
            assertEquals("table line 1: integrity: Inline flag mismatch: the superblock is of an inline-mode device", e.getMessage());
            assertEquals(Errno.EINVAL, e.errno());
        }
    }

    private static boolean isAllZero(Path p) throws Exception {
        for (byte b : Files.readAllBytes(p)) {
            if (b != 0) {
                return false;
            }
        }
        return true;
    }
}
