package dev.jdm.targets.snapshot.format;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.TargetLine;
import dev.jdm.targets.Images;
import dev.jdm.targets.snapshot.format.KernelCowImage.Contents;
import dev.jdm.targets.snapshot.format.KernelCowImage.Exception;
import dev.jdm.targets.snapshot.format.KernelCowImage.Header;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static dev.jdm.targets.Images.pattern;
import static dev.jdm.targets.snapshot.format.StoreFormatTest.chunkData;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Snapshot tables in an in-process DeviceMapper over COW images of the independent kernel-format writer, and
 * COWs that jdm's snapshot-origin/snapshot wrote, read back with the independent reader.
 */
class SnapshotTableFormatTest {
    private static final int ORIGIN_CHUNKS = 16;

    @TempDir
    Path dir;
    private final DeviceMapper dm = DeviceMapper.create();

    @AfterEach
    void close() {
        dm.close();
    }

    // ---- kernel-written COW, read through jdm's snapshot ----

    @ParameterizedTest
    @ValueSource(ints = {8, 16, 32, 64, 128, 256, 512, 1024})
    void snapshotOfAKernelCowReadsItsChunksAndTheOriginElsewhere(int chunkSectors) throws java.lang.Exception {
        int chunkBytes = chunkSectors * 512;
        Path origin = originFile(chunkSectors);
        byte[] expected = Files.readAllBytes(origin);
        long cowSectors = 10L * chunkSectors;
        Path cow = dir.resolve("cow");
        try (KernelCowImage image = KernelCowImage.create(cow, cowSectors, chunkSectors)) {
            for (long old : new long[]{5, 0, ORIGIN_CHUNKS - 1, 6}) {
                byte[] data = chunkData(chunkSectors, old);
                image.addException(old, data);
                System.arraycopy(data, 0, expected, (int) old * chunkBytes, chunkBytes);
            }
        }
        long sectors = (long) ORIGIN_CHUNKS * chunkSectors;
        String table = "0 " + sectors + " snapshot " + origin + " " + cow + " P " + chunkSectors;
        dm.create("snap", null, table, false);
        assertArrayEquals(expected, read("snap", 0, (int) sectors * 512));
        assertEquals(List.of(table), table("snap"));
        assertEquals(List.of("0 " + sectors + " snapshot " + 6 * chunkSectors + "/" + cowSectors + " "
                + 2 * chunkSectors), status("snap"));
    }

    @Test
    void aKernelCowWithSeveralAreasReadsBack() throws java.lang.Exception {
        int originChunks = 1300;
        Path origin = dir.resolve("origin");
        byte[] expected = pattern(originChunks * 4096, 77);
        Files.write(origin, expected);
        Path cow = dir.resolve("cow");
        try (KernelCowImage image = KernelCowImage.create(cow, 600L * 8, 8)) {
            for (long old = 1000; old < originChunks; old++) { // 300: area 0 full, 44 in area 1
                image.addException(old, chunkData(8, old));
                System.arraycopy(chunkData(8, old), 0, expected, (int) old * 4096, 4096);
            }
        }
        dm.create("snap", null, "0 " + originChunks * 8 + " snapshot " + origin + " " + cow + " P 8", false);
        assertArrayEquals(expected, read("snap", 0, originChunks * 4096));
        assertEquals(List.of("0 " + originChunks * 8 + " snapshot " + 303 * 8 + "/" + 600 * 8 + " " + 3 * 8),
                status("snap"), "300 chunks from 2 with area 1 (258) skipped; the header and two areas");
    }

    @Test
    void theHeadersChunkSizeWinsAndTheTableSaysSo() throws java.lang.Exception {
        Path origin = originFile(8);
        Path cow = dir.resolve("cow");
        try (KernelCowImage image = KernelCowImage.create(cow, 80, 8)) {
            image.addException(3, chunkData(8, 3));
        }
        for (String chunkArg : new String[]{"16", "0", "64"}) {
            dm.create("snap", null, "0 128 snapshot " + origin + " " + cow + " P " + chunkArg, false);
            assertEquals(List.of("0 128 snapshot " + origin + " " + cow + " P 8"), table("snap"), chunkArg);
            assertEquals(List.of("0 128 snapshot 24/80 16"), status("snap"), chunkArg);
            assertArrayEquals(chunkData(8, 3), read("snap", 3 * 4096, 4096), chunkArg);
            dm.remove("snap", false, false);
        }
    }

    @Test
    void anInvalidatedKernelCowComesUpInvalid() throws java.lang.Exception {
        Path origin = originFile(8);
        Path cow = dir.resolve("cow");
        try (KernelCowImage image = KernelCowImage.create(cow, 80, 8)) {
            image.addException(3, chunkData(8, 3));
            image.dropSnapshot();
        }
        byte[] before = Files.readAllBytes(cow);
        dm.create("snap", null, "0 128 snapshot " + origin + " " + cow + " P 8", false);
        assertEquals(List.of("0 128 snapshot Invalid"), status("snap"));
        assertEquals(Errno.EIO, assertThrows(BlockIoException.class, () -> read("snap", 0, 4096)).errno());
        dm.remove("snap", false, false);
        assertArrayEquals(before, Files.readAllBytes(cow));
    }

    // ---- jdm writes through its targets, the kernel's layout reads ----

    @ParameterizedTest
    @ValueSource(ints = {8, 16, 32, 64, 128, 256, 512, 1024})
    void originAndSnapshotWritesLeaveTheKernelsLayout(int chunkSectors) throws java.lang.Exception {
        int c = chunkSectors * 512;
        long sectors = (long) ORIGIN_CHUNKS * chunkSectors;
        Path origin = originFile(chunkSectors);
        byte[] old = Files.readAllBytes(origin);
        long cowSectors = 10L * chunkSectors;
        Path cow = blankCow(cowSectors);
        dm.create("snap", null, "0 " + sectors + " snapshot " + origin + " " + cow + " P " + chunkSectors, false);
        dm.create("orig", null, "0 " + sectors + " snapshot-origin " + origin, false);
        write("orig", 3L * c + 512, pattern(1024, 1)); // copies origin chunk 3 first
        write("orig", c, pattern(c, 2));
        write("orig", 3L * c, pattern(512, 3)); // chunk 3 copied already: no new exception
        byte[] snapWrite = pattern(700, 4);
        write("snap", 7L * c + 100, snapWrite); // the snapshot's own chunk 7
        assertEquals(List.of("0 " + sectors + " snapshot " + 5 * chunkSectors + "/" + cowSectors + " "
                + 2 * chunkSectors), status("snap"));
        dm.remove("orig", false, false);
        dm.remove("snap", false, false);

        Contents read = KernelCowImage.read(cow);
        assertEquals(new Header(KernelCowImage.SNAP_MAGIC, 1, 1, chunkSectors), read.header());
        assertEquals(List.of(new Exception(3, 2), new Exception(1, 3), new Exception(7, 4)), read.exceptions());
        assertArrayEquals(Arrays.copyOfRange(old, 3 * c, 4 * c), KernelCowImage.readChunk(cow, chunkSectors, 2));
        assertArrayEquals(Arrays.copyOfRange(old, c, 2 * c), KernelCowImage.readChunk(cow, chunkSectors, 3));
        byte[] seven = Arrays.copyOfRange(old, 7 * c, 8 * c);
        System.arraycopy(snapWrite, 0, seven, 100, snapWrite.length);
        assertArrayEquals(seven, KernelCowImage.readChunk(cow, chunkSectors, 4));
        byte[] now = Files.readAllBytes(origin);
        assertArrayEquals(pattern(c, 2), Arrays.copyOfRange(now, c, 2 * c));
        assertArrayEquals(pattern(512, 3), Arrays.copyOfRange(now, 3 * c, 3 * c + 512));
        assertArrayEquals(Arrays.copyOfRange(old, 7 * c, 8 * c), Arrays.copyOfRange(now, 7 * c, 8 * c),
                "a snapshot write leaves the origin alone");
    }

    @Test
    void aBlankCowWithChunkSizeZeroGetsTheKernelsDefault() throws java.lang.Exception {
        Path origin = originFile(32);
        Path cow = blankCow(8 * 32);
        long sectors = ORIGIN_CHUNKS * 32L;
        dm.create("snap", null, "0 " + sectors + " snapshot " + origin + " " + cow + " P 0", false);
        assertEquals(List.of("0 " + sectors + " snapshot " + origin + " " + cow + " P 32"), table("snap"));
        assertEquals(List.of("0 " + sectors + " snapshot 64/256 64"), status("snap"));
        dm.remove("snap", false, false);
        assertEquals(new Header(KernelCowImage.SNAP_MAGIC, 1, 1, 32), KernelCowImage.readHeader(cow));
    }

    @Test
    void aTransientCowHoldsOldChunksFromChunkZeroInCopyOrder() throws java.lang.Exception {
        Path origin = originFile(16);
        byte[] old = Files.readAllBytes(origin);
        long cowSectors = 4 * 16 + 3;
        Path cow = blankCow(cowSectors);
        long sectors = ORIGIN_CHUNKS * 16L;
        dm.create("snap", null, "0 " + sectors + " snapshot " + origin + " " + cow + " N 16", false);
        dm.create("orig", null, "0 " + sectors + " snapshot-origin " + origin, false);
        long[] written = {9, 2, 15, 4};
        for (long chunk : written) {
            write("orig", chunk * 8192, pattern(8192, (int) chunk));
        }
        assertEquals(List.of("0 " + sectors + " snapshot 64/" + cowSectors + " 0"), status("snap"));
        for (int n = 0; n < written.length; n++) {
            int at = (int) written[n] * 8192;
            assertArrayEquals(Arrays.copyOfRange(old, at, at + 8192),
                    KernelCowImage.readChunk(cow, 16, KernelCowImage.transientChunk(n, cowSectors, 16)), "copy " + n);
        }
        write("orig", 0, pattern(8192, 99)); // a fifth chunk finds no room: the snapshot is invalid
        assertEquals(List.of("0 " + sectors + " snapshot Invalid"), status("snap"));
    }

    @Test
    void originWritesPastTheFirstAreaSkipItsNeighbour() throws java.lang.Exception {
        int chunks = 300;
        Path origin = dir.resolve("origin");
        byte[] old = pattern(chunks * 4096, 9);
        Files.write(origin, old);
        Path cow = blankCow(400 * 8);
        dm.create("snap", null, "0 " + chunks * 8 + " snapshot " + origin + " " + cow + " P 8", false);
        dm.create("orig", null, "0 " + chunks * 8 + " snapshot-origin " + origin, false);
        List<Exception> expected = new ArrayList<>();
        for (int i = 0; i < chunks; i++) {
            long chunk = (i * 37L) % chunks; // 37 and 300 are coprime: every chunk once, out of order
            write("orig", chunk * 4096, pattern(4096, 1000 + i));
            expected.add(new Exception(chunk, i < 256 ? 2 + i : 3 + i));
        }
        assertEquals(List.of("0 " + chunks * 8 + " snapshot " + 303 * 8 + "/" + 400 * 8 + " " + 3 * 8),
                status("snap"));
        dm.remove("orig", false, false);
        dm.remove("snap", false, false);
        Contents read = KernelCowImage.read(cow);
        assertEquals(expected, read.exceptions());
        for (Exception e : List.of(expected.get(0), expected.get(255), expected.get(256), expected.getLast())) {
            int at = (int) e.oldChunk() * 4096;
            assertArrayEquals(Arrays.copyOfRange(old, at, at + 4096), KernelCowImage.readChunk(cow, 8, e.newChunk()),
                    e.toString());
        }
    }

    @Test
    void aFullCowInvalidatesOnOriginWritesEvenWithOverflowSupport() throws java.lang.Exception {
        for (String type : new String[]{"P", "PO"}) {
            Path origin = originFile(8);
            byte[] written = pattern(4 * 4096, 11);
            Path cow = blankCow(5 * 8); // header, area, data chunks 2..4
            dm.create("snap", null, "0 128 snapshot " + origin + " " + cow + " " + type + " 8", false);
            dm.create("orig", null, "0 128 snapshot-origin " + origin, false);
            write("orig", 0, written); // four chunks: the fourth finds no room
            assertEquals(List.of("0 128 snapshot Invalid"), status("snap"), type);
            assertArrayEquals(written, Arrays.copyOf(Files.readAllBytes(origin), 4 * 4096),
                    "the origin loses nothing (" + type + ")");
            dm.remove("orig", false, false);
            dm.remove("snap", false, false);
            assertEquals(new Header(KernelCowImage.SNAP_MAGIC, 0, 1, 8), KernelCowImage.readHeader(cow), type);
            Files.delete(cow);
            Files.delete(origin);
        }
    }

    @Test
    void aFullCowOverflowsOnSnapshotWritesWithPO() throws java.lang.Exception {
        Path origin = originFile(8);
        Path cow = blankCow(5 * 8);
        dm.create("snap", null, "0 128 snapshot " + origin + " " + cow + " PO 8", false);
        for (int chunk = 0; chunk < 3; chunk++) {
            write("snap", chunk * 4096L, pattern(4096, 20 + chunk));
        }
        assertEquals(Errno.EIO, assertThrows(BlockIoException.class,
                () -> write("snap", 3 * 4096L, pattern(4096, 23))).errno());
        assertEquals(List.of("0 128 snapshot Overflow"), status("snap"));
        dm.remove("snap", false, false);
        Contents read = KernelCowImage.read(cow);
        assertEquals(1, read.header().valid(), "overflow does not invalidate the store");
        assertEquals(List.of(new Exception(0, 2), new Exception(1, 3), new Exception(2, 4)), read.exceptions());
        assertArrayEquals(pattern(4096, 22), KernelCowImage.readChunk(cow, 8, 4));
    }

    // ---- merge of a kernel-written COW ----

    @Test
    void mergingAKernelCowPutsItsChunksBackAndClearsEveryArea() throws java.lang.Exception {
        int originChunks = 600;
        Path origin = dir.resolve("origin");
        byte[] expected = pattern(originChunks * 4096, 5);
        Files.write(origin, expected);
        Path cow = dir.resolve("cow");
        Path kernelMerged = dir.resolve("kernel-merged");
        try (KernelCowImage image = KernelCowImage.create(cow, 700L * 8, 8)) {
            for (int i = 0; i < 300; i++) { // area 0 full, 44 in area 1; runs of consecutive chunks and gaps
                long old = i < 200 ? 100 + i : 550 - 2L * (i - 200);
                image.addException(old, chunkData(8, old));
                System.arraycopy(chunkData(8, old), 0, expected, (int) old * 4096, 4096);
            }
            Files.copy(cow, kernelMerged);
        }
        try (KernelCowImage image = KernelCowImage.open(kernelMerged)) {
            long[] last = new long[2];
            for (int run; (run = image.prepareMerge(last)) > 0; ) {
                image.commitMerge(run);
            }
        }
        String table = "0 " + originChunks * 8 + " snapshot-merge " + origin + " " + cow + " P 8";
        dm.create("merge", null, table, false);
        awaitMerged("merge");
        assertEquals(List.of(table), table("merge"));
        assertArrayEquals(expected, read("merge", 0, originChunks * 4096), "the merged view");
        dm.remove("merge", false, false);
        assertArrayEquals(expected, Files.readAllBytes(origin), "every chunk back in the origin");
        assertEquals(List.of(), KernelCowImage.read(cow).exceptions());
        StoreFormatTest.assertSameBytes(kernelMerged, cow);
    }

    /** Merge is done when the status's allocated sectors equal its metadata sectors (snapshot.rst). */
    private void awaitMerged(String name) throws java.lang.Exception {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (true) {
            String[] info = status(name).getFirst().split(" ");
            String[] usage = info[3].split("/");
            if (usage[0].equals(info[4])) {
                return;
            }
            assertTrue(System.nanoTime() < deadline, "merge still at " + String.join(" ", info));
            Thread.sleep(20);
        }
    }

    // ---- bad COWs: refused at table load, the COW left byte-identical ----

    @Test
    void badMagicIsRefused() throws java.lang.Exception {
        Path cow = FormatPatches.smallStore(dir);
        FormatPatches.putInt(cow, 0, 0x12345678);
        assertTableRefused(cow, "P 8", "snapshot header: bad magic 0x12345678 (want 0x70416e53)");
    }

    @Test
    void badVersionIsRefused() throws java.lang.Exception {
        Path cow = FormatPatches.smallStore(dir);
        FormatPatches.putInt(cow, 8, 0);
        assertTableRefused(cow, "P 8", "snapshot header: unsupported version 0 (want 1)");
    }

    @Test
    void aHeaderChunkSizeTheDevicesCannotUseIsRefused() throws java.lang.Exception {
        Path cow = FormatPatches.smallStore(dir);
        FormatPatches.putInt(cow, 12, 0);
        assertTableRefused(cow, "P 8", "snapshot header: invalid on-disk chunk size 0: Chunk size is not a power of 2");
    }

    @Test
    void aCowSmallerThanOneAreaIsRefused() throws java.lang.Exception {
        Path cow = Images.create(dir, "cow", 2 * 4096 - 512);
        assertTableRefused(cow, "P 8", "snapshot COW device too small: 15 sectors, a store of 8-sector chunks needs"
                + " at least 24 (header, one metadata area, one data chunk)");
    }

    @Test
    void aValidHeaderOnACowCutShorterThanItsFirstAreaIsRefused() throws java.lang.Exception {
        Path cow = FormatPatches.smallStore(dir);
        try (FileChannel ch = FileChannel.open(cow, StandardOpenOption.WRITE)) {
            ch.truncate(8 * 512 + 100);
        }
        assertTableRefused(cow, "P 8", "snapshot COW device too small: 8 sectors, a store of 8-sector chunks needs"
                + " at least 24 (header, one metadata area, one data chunk)");
    }

    @Test
    void anEntryPointingPastTheCowIsRefused() throws java.lang.Exception {
        Path cow = FormatPatches.smallStore(dir);
        FormatPatches.putLong(cow, FormatPatches.entryOffset(8, 0, 2) + 8, 1L << 40);
        assertTableRefused(cow, "P 8",
                "snapshot area 0 entry 2: new chunk 1099511627776 lies past the COW device's end (10 chunks)");
    }

    @Test
    void duplicateOldChunksAreRefused() throws java.lang.Exception {
        Path cow = FormatPatches.smallStore(dir);
        FormatPatches.putLong(cow, FormatPatches.entryOffset(8, 0, 1), 3);
        assertTableRefused(cow, "P 8", "origin chunk 3 has two exceptions, in COW chunks 2 and 3");
    }

    private void assertTableRefused(Path cow, String storeArgs, String message) throws java.lang.Exception {
        Path origin = originFile(8);
        byte[] before = Files.readAllBytes(cow);
        DmException refused = assertThrows(DmException.class, () -> dm.create("snap", null,
                "0 128 snapshot " + origin + " " + cow + " " + storeArgs, false));
        // snapshot_ctr's text for a failed read_metadata, then what the store or the exception table found
        assertEquals("table line 1: snapshot: Failed to read snapshot metadata: " + message, refused.getMessage());
        assertEquals(Errno.EINVAL, refused.errno());
        assertArrayEquals(before, Files.readAllBytes(cow), "the COW is left as it was");
        assertFalse(dm.names().contains("snap"));
    }

    // ---- helpers ----

    /** An origin of ORIGIN_CHUNKS chunks with a pattern. */
    private Path originFile(int chunkSectors) throws IOException {
        return Files.write(dir.resolve("origin"), pattern(ORIGIN_CHUNKS * chunkSectors * 512, 42));
    }

    /** A COW as lvcreate leaves it: zeroes (magic 0 makes the store start a new snapshot). */
    private Path blankCow(long sectors) throws IOException {
        return Images.create(dir, "cow", sectors * 512);
    }

    private byte[] read(String name, long offset, int length) throws IOException, DmException {
        ByteBuffer b = ByteBuffer.allocate(length);
        dm.device(name).read(offset, b);
        return b.array();
    }

    private void write(String name, long offset, byte[] data) throws IOException, DmException {
        dm.device(name).write(offset, ByteBuffer.wrap(data), false);
    }

    private List<String> table(String name) throws DmException {
        return dm.table(name, false).stream().map(TargetLine::format).toList();
    }

    private List<String> status(String name) throws DmException {
        return dm.status(name, false).stream().map(TargetLine::format).toList();
    }
}
