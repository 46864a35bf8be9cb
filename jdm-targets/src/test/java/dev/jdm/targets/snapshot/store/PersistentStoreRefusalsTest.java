package dev.jdm.targets.snapshot.store;

import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.testing.MemoryDevice;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static dev.jdm.targets.snapshot.store.StoreDevices.entry;
import static dev.jdm.targets.snapshot.store.StoreDevices.persistent;
import static org.junit.jupiter.api.Assertions.*;

/** COW contents that cannot be a store: refused with what is wrong and where, and the device left byte-identical. */
class PersistentStoreRefusalsTest {
    static final int CHUNK_BYTES = 4096;

    final MemoryDevice origin = new MemoryDevice(16 << 20);

    /** A COW of {@code chunks} 8-sector chunks with this header and area 0 holding these entries. */
    static MemoryDevice cow(int chunks, int magic, int version, int chunk, long... entries) {
        MemoryDevice cow = new MemoryDevice("cow", chunks * CHUNK_BYTES);
        ByteBuffer.wrap(cow.bytes()).order(ByteOrder.LITTLE_ENDIAN).putInt(magic).putInt(1).putInt(version).putInt(chunk);
        for (int i = 0; i < entries.length; i += 2) {
            System.arraycopy(entry(entries[i], entries[i + 1]), 0, cow.bytes(), CHUNK_BYTES + i * 8, 16);
        }
        return cow;
    }

    static MemoryDevice store(int chunks, long... entries) {
        return cow(chunks, PersistentStore.MAGIC, 1, 8, entries);
    }

    private void assertRefused(String message, BlockDevice origin, MemoryDevice cow, int tableChunk) throws Exception {
        byte[] before = cow.snapshot();
        PersistentStore store = persistent(origin, cow, tableChunk);
        StoreException e = assertThrows(StoreException.class, () -> store.load((o, n) -> { }));
        assertEquals(message, e.getMessage());
        assertArrayEquals(before, cow.bytes(), "the COW is left as it was");
    }

    private void assertRefused(String message, MemoryDevice cow) throws Exception {
        assertRefused(message, origin, cow, 8);
    }

    @Test
    void badMagicOrVersion() throws Exception {
        assertRefused("snapshot header: bad magic 0x12345678 (want 0x70416e53)", cow(20, 0x12345678, 1, 8));
        assertRefused("snapshot header: bad magic 0x536e4170 (want 0x70416e53)", cow(20, 0x536e4170, 1, 8));
        assertRefused("snapshot header: unsupported version 2 (want 1)", cow(20, PersistentStore.MAGIC, 2, 8));
        assertRefused("snapshot header: unsupported version 4294967295 (want 1)", cow(20, PersistentStore.MAGIC, -1, 8));
    }

    @Test
    void headerChunkSizeMustPassTheTablesChecks() throws Exception {
        int magic = PersistentStore.MAGIC;
        assertRefused("snapshot header: invalid on-disk chunk size 12: Chunk size is not a power of 2", cow(20, magic, 1, 12));
        assertRefused("snapshot header: invalid on-disk chunk size 0: Chunk size is not a power of 2", cow(20, magic, 1, 0));
        assertRefused("snapshot header: invalid on-disk chunk size 4194304: Chunk size is too high", cow(20, magic, 1, 1 << 22));
        MemoryDevice smallBlocks = cow(20, magic, 1, 4);
        assertRefused("snapshot header: invalid on-disk chunk size 4: Chunk size is not a multiple of device blocksize",
                new StoreDevices.Wrapped(origin, 4096, 0), smallBlocks, 8);
    }

    @Test
    void aCowSmallerThanHeaderAreaAndOneChunk() throws Exception {
        String tooSmall = "snapshot COW device too small: 16 sectors, a store of 8-sector chunks needs at least 24 "
                + "(header, one metadata area, one data chunk)";
        assertRefused(tooSmall, new MemoryDevice("cow", 2 * CHUNK_BYTES));
        assertRefused(tooSmall, store(2));
        assertRefused("snapshot COW device too small: 0 sectors, a store of 8-sector chunks needs at least 24 "
                + "(header, one metadata area, one data chunk)", new MemoryDevice("cow", 100));
        // The header's chunk decides: 16-sector chunks need 48 sectors, the COW has 40.
        assertRefused("snapshot COW device too small: 40 sectors, a store of 16-sector chunks needs at least 48 "
                + "(header, one metadata area, one data chunk)", cow(5, PersistentStore.MAGIC, 1, 16));
    }

    @Test
    void impossibleEntriesNameTheirAreaAndIndex() throws Exception {
        assertRefused("snapshot area 0 entry 1: new chunk 20 lies past the COW device's end (20 chunks)",
                store(20, 5, 2, 6, 20));
        assertRefused("snapshot area 0 entry 0: new chunk 18446744073709551615 lies past the COW device's end (20 chunks)",
                store(20, 5, -1));
        assertRefused("snapshot area 0 entry 0: new chunk 1 is metadata area 0", store(20, 5, 1));
        assertRefused("snapshot area 0 entry 2: new chunk 258 is metadata area 1", store(600, 5, 2, 6, 3, 7, 258));
        assertRefused("snapshot area 0 entry 1: old chunk 4096 lies past the origin's end (4096 chunks)",
                store(20, 4095, 2, 4096, 3));
        assertRefused("snapshot area 0 entry 0: old chunk 18446744073709551615 lies past the origin's end (4096 chunks)",
                store(20, -1, 2));
    }

    @Test
    void aFullLastAreaWhoseSuccessorIsPastTheEnd() throws Exception {
        long[] full = new long[2 * 256];
        for (int i = 0; i < 256; i++) {
            full[2 * i] = i;
            full[2 * i + 1] = 2 + i;
        }
        assertRefused("snapshot area 1 at chunk 258 lies past the COW device's end (258 chunks)", store(258, full));
    }

    @Test
    void whatTheSinkRefusesRefusesTheStore() throws Exception {
        MemoryDevice cow = store(20, 5, 2, 5, 3);
        byte[] before = cow.snapshot();
        PersistentStore store = persistent(origin, cow, 8);
        StoreException e = assertThrows(StoreException.class, () -> store.load((o, n) -> {
            if (n == 3) {
                throw new StoreException("duplicate old chunk " + o);
            }
        }));
        assertEquals("duplicate old chunk 5", e.getMessage());
        assertArrayEquals(before, cow.bytes());
    }
}
