package dev.jdm.targets.snapshot.store;

import dev.jdm.core.testing.MemoryDevice;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class TransientStoreTest {
    @Test
    void allocatesFromChunkZeroUntilTheCowEnds() throws Exception {
        MemoryDevice cow = new MemoryDevice(10 * 4096 + 512);
        byte[] before = cow.snapshot();
        ExceptionStore store = StoreDevices.create(new MemoryDevice(1 << 20), cow, "N", 8);
        assertEquals(ExceptionStore.LoadResult.NEW, store.load((o, c) -> fail("no exceptions")));
        assertEquals(new ExceptionStore.Usage(81, 0, 0), store.usage());
        for (long want = 0; want < 10; want++) {
            long chunk = store.allocate();
            assertEquals(want, chunk);
            store.commit(want + 100, chunk);
        }
        assertEquals(new ExceptionStore.Usage(81, 80, 0), store.usage());
        StoreFullException full = assertThrows(StoreFullException.class, store::allocate);
        assertEquals("snapshot COW device full: 81 sectors, all 10 chunks of 8 sectors in use", full.getMessage());
        assertEquals(0, store.prepareMerge(new long[2]));
        assertThrows(UnsupportedOperationException.class, () -> store.commitMerge(1));
        store.invalidate();
        assertArrayEquals(before, cow.bytes(), "a transient store never writes its COW");
        assertEquals("N 8", store.tableArgs());
    }

    @Test
    void abandonedChunksStayUsed() throws Exception {
        ExceptionStore store = StoreDevices.create(new MemoryDevice(1 << 20), new MemoryDevice(1 << 20), "N", 16);
        store.load((o, c) -> { });
        store.abandon(store.allocate());
        assertEquals(1, store.allocate());
        assertEquals(32, store.usage().allocatedSectors());
    }
}
