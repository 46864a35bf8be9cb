package dev.jdm.targets.integrity;

import dev.jdm.core.testing.MemoryDevice;
import dev.jdm.core.Errno;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.spi.TargetException;
import dev.jdm.targets.Images;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;

import static dev.jdm.targets.integrity.Harness.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The optional arguments whose effect no layout, journal or corruption test shows: each one changes
 * something observable. (tag_size, interleave_sectors, fix_padding: IntegrityLayoutTest; internal_hash:
 * IntegrityTagTest; journal_mac: IntegrityToolTest; journal_crypt: JournalCryptTest; allow_discards and
 * recalculate: IntegrityCorruptionTest.) Device: 16 MiB, one journal section of 176 sectors at sector 8
 * unless journal_sectors says otherwise; in B mode the dirty bitmap sits at the journal's start.
 */
class IntegrityArgumentsTest {
    private static final int MIB = 1 << 20;
    private static final long BITMAP_BYTE = 8 * 512;
    private static final String KEY = "000102030405060708090a0b0c0d0e0f";

    @TempDir
    Path dir;

    /** {@code dm_integrity_io_hints}: block_size becomes the mapped device's logical block size. */
    @Test
    void blockSizeIsTheMappedDevicesLogicalBlockSize() throws Exception {
        Path big = Images.create(dir, "big.img", 16 * MIB);
        Path small = Images.create(dir, "small.img", 16 * MIB);
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("big", null, "0 8 integrity " + big + " 0 4 J 2 block_size:4096 internal_hash:crc32c", false);
            dm.create("small", null, "0 8 integrity " + small + " 0 4 J 1 internal_hash:crc32c", false);
            assertEquals(4096, dm.device("big").logicalBlockSize());
            assertEquals(512, dm.device("small").logicalBlockSize());
        }
    }

    /** journal_sectors, rounded down to whole sections of 176 sectors, is what the superblock records. */
    @Test
    void journalSectorsSetsTheNumberOfSections() throws Exception {
        for (int[] c : new int[][]{{352, 2}, {704, 4}, {500, 2}, {100, 1}}) {
            MemoryDevice dev = new MemoryDevice("dev", 16 * MIB);
            IntegrityTarget t = open(dev, 8, "0 4 J 2 journal_sectors:" + c[0] + " internal_hash:crc32c");
            assertEquals(c[1], ByteBuffer.wrap(dev.slice(12, 4)).order(ByteOrder.LITTLE_ENDIAN).getInt(), "journal_sectors:" + c[0]);
            assertTrue(t.table().contains(" journal_sectors:" + 176 * c[1] + " "), t.table());
            t.close();
        }
    }

    /** buffer_sectors is the unit the tag store reads in (dm-bufio's block size). */
    @Test
    void bufferSectorsIsTheTagReadSize() throws Exception {
        for (int buffer : new int[]{8, 128}) {
            String args = "0 4 D 2 buffer_sectors:" + buffer + " internal_hash:crc32c";
            MemoryDevice dev = new MemoryDevice("dev", 16 * MIB);
            IntegrityTarget t = open(dev, 1000, args);
            write(t, 0, pattern(512, 1), true);
            t.close();
            IntegrityTarget r = open(dev, 1000, args);
            dev.record(true);
            read(r, 0, 1);
            // The data, then its tag's buffer: tags start after the superblock and the journal, at sector 8 + 176.
            assertEquals(List.of(new MemoryDevice.Read(r.geometry().dataSector(0) << 9, 512), new MemoryDevice.Read(184 * 512L, buffer * 512)),
                    dev.reads(), "buffer_sectors:" + buffer);
            dev.record(false);
            r.close();
        }
    }

    /** sectors_per_bit: one bit of the on-disk dirty bitmap covers that many sectors. */
    @Test
    void sectorsPerBitSetsTheBitmapGranularity() throws Exception {
        for (int[] c : new int[][]{{64, 0x08}, {128, 0x02}, {32768, 0x01}}) {
            MemoryDevice dev = new MemoryDevice("dev", 16 * MIB);
            IntegrityTarget t = open(dev, 1000, "0 4 B 3 sectors_per_bit:" + c[0] + " bitmap_flush_interval:3600000 internal_hash:crc32c");
            assertEquals(0, dev.bytes()[(int) BITMAP_BYTE], "clean after loading");
            write(t, 200, pattern(512, 2), false);
            assertEquals(c[1], dev.bytes()[(int) BITMAP_BYTE], "sector 200 is in bit 200 / " + c[0]);
            assertTrue(t.table().contains(" sectors_per_bit:" + c[0] + " "), t.table());
            t.close();
        }
    }

    /**
     * bitmap_flush_interval: that long after a write, once data and tags are flushed, its dirty bit
     * is cleared on disk. With an hour the bit stays; with 0 it is cleared as soon as the timer runs.
     */
    @Test
    void bitmapFlushIntervalClearsDirtyBitsOnceTheWritesAreStable() throws Exception {
        MemoryDevice slow = new MemoryDevice("dev", 16 * MIB);
        IntegrityTarget s = open(slow, 1000, "0 4 B 2 bitmap_flush_interval:3600000 internal_hash:crc32c");
        write(s, 200, pattern(512, 3), true);
        assertEquals(1, slow.bytes()[(int) BITMAP_BYTE], "dirty: the hour has not passed");

        MemoryDevice fast = new MemoryDevice("dev", 16 * MIB);
        IntegrityTarget f = open(fast, 1000, "0 4 B 2 bitmap_flush_interval:0 internal_hash:crc32c");
        write(f, 200, pattern(512, 3), true);
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (fast.bytes()[(int) BITMAP_BYTE] != 0 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertEquals(0, fast.bytes()[(int) BITMAP_BYTE], "cleared by the bitmap flush");
        assertEquals(1, slow.bytes()[(int) BITMAP_BYTE], "still dirty");
        s.close();
        f.close();
    }

    /**
     * Recalculation would give an attacker's data valid keyed tags: refused under hmac unless
     * legacy_recalculate is given; with it, the tampered block reads back with a fresh tag.
     */
    @Test
    void legacyRecalculateAllowsRecalculatingUnderAKeyedHash() throws Exception {
        String hmac = "internal_hash:hmac(sha256):" + KEY;
        MemoryDevice dev = new MemoryDevice("dev", 16 * MIB);
        IntegrityTarget t = open(dev, 1000, "0 32 D 1 " + hmac);
        write(t, 8, pattern(512, 4), true);
        long home = t.geometry().dataSector(8) << 9;
        t.close();
        byte[] forged = pattern(512, 5);
        System.arraycopy(forged, 0, dev.bytes(), (int) home, 512);

        TargetException refused = assertThrows(TargetException.class, () -> open(dev, 1000, "0 32 D 2 recalculate " + hmac));
        assertEquals(Errno.EOPNOTSUPP, refused.errno());
        IntegrityTarget strict = open(dev, 1000, "0 32 D 1 " + hmac);
        assertThrows(java.io.IOException.class, () -> read(strict, 8, 1), "the forged block fails its tag");
        strict.close();

        IntegrityTarget legacy = open(dev, 1000, "0 32 D 3 recalculate legacy_recalculate " + hmac);
        assertArrayEquals(forged, read(legacy, 8, 1), "recalculated: the forged block now has a valid tag");
        assertTrue(legacy.table().contains(" legacy_recalculate "), legacy.table());
        legacy.close();
    }
}
