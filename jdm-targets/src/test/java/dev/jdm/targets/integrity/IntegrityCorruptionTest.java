package dev.jdm.targets.integrity;

import dev.jdm.core.testing.MemoryDevice;
import dev.jdm.core.BlockIoException;
import dev.jdm.core.Errno;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;

import static dev.jdm.targets.integrity.Harness.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Damage under the target: the read of exactly the damaged block fails with EILSEQ naming its
 * sector, the mismatch counter in the status counts it, every other block still reads. Layout:
 * 16 MiB, tag 4 → data of sector s at 440 + s, its tag at byte 184·512 + 4s.
 */
class IntegrityCorruptionTest {
    private static final int MIB = 16 << 20;
    private static final String J = "0 4 J 1 internal_hash:crc32c";

    private static MemoryDevice prepared(byte[] data) throws Exception {
        MemoryDevice dev = new MemoryDevice("dev", MIB);
        IntegrityTarget t = open(dev, 1000, J);
        write(t, 0, data, true);
        t.close();
        return dev;
    }

    @Test
    void flippedDataBitFailsThatSectorOnly() throws Exception {
        byte[] data = pattern(64 * 512, 3);
        MemoryDevice dev = prepared(data);
        dev.bytes()[(440 + 37) * 512 + 100] ^= 0x10;
        IntegrityTarget t = open(dev, 1000, J);
        BlockIoException e = assertThrows(BlockIoException.class, () -> read(t, 37, 1));
        assertEquals(Errno.EILSEQ, e.errno());
        assertEquals("integrity: Checksum failed at sector 0x25 (37)", e.getMessage());
        assertEquals("1 32328 -", t.status());
        for (int s = 0; s < 64; s++) {
            if (s != 37) {
                assertArrayEquals(copy(data, s * 512, 512), read(t, s, 1), "sector " + s);
            }
        }
        BlockIoException range = assertThrows(BlockIoException.class, () -> read(t, 32, 8));
        assertEquals("integrity: Checksum failed at sector 0x25 (37)", range.getMessage(), "a read covering it fails");
        assertEquals("2 32328 -", t.status());
        // Rewriting the block heals it.
        byte[] fresh = pattern(512, 99);
        write(t, 37, fresh, true);
        assertArrayEquals(fresh, read(t, 37, 1));
        t.close();
    }

    @Test
    void flippedTagBitFailsThatSectorOnly() throws Exception {
        byte[] data = pattern(64 * 512, 4);
        MemoryDevice dev = prepared(data);
        dev.bytes()[184 * 512 + 50 * 4 + 2] ^= 1;
        IntegrityTarget t = open(dev, 1000, J);
        BlockIoException e = assertThrows(BlockIoException.class, () -> read(t, 50, 1));
        assertEquals("integrity: Checksum failed at sector 0x32 (50)", e.getMessage());
        assertArrayEquals(copy(data, 49 * 512, 512), read(t, 49, 1));
        assertArrayEquals(copy(data, 51 * 512, 512), read(t, 51, 1));
        assertEquals("1 32328 -", t.status());
        t.close();
    }

    @Test
    void recoveryModeReadsWithoutCheckingAndRefusesWrites() throws Exception {
        byte[] data = pattern(8 * 512, 5);
        MemoryDevice dev = prepared(data);
        dev.bytes()[(440 + 3) * 512] ^= 1;
        IntegrityTarget t = open(dev, 1000, "0 4 R 1 internal_hash:crc32c");
        byte[] damaged = copy(data, 3 * 512, 512);
        damaged[0] ^= 1;
        assertArrayEquals(damaged, read(t, 3, 1));
        assertEquals("0 32328 -", t.status());
        BlockIoException e = assertThrows(BlockIoException.class, () -> write(t, 0, new byte[512], false));
        assertEquals(Errno.EIO, e.errno());
        assertEquals("/mem/dev 0 4 R 4 journal_sectors:176 interleave_sectors:32768 buffer_sectors:128 internal_hash:crc32c",
                t.table());
        t.close();
    }

    @Test
    void discardsFillTagsWithTheKernelsFiller() throws Exception {
        MemoryDevice dev = prepared(pattern(64 * 512, 6));
        IntegrityTarget refusing = open(dev, 1000, J);
        BlockIoException e = assertThrows(BlockIoException.class, () -> refusing.discard(8 * 512, 8 * 512));
        assertEquals(Errno.EOPNOTSUPP, e.errno());
        assertFalse(refusing.supportsDiscard());
        refusing.close();

        IntegrityTarget t = open(dev, 1000, "0 4 J 2 allow_discards internal_hash:crc32c");
        t.discard(8 * 512, 8 * 512);
        byte[] filler = new byte[32];
        java.util.Arrays.fill(filler, (byte) 0xf6);
        assertArrayEquals(filler, dev.slice(184 * 512L + 8 * 4, 32), "8 tags of 0xf6");
        assertArrayEquals(new byte[8 * 512], read(t, 8, 8), "discarded blocks read without a mismatch");
        assertEquals("0 32328 -", t.status());
        assertTrue(t.table().contains(" allow_discards "), t.table());
        t.close();
    }

    @Test
    void unalignedIoOnLargeBlocksIsAnIoError() throws Exception {
        MemoryDevice dev = new MemoryDevice("dev", MIB);
        IntegrityTarget t = open(dev, 8, "0 4 J 2 block_size:4096 internal_hash:crc32c");
        BlockIoException e = assertThrows(BlockIoException.class, () -> t.write(512, ByteBuffer.allocate(4096), false));
        assertEquals(Errno.EIO, e.errno());
        assertEquals("integrity: I/O at byte 512 length 4096 is not aligned on the 4096-byte block size", e.getMessage());
        t.close();
    }

    @Test
    void recalculateRebuildsEveryTagAndKeepsTheFlagAsTheKernelDoes() throws Exception {
        byte[] data = pattern(64 * 512, 8);
        MemoryDevice dev = prepared(data);
        java.util.Arrays.fill(dev.bytes(), 184 * 512, 184 * 512 + 64 * 4, (byte) 0x5a);
        IntegrityTarget broken = open(dev, 1000, J);
        assertThrows(BlockIoException.class, () -> read(broken, 0, 1));
        broken.close();

        IntegrityTarget t = open(dev, 1000, "0 4 J 2 recalculate internal_hash:crc32c");
        assertArrayEquals(data, read(t, 0, 64));
        assertEquals("0 32328 32328", t.status(), "recalc_sector reached the end; the flag stays");
        assertEquals("/mem/dev 0 4 J 7 recalculate journal_sectors:176 interleave_sectors:32768 buffer_sectors:128"
                + " journal_watermark:50 commit_time:10000 internal_hash:crc32c", t.table());
        t.close();
        assertEquals(0x2, dev.bytes()[24], "RECALCULATING stays in the superblock");
        assertEquals(2, dev.bytes()[8], "which makes it version 2");
        assertArrayEquals(le64(32328), dev.slice(32, 8), "recalc_sector");
        assertArrayEquals(Crc32cReference.tag(17, copy(data, 17 * 512, 512), 4), dev.slice(184 * 512L + 17 * 4, 4));
    }

    @Test
    void recoveryModeWritesNothingEvenOverAZeroSuperblock() throws Exception {
        MemoryDevice dev = new MemoryDevice("dev", MIB);
        IntegrityTarget t = open(dev, 8, "0 4 R 1 internal_hash:crc32c");
        assertEquals("0 32328 -", t.status());
        t.close();
        assertTrue(allZero(dev.bytes()), "recovery mode formats nothing");
    }
}
