package dev.jdm.targets.snapshot.format;

import dev.jdm.targets.snapshot.format.KernelCowImage.Contents;
import dev.jdm.targets.snapshot.format.KernelCowImage.Exception;
import dev.jdm.targets.snapshot.format.KernelCowImage.Header;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

import static dev.jdm.targets.Images.filled;
import static org.junit.jupiter.api.Assertions.*;

/** The independent writer/reader against numbers worked out by hand from dm-snap-persistent.c's formulas. */
class KernelCowImageTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @CsvSource({
            // chunk sectors, E = chunk*512/16, area 1 = 1 + (E+1), area 2 = 1 + 2(E+1)
            "8, 256, 258, 515",
            "16, 512, 514, 1027",
            "32, 1024, 1026, 2051",
            "64, 2048, 2050, 4099",
            "128, 4096, 4098, 8195",
            "256, 8192, 8194, 16387",
            "512, 16384, 16386, 32771",
            "1024, 32768, 32770, 65539"})
    void areaPositions(int chunkSectors, int perArea, long area1, long area2) {
        assertEquals(perArea, KernelCowImage.exceptionsPerArea(chunkSectors));
        assertEquals(1, KernelCowImage.areaLocation(chunkSectors, 0));
        assertEquals(area1, KernelCowImage.areaLocation(chunkSectors, 1));
        assertEquals(area2, KernelCowImage.areaLocation(chunkSectors, 2));
    }

    @Test
    void freshStoreIsAHeaderAndAZeroedFirstArea() throws java.lang.Exception {
        Path cow = dir.resolve("cow");
        Files.write(cow, filled(16 * 4096, 0xee)); // what lvcreate did not blank stays as it was
        try (KernelCowImage image = KernelCowImage.create(cow, 16 * 8, 8)) {
            assertEquals(8, image.chunkSectors());
        }
        byte[] bytes = Files.readAllBytes(cow);
        assertEquals(16 * 4096, bytes.length);
        assertEquals("536e417001000000010000000800000000", HexFormat.of().formatHex(bytes, 0, 17));
        assertArrayEquals(new byte[4096 - 16], Arrays.copyOfRange(bytes, 16, 4096));
        assertArrayEquals(new byte[4096], Arrays.copyOfRange(bytes, 4096, 8192));
        assertEquals(new Header(KernelCowImage.SNAP_MAGIC, 1, 1, 8), KernelCowImage.readHeader(cow));
        Contents empty = KernelCowImage.read(cow);
        assertEquals(List.of(), empty.exceptions());
        assertEquals(16, empty.allocatedSectors(), "next_free 2: header and first area");
        assertEquals(16, empty.metadataSectors());
    }

    @Test
    void allocationSkipsTheSecondAreaAndTheAreaBoundaryIsReadBack() throws java.lang.Exception {
        Path cow = dir.resolve("cow");
        List<Exception> written = new ArrayList<>();
        try (KernelCowImage image = KernelCowImage.create(cow, 600 * 8, 8)) {
            for (int i = 0; i < 258; i++) {
                long newChunk = image.addException(1000 + 3L * i, filled(4096, i));
                written.add(new Exception(1000 + 3L * i, newChunk));
            }
        }
        // 256 data chunks 2..257 follow area 0; area 1 is chunk 258; the next two go to 259 and 260
        assertEquals(2, written.get(0).newChunk());
        assertEquals(257, written.get(255).newChunk());
        assertEquals(259, written.get(256).newChunk());
        assertEquals(260, written.get(257).newChunk());

        Contents read = KernelCowImage.read(cow);
        assertEquals(written, read.exceptions());
        assertEquals(1, read.currentArea());
        assertEquals(2, read.currentCommitted());
        assertEquals(261 * 8, read.allocatedSectors());
        assertEquals(3 * 8, read.metadataSectors());
        byte[] area1 = KernelCowImage.readChunk(cow, 8, 258);
        assertEquals("e8060000000000000301000000000000", HexFormat.of().formatHex(area1, 0, 16),
                "entry 256: old 1000+768=0x6e8, new 259=0x103");
        assertArrayEquals(filled(4096, 255), KernelCowImage.readChunk(cow, 8, 257));
        assertArrayEquals(filled(4096, 256), KernelCowImage.readChunk(cow, 8, 259));
    }

    @Test
    void aFullAreaZeroesTheNextOnDiskBeforeItIsUsed() throws java.lang.Exception {
        Path cow = dir.resolve("cow");
        Files.write(cow, filled(300 * 4096, 0x5a));
        try (KernelCowImage image = KernelCowImage.create(cow, 300 * 8, 8)) {
            for (int i = 0; i < 255; i++) {
                image.addException(i, filled(4096, 1));
            }
            assertArrayEquals(filled(4096, 0x5a), KernelCowImage.readChunk(cow, 8, 258), "not yet");
            image.addException(255, filled(4096, 1));
            assertArrayEquals(new byte[4096], KernelCowImage.readChunk(cow, 8, 258));
        }
        Contents read = KernelCowImage.read(cow);
        assertEquals(256, read.exceptions().size());
        assertEquals(1, read.currentArea());
        assertEquals(0, read.currentCommitted());
    }

    @Test
    void fullStoreRefusesTheNextChunkAndANextAreaPastTheEndInvalidates() throws java.lang.Exception {
        Path small = dir.resolve("small");
        try (KernelCowImage image = KernelCowImage.create(small, 5 * 8 + 7, 8)) {
            assertEquals(2, image.prepareException());
            assertEquals(3, image.prepareException());
            assertEquals(4, image.prepareException());
            assertEquals(-1, image.prepareException(), "a partial last chunk is not used");
        }
        // exactly header + one area + its 256 chunks: filling the area wants to zero area 1 past the end
        Path exact = dir.resolve("exact");
        try (KernelCowImage image = KernelCowImage.create(exact, 258 * 8, 8)) {
            for (int i = 0; i < 255; i++) {
                assertTrue(image.commitException(i, image.prepareException()));
            }
            assertFalse(image.commitException(255, image.prepareException()));
            image.dropSnapshot();
        }
        assertEquals(new Header(KernelCowImage.SNAP_MAGIC, 0, 1, 8), KernelCowImage.readHeader(exact));
        Contents invalid = KernelCowImage.read(exact);
        assertEquals(List.of(), invalid.exceptions(), "read_metadata stops at an invalid header");
        assertEquals(255, readAllEntries(exact, 8).size(), "the last area write was skipped");
    }

    @Test
    void mergeClearsEntriesFromTheEndAcrossAnAreaBoundary() throws java.lang.Exception {
        Path cow = dir.resolve("cow");
        try (KernelCowImage image = KernelCowImage.create(cow, 600 * 8, 8)) {
            for (int i = 0; i < 256; i++) {
                image.addException(10 + i, filled(4096, i)); // consecutive: old 10.., new 2..257
            }
            image.addException(500, filled(4096, 9));
            image.addException(501, filled(4096, 9));
            long[] last = new long[2];
            assertEquals(2, image.prepareMerge(last));
            assertArrayEquals(new long[]{501, 260}, last);
            image.commitMerge(2);
            assertEquals(256, image.prepareMerge(last), "back into area 0: one run of 256");
            assertArrayEquals(new long[]{265, 257}, last);
            image.commitMerge(100);
        }
        Contents read = KernelCowImage.read(cow);
        assertEquals(156, read.exceptions().size());
        assertEquals(new Exception(165, 157), read.exceptions().getLast());
        assertEquals(0, read.currentArea());
        assertEquals(158 * 8, read.allocatedSectors());
    }

    @Test
    void anOpenedStoreCarriesOnAsIfNeverClosed() throws java.lang.Exception {
        Path once = dir.resolve("once");
        Path twice = dir.resolve("twice");
        try (KernelCowImage image = KernelCowImage.create(once, 600 * 8, 8)) {
            for (long old = 0; old < 300; old++) {
                image.addException(old, filled(4096, (int) old));
            }
        }
        try (KernelCowImage image = KernelCowImage.create(twice, 600 * 8, 8)) {
            for (long old = 0; old < 270; old++) {
                image.addException(old, filled(4096, (int) old));
            }
        }
        try (KernelCowImage image = KernelCowImage.open(twice)) {
            assertEquals(8, image.chunkSectors());
            for (long old = 270; old < 300; old++) {
                image.addException(old, filled(4096, (int) old));
            }
        }
        assertArrayEquals(Files.readAllBytes(once), Files.readAllBytes(twice));
    }

    @Test
    void transientChunksStartAtZero() {
        assertEquals(0, KernelCowImage.transientChunk(0, 24, 8));
        assertEquals(2, KernelCowImage.transientChunk(2, 24, 8));
        assertEquals(-1, KernelCowImage.transientChunk(3, 24, 8));
    }

    @Test
    void refusesWhatReadHeaderRefuses() throws java.lang.Exception {
        Path cow = dir.resolve("cow");
        KernelCowImage.create(cow, 64, 8).close();
        FormatPatches.putInt(cow, 0, 0x70416e54);
        assertEquals("Invalid or corrupt snapshot", assertThrows(java.io.IOException.class,
                () -> KernelCowImage.read(cow)).getMessage());
        FormatPatches.putInt(cow, 0, KernelCowImage.SNAP_MAGIC);
        FormatPatches.putInt(cow, 8, 2);
        assertEquals("unable to handle snapshot disk version 2", assertThrows(java.io.IOException.class,
                () -> KernelCowImage.read(cow)).getMessage());
    }

    /** Every non-zero entry in area 0, ignoring the header's valid flag. */
    private static List<Exception> readAllEntries(Path cow, int chunkSectors) throws java.lang.Exception {
        java.nio.ByteBuffer area = java.nio.ByteBuffer.wrap(KernelCowImage.readChunk(cow, chunkSectors, 1))
                .order(java.nio.ByteOrder.LITTLE_ENDIAN);
        List<Exception> entries = new ArrayList<>();
        for (int at = 0; at < area.capacity() && area.getLong(at + 8) != 0; at += 16) {
            entries.add(new Exception(area.getLong(at), area.getLong(at + 8)));
        }
        return entries;
    }
}
