package dev.jdm.targets.integrity;

import dev.jdm.core.testing.MemoryDevice;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Map;

import static dev.jdm.targets.integrity.Harness.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The on-disk layout against numbers worked out by hand from dm-integrity.c's formulas (the
 * comments show the arithmetic), checked on the raw device bytes rather than through our own
 * geometry code wherever a position is involved.
 */
class IntegrityLayoutTest {
    private static final int MIB = 1 << 20;

    /**
     * 16 MiB, tag 4, defaults. Entry = roundup(8+8+4, 8) = 24 bytes; 504/24 = 21 per sector;
     * 168 per section; section = 168 + 8 = 176 sectors. Journal = min(131072, 32768>>7 = 256) → 1
     * section; initial = 8 + 176 = 184. metadata_run = roundup(4·32768, 128 KiB)/512 = 256. Area 0
     * data starts at 184 + 256 = 440, so 32768 − 440 = 32328 sectors are provided.
     */
    @Test
    void defaultFormatSuperblockFieldByField() throws Exception {
        MemoryDevice dev = new MemoryDevice("dev", 16 * MIB);
        IntegrityTarget t = open(dev, 1, "0 4 J 1 internal_hash:crc32c");
        assertEquals(32328, t.providedDataSectors());
        assertEquals("0 32328 -", t.status());
        assertEquals("/mem/dev 0 4 J 6 journal_sectors:176 interleave_sectors:32768 buffer_sectors:128"
                + " journal_watermark:50 commit_time:10000 internal_hash:crc32c", t.table());

        byte[] sb = dev.slice(0, 4096);
        assertArrayEquals("integrt\0".getBytes(StandardCharsets.US_ASCII), copy(sb, 0, 8), "magic");
        assertEquals(1, sb[8], "version 1: no flag needs a newer one");
        assertEquals(15, sb[9], "log2_interleave_sectors = log2(32768)");
        assertArrayEquals(new byte[]{4, 0}, copy(sb, 10, 2), "integrity_tag_size");
        assertArrayEquals(new byte[]{1, 0, 0, 0}, copy(sb, 12, 4), "journal_sections");
        assertArrayEquals(le64(32328), copy(sb, 16, 8), "provided_data_sectors");
        assertArrayEquals(new byte[4], copy(sb, 24, 4), "flags");
        assertEquals(0, sb[28], "log2_sectors_per_block");
        // sectors_per_bit 32768 (2^15) already fits: the journal holds 176·4096 bits.
        assertEquals(15, sb[29], "log2_blocks_per_bitmap_bit");
        assertTrue(allZero(copy(sb, 30, 4096 - 30)), "everything after is zero (no recalc, no salt)");

        // Journal section 0: each sector ends in commit id 0x1111111111111111 ^ sector (section 0, sequence 0);
        // the 8 entry sectors hold 21 unused entries of 24 bytes (sector_hi = 0xffffffff), the rest is zero.
        byte[] unusedEntry = concat(new byte[4], new byte[]{-1, -1, -1, -1}, new byte[16]);
        for (int j = 0; j < 176; j++) {
            byte[] sector = dev.slice((8 + j) * 512L, 512);
            assertArrayEquals(le64(0x1111111111111111L ^ j), copy(sector, 504, 8), "commit id of journal sector " + j);
            for (int e = 0; e < 21; e++) {
                byte[] expected = j < 8 ? unusedEntry : new byte[24];
                assertArrayEquals(expected, copy(sector, e * 24, 24), "journal sector " + j + " slot " + e);
            }
        }
        assertTrue(allZero(dev.slice(184 * 512L, (32768 - 184) * 512)), "tags and data are not touched by a format");
        t.close();
    }

    /**
     * interleave_sectors:8 with fix_padding: 4·8 = 32 tag bytes per area padded to 4 KiB → run 8.
     * Each area is 8 tag sectors + 8 data sectors; data of area a starts at 184 + 16a + 8.
     * Provided p (multiple of 8): 16·(p/8) + 183 < 32768 → p/8 ≤ 2036 → 16288.
     * Buffer sectors shrink to the run: min(128, 2^ffs(8)) = 8. Version 4 (fixed padding).
     */
    @Test
    void smallInterleaveWithFixedPadding() throws Exception {
        MemoryDevice dev = new MemoryDevice("dev", 16 * MIB);
        IntegrityTarget t = open(dev, 16288, "0 4 D 3 interleave_sectors:8 fix_padding internal_hash:crc32c");
        assertEquals(16288, t.providedDataSectors());
        assertEquals(8, t.geometry().metadataRun());
        assertEquals("/mem/dev 0 4 D 5 journal_sectors:176 interleave_sectors:8 buffer_sectors:8 fix_padding"
                + " internal_hash:crc32c", t.table());
        assertEquals(4, dev.bytes()[8], "version 4 for FIXED_PADDING");
        assertArrayEquals(le32(0x8), copy(dev.bytes(), 24, 4), "flags = FIXED_PADDING");

        byte[] block = pattern(512, 13);
        write(t, 13, block, true);
        // Sector 13: area 1, offset 5 → data sector 184 + 16 + 8 + 5 = 213; tag at sector 184 + 16, byte 5·4.
        assertArrayEquals(block, dev.slice(213 * 512L, 512));
        assertArrayEquals(Crc32cReference.tag(13, block, 4), dev.slice(200 * 512L + 20, 4));
        t.close();
    }

    /**
     * block_size:4096, sha256 (tag 32), fix_padding, 64 MiB. Entry = roundup(8 + 64 + 32, 8) = 104;
     * 504/104 = 4 per sector, 32 per section, 32·8 + 8 = 264 sectors per section. Journal =
     * 131072>>7 = 1024 → 3 sections (792 sectors), initial 800. Run = 32·4096 = 128 KiB → 256.
     * Area 3 data starts at 3·32768 + 4·256 + 800 = 100128; 131072 − 100128 = 30944 more sectors
     * fit: 3·32768 + 30944 = 129248 provided.
     */
    @Test
    void fourKiBlocksWithSha256() throws Exception {
        MemoryDevice dev = new MemoryDevice("dev", 64 * MIB);
        IntegrityTarget t = open(dev, 8, "0 32 J 3 block_size:4096 fix_padding internal_hash:sha256");
        IntegrityGeometry g = t.geometry();
        assertEquals(104, g.journalEntrySize());
        assertEquals(32, g.journalSectionEntries());
        assertEquals(264, g.journalSectionSectors());
        assertEquals(800, g.initialSectors());
        assertEquals(256, g.metadataRun());
        assertEquals(129248, t.providedDataSectors());
        assertEquals(3, dev.bytes()[28], "log2_sectors_per_block");
        assertArrayEquals(new byte[]{3, 0, 0, 0}, copy(dev.bytes(), 12, 4), "journal_sections");
        assertEquals("/mem/dev 0 32 J 8 block_size:4096 journal_sectors:792 interleave_sectors:32768 buffer_sectors:128"
                + " journal_watermark:50 commit_time:10000 fix_padding internal_hash:sha256", t.table());
        t.close();
    }

    /**
     * tag 12 (not a power of two), interleave 512, legacy padding, 8 MiB. Entry = roundup(28, 8) = 32;
     * 15 per sector, 120 per section, 128 sectors per section; journal 16384>>7 = 128 → 1 section,
     * initial 136. Run = roundup(12·512, 128 KiB)/512 = 256; an area spans 768 sectors.
     * Area a data: 768a + 256 + 136 + o < 16384 → 21 whole areas fit: 21·512 = 10752 provided.
     * Sector 1000 = area 1 offset 488: data at 512 + 2·256 + 136 + 488 = 1648; tag at
     * sector 136 + 768 = 904, byte 488·12 = 5856.
     */
    @Test
    void oddTagSizeAcrossAreas() throws Exception {
        MemoryDevice dev = new MemoryDevice("dev", 8 * MIB);
        IntegrityTarget t = open(dev, 10752, "0 12 J 2 interleave_sectors:512 internal_hash:crc32c");
        assertEquals(10752, t.providedDataSectors());
        assertEquals(136, t.geometry().initialSectors());
        byte[] data = pattern(4 * 512, 1000);
        write(t, 998, data, false);
        t.flush();
        t.close();
        // Sectors 998..1001 straddle nothing (area 1 is 512..1023): data contiguous from 1646.
        assertArrayEquals(data, dev.slice(1646 * 512L, 4 * 512));
        for (int i = 0; i < 4; i++) {
            long sector = 998 + i;
            byte[] expected = concat(Crc32cReference.tag(sector, copy(data, i * 512, 512), 4), new byte[8]);
            assertArrayEquals(expected, dev.slice(904 * 512L + (488 - 2 + i) * 12L, 12), "tag of sector " + sector);
        }
        // The area boundary: sector 1023 is the last of area 1, 1024 the first of area 2 (data at 1024 + 3·256 + 136).
        IntegrityTarget again = open(dev, 10752, "0 12 J 2 interleave_sectors:512 internal_hash:crc32c");
        byte[] cross = pattern(1024, 1023);
        write(again, 1023, cross, true);
        again.close();
        assertArrayEquals(copy(cross, 0, 512), dev.slice((512 + 2 * 256 + 136 + 511) * 512L, 512));
        assertArrayEquals(copy(cross, 512, 512), dev.slice((1024 + 3 * 256 + 136) * 512L, 512));
        assertArrayEquals(Crc32cReference.tag(1024, copy(cross, 512, 512), 4),
                dev.slice((136 + 2 * 768) * 512L, 4), "first tag of area 2");
    }

    /**
     * meta_device: data 8 MiB mapped 1:1; on the 1 MiB metadata device the superblock, one journal
     * section (176 sectors: journal_sectors = 16384>>7 = 128 < 176 rounds up to one section) and a
     * flat tag array from sector 184: the tag of sector s at byte 184·512 + 4s. Version 2.
     */
    @Test
    void metaDeviceLayout() throws Exception {
        MemoryDevice data = new MemoryDevice("data", 8 * MIB);
        MemoryDevice meta = new MemoryDevice("meta", MIB);
        IntegrityTarget t = open(Map.of("data", data, "meta", meta), 16384,
                "data 0 4 D 2 meta_device:meta internal_hash:crc32c");
        assertEquals(16384, t.providedDataSectors());
        assertEquals(2, meta.bytes()[8], "version 2 with a metadata device");
        assertEquals(0, meta.bytes()[9], "no interleaving");
        assertTrue(allZero(data.slice(0, 8 * MIB)), "the data device carries no metadata");
        byte[] block = pattern(512, 77);
        write(t, 77, block, true);
        assertArrayEquals(block, data.slice(77 * 512L, 512));
        assertArrayEquals(Crc32cReference.tag(77, block, 4), meta.slice(184 * 512L + 77 * 4, 4));
        assertEquals("/mem/data 0 4 D 5 meta_device:/mem/meta journal_sectors:176 interleave_sectors:1"
                + " buffer_sectors:128 internal_hash:crc32c", t.table());
        t.close();
    }

    @Test
    void superblockVersionsFollowTheFlags() throws Exception {
        assertEquals(3, formatVersion("0 4 B 1 internal_hash:crc32c"));
        assertEquals(2, formatVersion("0 4 J 2 recalculate internal_hash:crc32c"));
        assertEquals(5, formatVersion("0 32 J 2 fix_hmac internal_hash:hmac(sha256):00112233"));
    }

    private static int formatVersion(String args) throws Exception {
        MemoryDevice dev = new MemoryDevice("dev", 4 * MIB);
        IntegrityTarget t = open(dev, 8, args);
        t.close();
        return dev.bytes()[8];
    }

    /**
     * reserved_sectors 4096 (room for a LUKS header): superblock at 4096, journal after it, everything
     * shifted; the provided size still counts from the device start: 32768 − 4096 − 440 = 28232.
     */
    @Test
    void reservedSectorsShiftEverything() throws Exception {
        MemoryDevice dev = new MemoryDevice("dev", 16 * MIB);
        IntegrityTarget t = open(dev, 28232, "4096 4 J 1 internal_hash:crc32c");
        assertEquals(28232, t.providedDataSectors());
        assertTrue(allZero(dev.slice(0, 4096 * 512)), "the reserved area is not touched");
        assertArrayEquals("integrt\0".getBytes(StandardCharsets.US_ASCII), dev.slice(4096 * 512L, 8));
        assertArrayEquals(le64(0x1111111111111111L), dev.slice((4096 + 8) * 512L + 504, 8), "journal right after it");
        byte[] block = pattern(512, 1);
        write(t, 0, block, true);
        t.close();
        assertArrayEquals(block, dev.slice((4096 + 440) * 512L, 512));
        assertArrayEquals(Crc32cReference.tag(0, block, 4), dev.slice((4096 + 184) * 512L, 4));
        assertEquals("/mem/dev 4096 4 J 6 journal_sectors:176 interleave_sectors:32768 buffer_sectors:128"
                + " journal_watermark:50 commit_time:10000 internal_hash:crc32c", t.table());
    }

    /**
     * interleave_sectors:8 with the legacy 128 KiB padding: each area is 256 tag sectors + 8 data
     * sectors, a stride of 264. The kernel's 128-sector tag buffers would place area 1's tags at
     * 184 + 256 (area 0's data); jdm shrinks the buffers to 8 sectors, which divide 264, so area 1's
     * tags stay at 184 + 264 and its data at 184 + 264 + 256.
     */
    @Test
    void legacyPaddingWithTinyInterleaveKeepsTagsOffTheData() throws Exception {
        MemoryDevice dev = new MemoryDevice("dev", 16 * MIB);
        IntegrityTarget t = open(dev, 64, "0 4 D 2 interleave_sectors:8 internal_hash:crc32c");
        assertTrue(t.table().contains(" buffer_sectors:8 "), t.table());
        byte[] a = pattern(512, 1), b = pattern(512, 2);
        write(t, 0, a, true);
        write(t, 8, b, true);
        assertArrayEquals(a, read(t, 0, 1));
        assertArrayEquals(b, read(t, 8, 1));
        t.close();
        assertArrayEquals(a, dev.slice((184 + 256) * 512L, 512), "area 0 data");
        assertArrayEquals(Crc32cReference.tag(8, b, 4), dev.slice((184 + 264) * 512L, 4), "area 1 tag");
        assertArrayEquals(b, dev.slice((184 + 264 + 256) * 512L, 512), "area 1 data");
    }
}
