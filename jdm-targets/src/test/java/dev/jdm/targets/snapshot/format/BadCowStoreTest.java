package dev.jdm.targets.snapshot.format;

import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.FileBlockDevice;
import dev.jdm.core.spi.Args;
import dev.jdm.targets.snapshot.store.ExceptionStore;
import dev.jdm.targets.snapshot.store.ExceptionStores;
import dev.jdm.targets.snapshot.store.StoreException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static dev.jdm.targets.Images.create;
import static dev.jdm.targets.snapshot.format.StoreFormatTest.chunkData;
import static org.junit.jupiter.api.Assertions.*;

/**
 * COW images the kernel would not have written (patched from the independent writer's), loaded through jdm's
 * store: each is refused with a message naming what is wrong, and the COW is left byte-identical.
 */
class BadCowStoreTest {
    @TempDir
    Path dir;

    @Test
    void badMagic() throws java.lang.Exception {
        Path cow = FormatPatches.smallStore(dir);
        FormatPatches.putInt(cow, 0, 0x70416e54);
        assertRefused(cow, "P 8", "snapshot header: bad magic 0x70416e54 (want 0x70416e53)");
    }

    @Test
    void badVersion() throws java.lang.Exception {
        Path cow = FormatPatches.smallStore(dir);
        FormatPatches.putInt(cow, 8, 2);
        assertRefused(cow, "P 8", "snapshot header: unsupported version 2 (want 1)");
    }

    @Test
    void headerChunkSizeThatIsNoChunkSize() throws java.lang.Exception {
        Path cow = FormatPatches.smallStore(dir);
        FormatPatches.putInt(cow, 12, 12);
        assertRefused(cow, "P 8", "snapshot header: invalid on-disk chunk size 12: Chunk size is not a power of 2");
    }

    @Test
    void blankCowSmallerThanHeaderAndOneArea() throws java.lang.Exception {
        Path cow = create(dir, "cow", (2 * 8 - 1) * 512);
        assertRefused(cow, "P 8", "snapshot COW device too small: 15 sectors, a store of 8-sector chunks needs"
                + " at least 24 (header, one metadata area, one data chunk)");
    }

    @Test
    void validHeaderOnACowCutShorterThanItsFirstArea() throws java.lang.Exception {
        Path cow = FormatPatches.smallStore(dir);
        try (FileChannel ch = FileChannel.open(cow, StandardOpenOption.WRITE)) {
            ch.truncate(8 * 512 + 100);
        }
        assertRefused(cow, "P 8", "snapshot COW device too small: 8 sectors, a store of 8-sector chunks needs"
                + " at least 24 (header, one metadata area, one data chunk)");
    }

    @Test
    void entryPointingPastTheCow() throws java.lang.Exception {
        Path cow = FormatPatches.smallStore(dir);
        FormatPatches.putLong(cow, FormatPatches.entryOffset(8, 0, 1) + 8, 10);
        assertRefused(cow, "P 8", "snapshot area 0 entry 1: new chunk 10 lies past the COW device's end (10 chunks)");
    }

    @Test
    void entryPointingAtTheHeaderOrAnArea() throws java.lang.Exception {
        Path cow = FormatPatches.smallStore(dir);
        FormatPatches.putLong(cow, FormatPatches.entryOffset(8, 0, 2) + 8, 1);
        assertRefused(cow, "P 8", "snapshot area 0 entry 2: new chunk 1 is metadata area 0");
    }

    @Test
    void duplicateOldChunkIsHandedOnAndTheSinksRefusalLeavesTheCow() throws java.lang.Exception {
        // The store hands entries on as read_exceptions does; the snapshot's exception table refuses duplicates
        // (the interface's ExceptionSink contract), and the table-level test pins that message.
        Path cow = FormatPatches.smallStore(dir);
        FormatPatches.putLong(cow, FormatPatches.entryOffset(8, 0, 2), 3);
        byte[] before = Files.readAllBytes(cow);
        List<Long> olds = new ArrayList<>();
        try (Stores stores = new Stores(cow, "P 8")) {
            StoreException refused = assertThrows(StoreException.class, () -> stores.store.load((o, n) -> {
                if (olds.contains(o)) {
                    throw new StoreException("duplicate " + o);
                }
                olds.add(o);
            }));
            assertEquals("duplicate 3", refused.getMessage());
        }
        assertEquals(List.of(3L, 4L), olds);
        assertArrayEquals(before, Files.readAllBytes(cow));
    }

    @Test
    void fullAreaWhoseNextAreaIsPastTheEnd() throws java.lang.Exception {
        // 256 exceptions fill area 0 and zero area 1 (chunk 258); cut the COW just before area 1
        Path cow = dir.resolve("cow");
        try (KernelCowImage image = KernelCowImage.create(cow, 300 * 8, 8)) {
            for (long old = 0; old < 256; old++) {
                image.addException(old, chunkData(8, old));
            }
        }
        try (FileChannel ch = FileChannel.open(cow, StandardOpenOption.WRITE)) {
            ch.truncate(258 * 4096);
        }
        assertRefused(cow, "P 8", "snapshot area 1 at chunk 258 lies past the COW device's end (258 chunks)");
    }

    private void assertRefused(Path cow, String storeArgs, String message) throws java.lang.Exception {
        byte[] before = Files.readAllBytes(cow);
        try (Stores stores = new Stores(cow, storeArgs)) {
            StoreException refused = assertThrows(StoreException.class, () -> stores.store.load((o, n) -> { }));
            assertEquals(message, refused.getMessage());
        }
        assertArrayEquals(before, Files.readAllBytes(cow), "the COW is left as it was");
    }

    /** An origin file, the COW and the store the table's store arguments make, closed together. */
    private final class Stores implements AutoCloseable {
        final BlockDevice origin;
        final BlockDevice cow;
        final ExceptionStore store;

        Stores(Path cowFile, String storeArgs) throws java.lang.Exception {
            Path originFile = dir.resolve("origin");
            if (!Files.exists(originFile)) {
                create(dir, "origin", 1 << 20);
            }
            origin = FileBlockDevice.open(originFile, FileBlockDevice.Options.READ_WRITE);
            cow = FileBlockDevice.open(cowFile, FileBlockDevice.Options.READ_WRITE);
            store = ExceptionStores.create(new Args(List.of(storeArgs.split(" "))), origin, cow);
        }

        @Override
        public void close() throws IOException {
            store.close();
            cow.close();
            origin.close();
        }
    }
}
