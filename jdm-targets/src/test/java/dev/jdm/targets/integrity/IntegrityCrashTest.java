package dev.jdm.targets.integrity;

import dev.jdm.core.testing.MemoryDevice;
import dev.jdm.core.testing.PowerCutDevice;
import dev.jdm.core.BlockIoException;
import dev.jdm.core.Errno;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static dev.jdm.targets.integrity.Harness.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Crashes at every point of a random workload (1 MiB devices, 192 sectors used). The device's writes are recorded; a crash after
 * event c keeps events [0, c) and, torn, a random part of event c's sectors. Reloading must give,
 * in J mode, for every sector one of the values ever written to it (never a mixture), no tag
 * mismatch, and nothing older than what the last completed flush (or a FUA write) made durable.
 * D mode may leave mismatches after a crash (the kernel's documented trade-off); B mode
 * recalculates the dirty regions and reads everything back.
 */
class IntegrityCrashTest {
    private static final int MIB = 1 << 20;
    private static final int SECTORS = 192;

    /** One write of the workload: which sectors, what data, and the event count once it returned. */
    private record Op(long sector, byte[] data, boolean fua, boolean flushAfter, int eventsAfterWrite, int eventsAfterFlush) {
    }

    /**
     * Two journal sections, so the workload laps the journal many times. 512-byte blocks with
     * crc32c (sections of 176 sectors); and 4 KiB blocks with sha256 tags and a journal MAC (entries of
     * 104 bytes, 4 per sector, sections of 264 sectors, two of them: initial 536, tag run 256,
     * 2048 − 792 = 1256 provided).
     */
    @ParameterizedTest
    @CsvSource(delimiter = ';', value = {
            "0 4 J 2 journal_sectors:352 internal_hash:crc32c; 1; 1432",
            "0 32 J 4 block_size:4096 journal_sectors:528 internal_hash:sha256 journal_mac:hmac(sha256):00ff00ff; 8; 1256"})
    void journalModeLeavesOldOrNewAfterACrashAnywhere(String args, int blockSectors, long provided) throws Exception {
        MemoryDevice base = new MemoryDevice("dev", MIB);
        IntegrityTarget init = open(base, SECTORS, args);
        write(init, 0, new byte[SECTORS * 512], true);
        init.close();
        byte[] clean = base.snapshot();

        MemoryDevice dev = new MemoryDevice("dev", clean.clone());
        IntegrityTarget t = open(dev, SECTORS, args);
        dev.record(true);
        Random rnd = new Random(42);
        List<Op> ops = new ArrayList<>();
        int blocks = SECTORS / blockSectors;
        for (int i = 0; i < 120; i++) {
            int len = 1 + rnd.nextInt(Math.min(8, blocks));
            long block = rnd.nextInt(blocks - len + 1);
            byte[] data = pattern(len * blockSectors * 512, 1000 + i);
            boolean fua = rnd.nextInt(5) == 0;
            write(t, block * blockSectors, data, fua);
            int afterWrite = dev.events().size();
            boolean flush = rnd.nextInt(6) == 0;
            if (flush) {
                t.flush();
            }
            ops.add(new Op(block * blockSectors, data, fua, flush, afterWrite, dev.events().size()));
        }
        List<MemoryDevice.Event> events = dev.events();
        dev.record(false);
        assertTrue(events.size() > 100, "the workload exercises the journal: " + events.size() + " device events");

        Random tear = new Random(7);
        int checked = 0;
        for (int c = 0; c <= events.size(); c++) {
            for (boolean torn : new boolean[]{false, true}) {
                if (torn && (c == events.size() || events.get(c).isFlush())) {
                    continue;
                }
                String where = "crash at event " + c + (torn ? " (torn)" : "");
                byte[] image = PowerCutDevice.imageAfter(clean, events, c, torn ? tear : null, 512);
                IntegrityTarget r = open(new MemoryDevice("dev", image), SECTORS, args);
                byte[] all = read(r, 0, SECTORS);
                assertEquals("0 " + provided + " -", r.status(), where);
                r.close();
                for (int s = 0; s < SECTORS; s++) {
                    byte[] got = copy(all, s * 512, 512);
                    int version = versionOf(ops, s, got);
                    assertTrue(version >= -1, where + ": sector " + s + " holds something never written to it");
                    int first = s - s % blockSectors;
                    assertEquals(version, versionOf(ops, first, copy(all, first * 512, 512)),
                            where + ": sector " + s + " and the start of its block come from different writes");
                    int durable = durableVersion(ops, s, c);
                    assertTrue(version >= durable, where + ": sector " + s + " went back to version " + version
                            + " though version " + durable + " was made durable");
                }
                checked++;
            }
        }
        assertTrue(checked > 200, "crash points checked: " + checked);
        t.close();
    }

    /** Index of the op whose data {@code got} is, -1 for the initial zeroes, -2 for anything else. */
    private static int versionOf(List<Op> ops, int sector, byte[] got) {
        for (int i = ops.size() - 1; i >= 0; i--) {
            Op op = ops.get(i);
            if (covers(op, sector) && Arrays.equals(got, 0, 512, op.data(), (int) (sector - op.sector()) * 512,
                    (int) (sector - op.sector() + 1) * 512)) {
                return i;
            }
        }
        return allZero(got) ? -1 : -2;
    }

    /** The newest op on this sector made durable by a flush or its own FUA completed within the first c events. */
    private static int durableVersion(List<Op> ops, int sector, int c) {
        int lastFlushOp = -1;
        for (int i = 0; i < ops.size(); i++) {
            if (ops.get(i).flushAfter() && ops.get(i).eventsAfterFlush() <= c) {
                lastFlushOp = i;
            }
        }
        int durable = -1;
        for (int i = 0; i < ops.size(); i++) {
            Op op = ops.get(i);
            if (covers(op, sector) && (i <= lastFlushOp || op.fua() && op.eventsAfterWrite() <= c)) {
                durable = i;
            }
        }
        return durable;
    }

    private static boolean covers(Op op, long sector) {
        return sector >= op.sector() && sector < op.sector() + op.data().length / 512;
    }

    @Test
    void directModeCrashCanLeaveAMismatchAsTheKernelDocuments() throws Exception {
        MemoryDevice dev = new MemoryDevice("dev", MIB);
        String d = "0 4 D 1 internal_hash:crc32c";
        IntegrityTarget t = open(dev, SECTORS, d);
        byte[] p = pattern(512, 1), q = pattern(512, 2);
        write(t, 10, p, true);
        write(t, 10, q, false);   // data in place now, its tag still in the buffer
        IntegrityTarget r = open(new MemoryDevice("dev", dev.snapshot()), SECTORS, d);
        BlockIoException e = assertThrows(BlockIoException.class, () -> read(r, 10, 1));
        assertEquals(Errno.EILSEQ, e.errno());
        assertEquals("integrity: Checksum failed at sector 0xa (10)", e.getMessage());
        r.close();
        t.close();
    }

    @Test
    void bitmapModeRecalculatesDirtyRegionsAfterACrash() throws Exception {
        MemoryDevice dev = new MemoryDevice("dev", MIB);
        String b = "0 4 B 2 sectors_per_bit:64 internal_hash:crc32c";
        IntegrityTarget t = open(dev, SECTORS, b);
        byte[] p = pattern(512, 1), q = pattern(512, 2);
        write(t, 10, p, true);
        assertEquals(0x4, dev.bytes()[24] & 0x4, "DIRTY_BITMAP while active");
        assertEquals(3, dev.bytes()[8], "version 3 for bitmap mode");
        // Sector 10 lies in bit 0 (64 sectors per bit); the bitmap is the first 4 KiB of the journal area.
        assertEquals(1, dev.bytes()[8 * 512] & 1, "the region is marked dirty on disk before the write");
        write(t, 130, q, false);
        assertEquals(1 << 2, dev.bytes()[8 * 512] & (1 << 2), "sector 130 is in bit 2");
        write(t, 10, q, false);

        MemoryDevice crashed = new MemoryDevice("dev", dev.snapshot());
        IntegrityTarget r = open(crashed, SECTORS, b);
        assertArrayEquals(q, read(r, 10, 1), "tags of dirty regions were recalculated");
        assertArrayEquals(q, read(r, 130, 1));
        assertEquals("0 1608 1608", r.status(), "recalculation ran to the end (2048 - 8 - 176 - 256 = 1608 provided)");
        assertTrue(r.table().contains(" recalculate "), r.table());
        r.close();
        assertEquals(0, crashed.bytes()[24] & 0x4, "a clean close clears DIRTY_BITMAP");
        t.close();
        assertEquals(0, dev.bytes()[24] & 0x4);
        IntegrityTarget again = open(dev, SECTORS, b);
        assertArrayEquals(q, read(again, 10, 1));
        again.close();
    }
}
