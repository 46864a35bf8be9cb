package dev.jdm.targets.snapshot;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.DmException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static dev.jdm.targets.snapshot.SnapshotFixture.filled;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** snapshot-origin and snapshot over the transient store: tables, status, copy-on-write, overflow. */
class SnapshotTargetTest {
    private static final long ORIGIN_SECTORS = 2048;
    private static final int CHUNK = 8 * 512;

    @TempDir
    Path dir;
    private SnapshotFixture f;

    @BeforeEach
    void setUp() throws Exception {
        f = new SnapshotFixture(dir, ORIGIN_SECTORS);
        for (int chunk = 0; chunk < ORIGIN_SECTORS * 512 / CHUNK; chunk++) {
            f.write("base", (long) chunk * CHUNK, filled(CHUNK, chunk));
        }
    }

    @AfterEach
    void tearDown() {
        f.close();
    }

    @Test
    void tablesAndStatusPrintAsTheKernelDoes() throws Exception {
        f.snapshot("s1", 1024, "N 8");
        f.snapshot("s2", 1024, "n 16 2 discard_zeroes_cow DISCARD_PASSDOWN_ORIGIN");
        assertEquals("253:0", f.table("base"));
        assertEquals("", f.status("base"));
        assertEquals("253:0 253:2 N 8", f.table("s1"));
        assertEquals("253:0 253:4 N 16 2 discard_zeroes_cow discard_passdown_origin", f.table("s2"));
        assertEquals("0/1024 0", f.status("s1"));
        f.write("base", 0, filled(512, 0xee));
        assertEquals("8/1024 0", f.status("s1"));
        assertEquals("16/1024 0", f.status("s2"));
    }

    @Test
    void originWritesCopyTheOldChunkToEverySnapshotFirst() throws Exception {
        f.snapshot("s1", 1024, "N 8");
        f.write("base", 5 * CHUNK + 100, filled(1000, 0xaa));
        f.snapshot("s2", 1024, "N 16");
        f.write("base", 5 * CHUNK + 2000, filled(3000, 0xbb));

        byte[] before = filled(CHUNK, 5);
        byte[] afterFirst = before.clone();
        java.util.Arrays.fill(afterFirst, 100, 1100, (byte) 0xaa);
        byte[] now = afterFirst.clone();
        java.util.Arrays.fill(now, 2000, CHUNK, (byte) 0xbb);
        assertArrayEquals(before, f.read("s1", 5 * CHUNK, CHUNK));
        assertArrayEquals(afterFirst, f.read("s2", 5 * CHUNK, CHUNK));
        assertArrayEquals(now, f.read("base", 5 * CHUNK, CHUNK));
        assertArrayEquals(now, f.read("base-real", 5 * CHUNK, CHUNK));
        // Untouched chunks read from the origin in both.
        assertArrayEquals(filled(CHUNK, 6), f.read("s1", 6 * CHUNK, CHUNK));
        assertArrayEquals(filled(CHUNK, 4), f.read("s2", 4 * CHUNK, CHUNK));
        // The second write ran into chunk 6: each snapshot kept that chunk too.
        assertArrayEquals(filled(CHUNK, 6), f.read("s1", 6 * CHUNK, CHUNK));
        assertArrayEquals(filled(CHUNK, 6), f.read("s2", 6 * CHUNK, CHUNK));
    }

    @Test
    void snapshotWritesGoToItsCowOnly() throws Exception {
        f.snapshot("s1", 1024, "N 8");
        f.snapshot("s2", 1024, "N 8");
        f.write("s1", 3 * CHUNK + 512, filled(512, 0x11)); // partial: the rest of the chunk is copied first
        f.write("s1", 9 * CHUNK, filled(CHUNK, 0x22)); // whole chunk: nothing to copy
        byte[] chunk3 = filled(CHUNK, 3);
        java.util.Arrays.fill(chunk3, 512, 1024, (byte) 0x11);
        assertArrayEquals(chunk3, f.read("s1", 3 * CHUNK, CHUNK));
        assertArrayEquals(filled(CHUNK, 0x22), f.read("s1", 9 * CHUNK, CHUNK));
        assertArrayEquals(filled(CHUNK, 3), f.read("base", 3 * CHUNK, CHUNK));
        assertArrayEquals(filled(CHUNK, 3), f.read("s2", 3 * CHUNK, CHUNK));
        assertArrayEquals(filled(CHUNK, 9), f.read("s2", 9 * CHUNK, CHUNK));
        assertEquals("16/1024 0", f.status("s1"));
        assertEquals("0/1024 0", f.status("s2"));
        // An origin write after the snapshot wrote the chunk copies nothing more to it.
        f.write("base", 3 * CHUNK, filled(CHUNK, 0x33));
        assertArrayEquals(chunk3, f.read("s1", 3 * CHUNK, CHUNK));
        assertEquals("16/1024 0", f.status("s1"));
    }

    @Test
    void aFullTransientStoreInvalidatesTheSnapshotAndTheOriginLosesNothing() throws Exception {
        f.snapshot("s1", 16, "N 8"); // room for two chunks
        f.write("base", 0, filled(3 * CHUNK, 0x44));
        assertEquals("Invalid", f.status("s1"));
        BlockIoException e = assertThrows(BlockIoException.class, () -> f.read("s1", 0, 512));
        assertEquals(dev.jdm.core.Errno.EIO, e.errno());
        assertArrayEquals(filled(3 * CHUNK, 0x44), f.read("base", 0, 3 * CHUNK));
        f.write("base", 10 * CHUNK, filled(CHUNK, 0x55));
        assertArrayEquals(filled(CHUNK, 0x55), f.read("base", 10 * CHUNK, CHUNK));
    }

    @Test
    void refusals() throws Exception {
        f.cow("x", 64);
        assertRefused("requires 4 or more arguments", "snapshot /dev/mapper/base-real /dev/mapper/x-cow N");
        assertRefused("argument 5 (\"3\"): Invalid number of feature arguments",
                "snapshot /dev/mapper/base-real /dev/mapper/x-cow N 8 3 discard_zeroes_cow");
        assertRefused("argument 6 (\"discard_all\"): Unrecognised feature requested",
                "snapshot /dev/mapper/base-real /dev/mapper/x-cow N 8 1 discard_all");
        assertRefused("discard_passdown_origin feature depends on discard_zeroes_cow",
                "snapshot /dev/mapper/base-real /dev/mapper/x-cow N 8 1 discard_passdown_origin");
        assertRefused("Cannot get origin device", "snapshot /dev/mapper/nothing /dev/mapper/x-cow N 8");
        assertRefused("Cannot get COW device", "snapshot /dev/mapper/base-real /dev/mapper/nothing N 8");
        assertRefused("COW device cannot be the same as origin device",
                "snapshot /dev/mapper/base-real /dev/mapper/base-real N 8");
        assertRefused("Couldn't create exception store", "snapshot /dev/mapper/base-real /dev/mapper/x-cow X 8");
        assertRefused("Couldn't create exception store", "snapshot /dev/mapper/base-real /dev/mapper/x-cow N 7");
        assertRefused("Snapshot exception store does not support snapshot-merge.",
                "snapshot-merge /dev/mapper/base-real /dev/mapper/x-cow N 8");
        assertRefused("origin: incorrect number of arguments", "snapshot-origin a b");
        assertRefused("Cannot get target device", "snapshot-origin /dev/mapper/nothing");
    }

    private void assertRefused(String kernelText, String line) {
        DmException e = assertThrows(DmException.class, () -> f.dm.create("bad", null, "0 " + ORIGIN_SECTORS + " " + line, false));
        String type = line.substring(0, line.indexOf(' '));
        String prefix = "table line 1: " + type + ": " + kernelText;
        if (!e.getMessage().startsWith(prefix)) {
            throw new AssertionError("expected a message starting with <" + prefix + "> but was <" + e.getMessage() + ">");
        }
    }
}
