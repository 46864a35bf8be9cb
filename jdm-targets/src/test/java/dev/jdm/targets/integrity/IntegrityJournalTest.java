package dev.jdm.targets.integrity;

import dev.jdm.core.testing.MemoryDevice;
import dev.jdm.core.BlockIoException;
import dev.jdm.core.Errno;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;

import static dev.jdm.targets.integrity.Harness.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The journal on disk, byte for byte, and what a reload after a crash makes of it. Layout (16 MiB,
 * tag 4, crc32c): one section of 176 sectors at sector 8; 24-byte entries, entry n in sector n % 8
 * slot n / 8; block n's data in section sector 8 + n, its last 8 bytes moved into the entry;
 * every sector ends with commit id base[seq] ^ (section << 32 ^ sector), bases 0x1111…, 0x2222….
 * Data area 0 starts at 184 + 256 = 440, tags at 184.
 */
class IntegrityJournalTest {
    private static final int MIB = 1 << 20;
    private static final String J = "0 4 J 1 internal_hash:crc32c";
    private static final long BASE0 = 0x1111111111111111L;
    private static final long BASE1 = 0x2222222222222222L;
    private static final long BASE2 = 0x3333333333333333L;

    @Test
    void commitWritesEntryDataAndCommitIdsThenReplayBringsThemHome() throws Exception {
        MemoryDevice dev = new MemoryDevice("dev", 16 * MIB);
        IntegrityTarget t = open(dev, 1000, J);
        byte[] before = dev.snapshot();
        byte[] a = pattern(512, 1);
        write(t, 5, a, false);
        assertArrayEquals(before, dev.bytes(), "nothing reaches the disk before a commit");
        assertArrayEquals(a, read(t, 5, 1), "reads come from the journal");

        dev.record(true);
        t.flush();
        List<MemoryDevice.Event> events = dev.events();
        dev.record(false);
        MemoryDevice.Event commit = events.getFirst();
        assertEquals(8 * 512L, commit.offset(), "the commit writes section 0");
        assertTrue(commit.fua(), "with FUA");
        // A crash right after the commit write: nothing of the copy home has happened yet.
        byte[] image = before.clone();
        System.arraycopy(commit.bytes(), 0, image, (int) commit.offset(), commit.bytes().length);
        MemoryDevice crashed = new MemoryDevice("dev", image);
        // The formatted journal holds sequence 0 everywhere, so the first lap after loading uses sequence 1.
        assertArrayEquals(concat(le64(5), copy(a, 504, 8), Crc32cReference.tag(5, a, 4), new byte[4]),
                crashed.slice(8 * 512L, 24), "entry 0: sector, last 8 data bytes, tag, padding");
        assertArrayEquals(concat(copy(a, 0, 504), le64(BASE1 ^ 8)), crashed.slice(16 * 512L, 512),
                "data sector 8 of the section: 504 data bytes and the commit id of sequence 1");
        assertArrayEquals(le64(BASE1), crashed.slice(8 * 512L + 504, 8), "commit id of sector 0");
        assertArrayEquals(concat(new byte[4], new byte[]{-1, -1, -1, -1}, new byte[16]), crashed.slice(9 * 512L, 24),
                "entry 1 stays unused");
        assertTrue(allZero(crashed.slice(445 * 512L, 512)), "data not yet home");

        IntegrityTarget r = open(crashed, 1000, J);
        assertArrayEquals(a, read(r, 5, 1));
        assertArrayEquals(a, crashed.slice(445 * 512L, 512), "replay copied the block home");
        assertArrayEquals(Crc32cReference.tag(5, a, 4), crashed.slice(184 * 512L + 20, 4), "and its tag");
        assertEquals("0 32328 -", r.status());
        r.close();

        // One section: the commit closed it, the journal fell under the watermark and went home at once.
        assertArrayEquals(a, dev.slice(445 * 512L, 512));
        byte[] b = pattern(512, 2);
        write(t, 6, b, true);
        assertArrayEquals(le64(6), dev.slice(8 * 512L, 8), "entry 0 now holds sector 6");
        for (int j : new int[]{0, 7, 8, 175}) {
            assertArrayEquals(le64(BASE2 ^ j), dev.slice((8 + j) * 512L + 504, 8), "commit id of sector " + j + " in the next lap");
        }
        MemoryDevice crashed2 = new MemoryDevice("dev", dev.snapshot());
        IntegrityTarget r2 = open(crashed2, 1000, J);
        assertArrayEquals(a, read(r2, 5, 1));
        assertArrayEquals(b, read(r2, 6, 1));
        r2.close();
        t.close();
    }

    /**
     * Two sections (journal_sectors:352). X goes to sector 3 in section 0, Y in section 1. If the
     * write of section 1 is torn (its sectors only partly carry the new commit ids), a reload replays
     * section 0 only: sector 3 is X, never Y or a mixture.
     */
    @Test
    void tornCommitIsNotReplayed() throws Exception {
        String args = "0 4 J 2 journal_sectors:352 internal_hash:crc32c";
        MemoryDevice dev = new MemoryDevice("dev", MIB);
        IntegrityTarget t = open(dev, 1000, args);
        byte[] x = pattern(512, 3), y = pattern(512, 4);
        write(t, 3, x, true);
        byte[] afterX = dev.snapshot();
        dev.record(true);
        write(t, 3, y, true);
        List<MemoryDevice.Event> events = dev.events();
        dev.record(false);
        MemoryDevice.Event commit = events.getFirst();
        assertEquals((8 + 176) * 512L, commit.offset(), "section 1 starts after section 0");
        assertEquals(176 * 512, commit.bytes().length);

        for (int keep : new int[]{0, 1, 8, 9, 100, 175}) {
            byte[] image = afterX.clone();
            // Every sector but one reaches the disk, the kept-out one differs: a torn write.
            for (int s = 0; s < 176; s++) {
                if (s != keep) {
                    System.arraycopy(commit.bytes(), s * 512, image, (int) commit.offset() + s * 512, 512);
                }
            }
            IntegrityTarget r = open(new MemoryDevice("dev", image), 1000, args);
            assertArrayEquals(x, read(r, 3, 1), "torn at sector " + keep + ": the old block");
            assertEquals("0 1432 -", r.status());
            r.close();
        }
        byte[] whole = afterX.clone();
        System.arraycopy(commit.bytes(), 0, whole, (int) commit.offset(), commit.bytes().length);
        IntegrityTarget r = open(new MemoryDevice("dev", whole), 1000, args);
        assertArrayEquals(y, read(r, 3, 1), "complete commit: the new block");
        r.close();
        t.close();
    }

    @Test
    void replayRefusesAJournalTagThatDoesNotMatchItsData() throws Exception {
        MemoryDevice dev = new MemoryDevice("dev", 16 * MIB);
        IntegrityTarget t = open(dev, 1000, J);
        write(t, 5, pattern(512, 1), true);
        byte[] image = dev.snapshot();
        image[16 * 512 + 100] ^= 1; // the journalled data of entry 0
        IntegrityTarget r = open(new MemoryDevice("dev", image), 1000, J);
        BlockIoException e = assertThrows(BlockIoException.class, () -> read(r, 0, 1));
        assertEquals(Errno.EILSEQ, e.errno());
        assertTrue(e.getMessage().contains("tag mismatch when replaying journal at sector 5"), e.getMessage());
        assertEquals("1 32328 -", r.status());
        r.close();
        t.close();
    }

    @Test
    void cleanShutdownLeavesAnEmptyJournal() throws Exception {
        MemoryDevice dev = new MemoryDevice("dev", 16 * MIB);
        IntegrityTarget t = open(dev, 1000, J);
        byte[] a = pattern(1024, 9);
        write(t, 20, a, true);
        t.close();
        assertArrayEquals(a, dev.slice(460 * 512L, 1024), "home");
        // Section 0 was committed in the lap of sequence 1 and the free pointer wrapped: re-initialised with sequence 2.
        for (int e = 0; e < 21; e++) {
            assertArrayEquals(new byte[]{-1, -1, -1, -1}, dev.slice(8 * 512L + e * 24 + 4, 4), "entry slot " + e + " unused");
        }
        assertArrayEquals(le64(BASE2), dev.slice(8 * 512L + 504, 8));
        IntegrityTarget r = open(dev, 1000, J);
        assertArrayEquals(a, read(r, 20, 2));
        r.close();
    }

    /** Without internal_hash the tags would come from the layer above (dm-crypt's AEAD); none given: zero tags. */
    @Test
    void withoutInternalHashDataPassesAndJournalledTagsAreZero() throws Exception {
        MemoryDevice dev = new MemoryDevice("dev", 16 * MIB);
        IntegrityTarget t = open(dev, 1000, "0 4 J 0");
        java.util.Arrays.fill(dev.bytes(), 184 * 512, 184 * 512 + 64, (byte) 0x33);
        byte[] a = pattern(2048, 11);
        write(t, 4, a, true);
        assertArrayEquals(a, read(t, 4, 4));
        t.close();
        assertArrayEquals(a, dev.slice(444 * 512L, 2048));
        assertArrayEquals(new byte[16], dev.slice(184 * 512L + 16, 16), "the journal carried zero tags home");
        assertEquals("/mem/dev 0 4 J 5 journal_sectors:176 interleave_sectors:32768 buffer_sectors:128"
                + " journal_watermark:50 commit_time:10000", t.table());
    }

    /**
     * With meta_device the journal lives on the metadata device (sector 8 on, after the superblock)
     * and replays onto the data device, where block s sits at sector s.
     */
    @ParameterizedTest
    @ValueSource(strings = {"2 meta_device:meta internal_hash:crc32c",
            "3 meta_device:meta internal_hash:crc32c journal_crypt:cbc(aes):000102030405060708090a0b0c0d0e0f"})
    void metaDeviceJournalReplaysOntoTheDataDevice(String options) throws Exception {
        MemoryDevice data = new MemoryDevice("data", 4 * MIB);
        MemoryDevice meta = new MemoryDevice("meta", 1 << 20);
        String args = "data 0 4 J " + options;
        IntegrityTarget t = open(java.util.Map.of("data", data, "meta", meta), 8192, args);
        byte[] dataBefore = data.snapshot();
        byte[] metaBefore = meta.snapshot();
        meta.record(true);
        byte[] a = pattern(1024, 21);
        write(t, 100, a, true);
        MemoryDevice.Event commit = meta.events().getFirst();
        meta.record(false);
        assertEquals(8 * 512L, commit.offset(), "the commit went to the metadata device's journal");
        byte[] crashedMeta = metaBefore.clone();
        System.arraycopy(commit.bytes(), 0, crashedMeta, (int) commit.offset(), commit.bytes().length);
        MemoryDevice d2 = new MemoryDevice("data", dataBefore);
        MemoryDevice m2 = new MemoryDevice("meta", crashedMeta);
        assertTrue(allZero(d2.slice(100 * 512L, 1024)), "nothing home before the replay");
        IntegrityTarget r = open(java.util.Map.of("data", d2, "meta", m2), 8192, args);
        assertArrayEquals(a, read(r, 100, 2));
        assertArrayEquals(a, d2.slice(100 * 512L, 1024), "replayed home, 1:1 on the data device");
        // Tags: superblock 8 + one section of 176 → flat array from sector 184, 4 bytes per sector.
        assertArrayEquals(Crc32cReference.tag(101, copy(a, 512, 512), 4), m2.slice(184 * 512L + 101 * 4, 4));
        r.close();
        t.close();
    }

    @Test
    void discardOfJournalledBlocksWinsOverTheJournal() throws Exception {
        MemoryDevice dev = new MemoryDevice("dev", 16 * MIB);
        String args = "0 4 J 2 allow_discards internal_hash:crc32c";
        IntegrityTarget t = open(dev, 1000, args);
        write(t, 30, pattern(4096, 5), false);
        t.discard(30 * 512, 4096);
        assertArrayEquals(new byte[4096], read(t, 30, 8), "the discard, not the journalled data");
        t.close();
        IntegrityTarget r = open(dev, 1000, args);
        assertArrayEquals(new byte[4096], read(r, 30, 8), "and no replay brings the data back");
        r.close();
    }
}
