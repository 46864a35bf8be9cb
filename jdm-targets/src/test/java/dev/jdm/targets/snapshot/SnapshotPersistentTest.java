package dev.jdm.targets.snapshot;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.Errno;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static dev.jdm.targets.snapshot.SnapshotFixture.filled;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** snapshot over the persistent store: overflow, restart, handover on reload, merge. */
class SnapshotPersistentTest {
    private static final long ORIGIN_SECTORS = 2048;
    private static final int CHUNK = 8 * 512;
    private static final int CHUNKS = (int) (ORIGIN_SECTORS * 512 / CHUNK);

    @TempDir
    Path dir;
    private SnapshotFixture f;

    @BeforeEach
    void setUp() throws Exception {
        f = new SnapshotFixture(dir, ORIGIN_SECTORS);
        for (int chunk = 0; chunk < CHUNKS; chunk++) {
            f.write("base", (long) chunk * CHUNK, filled(CHUNK, chunk));
        }
    }

    @AfterEach
    void tearDown() {
        f.close();
    }

    /** The header's valid word (bytes 4..8, little-endian) of a COW file. */
    private int headerValid(String name) throws Exception {
        byte[] header = Files.readAllBytes(dir.resolve(name + "-cow.img"));
        return ByteBuffer.wrap(header, 4, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
    }

    @Test
    void aNewStoreShowsItsHeaderAndAreaInTheStatus() throws Exception {
        f.snapshot("s1", 1024, "P 8");
        assertEquals("253:0 253:2 P 8", f.table("s1"));
        assertEquals("16/1024 16", f.status("s1"));
        f.write("base", 0, filled(512, 0xee));
        assertEquals("24/1024 16", f.status("s1"));
        assertEquals(1, headerValid("s1"));
    }

    @Test
    void fullWithPInvalidatesOnDiskAndTheOriginKeepsEveryByte() throws Exception {
        f.snapshot("s1", 32, "P 8"); // header, one area, two data chunks
        f.write("base", 0, filled(3 * CHUNK, 0x44));
        assertEquals("Invalid", f.status("s1"));
        assertEquals(0, headerValid("s1"));
        BlockIoException e = assertThrows(BlockIoException.class, () -> f.read("s1", 0, 512));
        assertEquals(Errno.EIO, e.errno());
        assertThrows(BlockIoException.class, () -> f.write("s1", 0, filled(512, 1)));
        assertArrayEquals(filled(3 * CHUNK, 0x44), f.read("base", 0, 3 * CHUNK));
        for (int chunk = 3; chunk < CHUNKS; chunk++) {
            assertArrayEquals(filled(CHUNK, chunk), f.read("base", (long) chunk * CHUNK, CHUNK));
        }
        // Rebuilt from the COW, the snapshot comes up invalid.
        f.dm.remove("s1", false, false);
        f.dm.create("s1", null, f.snapshotTable("s1", "P 8"), false);
        assertEquals("Invalid", f.status("s1"));
    }

    @Test
    void fullWithPoOverflowsOnSnapshotWritesAndReadsStillWork() throws Exception {
        f.snapshot("s1", 32, "PO 8");
        f.write("base", 0, filled(CHUNK, 0x44));
        f.write("s1", 5 * CHUNK, filled(CHUNK, 0x55));
        BlockIoException e = assertThrows(BlockIoException.class, () -> f.write("s1", 7 * CHUNK, filled(CHUNK, 0x66)));
        assertEquals(Errno.EIO, e.errno());
        assertEquals("Overflow", f.status("s1"));
        assertEquals(1, headerValid("s1"));
        assertArrayEquals(filled(CHUNK, 0), f.read("s1", 0, CHUNK));
        assertArrayEquals(filled(CHUNK, 0x55), f.read("s1", 5 * CHUNK, CHUNK));
        assertArrayEquals(filled(CHUNK, 7), f.read("s1", 7 * CHUNK, CHUNK));
        assertThrows(BlockIoException.class, () -> f.write("s1", 5 * CHUNK, filled(512, 0x77)));
        // An origin write the snapshot can no longer copy loses its point in time: the kernel invalidates then.
        f.write("base", 9 * CHUNK, filled(CHUNK, 0x99));
        assertEquals("Invalid", f.status("s1"));
        assertArrayEquals(filled(CHUNK, 0x99), f.read("base", 9 * CHUNK, CHUNK));
    }

    @Test
    void restartFromTheSameFilesKeepsEverySnapshotsPointInTime() throws Exception {
        f.snapshot("s1", 1024, "P 8");
        f.write("base", 2 * CHUNK, filled(CHUNK, 0xa2));
        f.snapshot("s2", 1024, "P 16");
        f.write("base", 3 * CHUNK, filled(CHUNK, 0xa3));
        f.write("s2", 10 * CHUNK, filled(100, 0xb0));
        String s1Status = f.status("s1");
        String s2Status = f.status("s2");
        f.dm.removeAll(false);
        f.dm.create("base-real", null, "0 " + ORIGIN_SECTORS + " linear " + f.originFile + " 0", false);
        f.dm.create("base", null, "0 " + ORIGIN_SECTORS + " snapshot-origin /dev/mapper/base-real", false);
        for (String s : new String[] {"s1", "s2"}) {
            f.cow(s, 1024);
            f.dm.create(s, null, f.snapshotTable(s, "P 0"), false); // 0: the header's chunk size
        }
        assertEquals(s1Status, f.status("s1"));
        assertEquals(s2Status, f.status("s2"));
        assertEquals("253:0 253:4 P 16", f.table("s2"));
        assertArrayEquals(filled(CHUNK, 2), f.read("s1", 2 * CHUNK, CHUNK));
        assertArrayEquals(filled(CHUNK, 3), f.read("s1", 3 * CHUNK, CHUNK));
        assertArrayEquals(filled(CHUNK, 0xa2), f.read("s2", 2 * CHUNK, CHUNK));
        assertArrayEquals(filled(CHUNK, 3), f.read("s2", 3 * CHUNK, CHUNK));
        byte[] chunk10 = filled(CHUNK, 10);
        Arrays.fill(chunk10, 0, 100, (byte) 0xb0);
        assertArrayEquals(chunk10, f.read("s2", 10 * CHUNK, CHUNK));
        f.write("base", 4 * CHUNK, filled(CHUNK, 0xa4));
        assertArrayEquals(filled(CHUNK, 4), f.read("s1", 4 * CHUNK, CHUNK));
        assertArrayEquals(filled(CHUNK, 4), f.read("s2", 4 * CHUNK, CHUNK));
    }

    @Test
    void aReloadOverTheSameCowTakesTheExceptionsOver() throws Exception {
        f.snapshot("s1", 1024, "P 8");
        f.write("base", 2 * CHUNK, filled(CHUNK, 0xa2));
        String status = f.status("s1");
        f.dm.load("s1", f.snapshotTable("s1", "P 8") + " 1 discard_zeroes_cow", false);
        // Until it resumes, the new table holds no store of its own: the live one keeps serving.
        assertArrayEquals(filled(CHUNK, 2), f.read("s1", 2 * CHUNK, CHUNK));
        f.dm.resume("s1");
        assertEquals("253:0 253:2 P 8 1 discard_zeroes_cow", f.table("s1"));
        assertEquals(status, f.status("s1"));
        assertArrayEquals(filled(CHUNK, 2), f.read("s1", 2 * CHUNK, CHUNK));
        f.write("base", 3 * CHUNK, filled(CHUNK, 0xa3));
        assertArrayEquals(filled(CHUNK, 3), f.read("s1", 3 * CHUNK, CHUNK));
        assertEquals("32/1024 16", f.status("s1"));
    }

    @Test
    void aSecondSnapshotOverALiveCowIsRefusedWhenAHandoverIsAlreadyWaiting() throws Exception {
        f.snapshot("s1", 1024, "P 8");
        f.dm.load("s1", f.snapshotTable("s1", "P 8"), false);
        var e = assertThrows(dev.jdm.core.DmException.class,
                () -> f.dm.create("other", null, f.snapshotTable("s1", "P 8"), false));
        assertEquals("table line 1: snapshot: Snapshot cow pairing for exception table handover failed", e.getMessage());
    }

    /** lvconvert --merge: snapshot-merge replaces snapshot-origin on the origin's device and takes the store over. */
    private void startMerge(String snapshot) throws Exception {
        f.dm.suspend("base", false);
        f.dm.suspend(snapshot, false);
        f.dm.load("base", "0 " + ORIGIN_SECTORS + " snapshot-merge /dev/mapper/base-real /dev/mapper/" + snapshot
                + "-cow P 8", false);
        f.dm.resume("base");
        f.dm.resume(snapshot);
    }

    private void awaitMerged() throws Exception {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (true) {
            String[] status = f.status("base").split("[/ ]");
            if (status.length == 3 && status[0].equals(status[2])) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("merge did not finish: " + f.status("base"));
            }
            Thread.sleep(5);
        }
    }

    @Test
    void theEndOfAMergeRaisesAnEventOnTheMergedDevice() throws Exception {
        f.snapshot("s1", 1024, "P 8");
        for (int chunk = 0; chunk < CHUNKS; chunk += 3) {
            f.write("base", (long) chunk * CHUNK, filled(CHUNK, 0xf1));
        }
        byte[] pointInTime = f.read("s1", 0, CHUNKS * CHUNK);
        long before = f.dm.info("base").eventNumber();

        startMerge("s1");
        f.dm.waitEvent("base", before, 20_000);
        // The event comes when nothing is left to merge: allocated equals metadata at once, no polling.
        String[] usage = f.status("base").split("[/ ]");
        assertEquals(usage[2], usage[0], f.status("base"));
        assertArrayEquals(pointInTime, f.read("base-real", 0, CHUNKS * CHUNK));
    }

    @Test
    void aMergeThatCannotReadTheCowStopsWithMergeFailed() throws Exception {
        f.snapshot("s1", 1024, "P 8");
        for (int chunk = 0; chunk < CHUNKS; chunk += 3) {
            f.write("base", (long) chunk * CHUNK, filled(CHUNK, 0xf2));
        }
        byte[] originNow = f.read("base-real", 0, CHUNKS * CHUNK);
        // The COW device starts failing every I/O (the store's area is in memory, so only the copies see it).
        f.dm.load("s1-cow", "0 1024 error", false);
        f.dm.suspend("s1-cow", false);
        f.dm.resume("s1-cow");
        long before = f.dm.info("base").eventNumber();

        startMerge("s1");
        f.dm.waitEvent("base", before, 20_000);
        assertEquals("Merge failed", f.status("base"));
        // Nothing was merged: the first copy failed before it wrote the origin.
        assertArrayEquals(originNow, f.read("base-real", 0, CHUNKS * CHUNK));
    }

    @Test
    void mergeCopiesTheSnapshotBackAndTheMergedDeviceStaysWritable() throws Exception {
        f.snapshot("s1", 1024, "P 8");
        f.snapshot("s2", 1024, "P 8");
        byte[] expected = f.read("base", 0, CHUNKS * CHUNK);
        for (int chunk = 0; chunk < CHUNKS; chunk += 3) {
            f.write("base", (long) chunk * CHUNK, filled(CHUNK, 0xf0));
        }
        f.write("s1", 4 * CHUNK + 512, filled(512, 0x5a));
        Arrays.fill(expected, 4 * CHUNK + 512, 4 * CHUNK + 1024, (byte) 0x5a);
        byte[] s2Before = f.read("s2", 0, CHUNKS * CHUNK);

        startMerge("s1");
        assertEquals("Invalid", f.status("s1"));
        // The merged view is right while the merge runs, and writes land in it.
        f.write("base", 7 * CHUNK, filled(CHUNK, 0x77));
        Arrays.fill(expected, 7 * CHUNK, 8 * CHUNK, (byte) 0x77);
        f.write("base", 9 * CHUNK + 100, filled(50, 0x99));
        Arrays.fill(expected, 9 * CHUNK + 100, 9 * CHUNK + 150, (byte) 0x99);
        assertArrayEquals(expected, f.read("base", 0, CHUNKS * CHUNK));
        awaitMerged();
        assertArrayEquals(expected, f.read("base", 0, CHUNKS * CHUNK));
        assertArrayEquals(expected, f.read("base-real", 0, CHUNKS * CHUNK));
        // The other snapshot kept its point in time through the merge's writes to the origin.
        assertArrayEquals(s2Before, f.read("s2", 0, CHUNKS * CHUNK));
        assertEquals("253:0 253:2 P 8", f.table("base"));
    }

    @Test
    void aMergeStoppedByRemovingEverythingContinuesFromTheStore() throws Exception {
        f.snapshot("s1", 4096, "P 8");
        byte[] expected = f.read("base", 0, CHUNKS * CHUNK);
        for (int chunk = 0; chunk < CHUNKS; chunk += 3) {
            f.write("base", (long) chunk * CHUNK, filled(CHUNK, 0xf1));
        }
        startMerge("s1");
        f.dm.removeAll(false); // mid-merge, most likely
        f.dm.create("base-real", null, "0 " + ORIGIN_SECTORS + " linear " + f.originFile + " 0", false);
        f.cow("s1", 4096);
        f.dm.create("base", null, "0 " + ORIGIN_SECTORS + " snapshot-merge /dev/mapper/base-real /dev/mapper/s1-cow P 8",
                false);
        assertArrayEquals(expected, f.read("base", 0, CHUNKS * CHUNK));
        awaitMerged();
        assertArrayEquals(expected, f.read("base-real", 0, CHUNKS * CHUNK));
    }
}
