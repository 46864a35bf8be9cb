package dev.jdm.targets.snapshot.store;

import dev.jdm.core.testing.MemoryDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static dev.jdm.targets.snapshot.store.StoreDevices.persistent;
import static org.junit.jupiter.api.Assertions.*;

class PersistentStoreGroupCommitTest {
    final MemoryDevice origin = new MemoryDevice(16 << 20);

    @Test
    void concurrentCommitsShareAreaWritesAndLandInAllocationOrder() throws Exception {
        int threads = 8;
        int perThread = 100;
        // A slow FUA write lets commits pile up behind the one in progress, as on a real disk.
        var cow = new StoreDevices.Wrapped(new MemoryDevice("cow", 2000 * 4096), 512, TimeUnit.MICROSECONDS.toNanos(500));
        PersistentStore store = persistent(origin, cow, 8);
        store.load((o, n) -> fail("new store"));
        Map<Long, Long> committed = new ConcurrentHashMap<>();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                done.add(pool.submit(() -> {
                    for (int i = 0; i < perThread; i++) {
                        long newChunk = store.allocate();
                        long oldChunk = thread * perThread + i;
                        store.commit(oldChunk, newChunk);
                        committed.put(newChunk, oldChunk);
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        int commits = threads * perThread;
        assertEquals(commits, committed.size());
        int areaWrites = cow.fuaWrites.get();
        assertTrue(areaWrites < commits, areaWrites + " area writes for " + commits + " commits");

        List<long[]> reloaded = new ArrayList<>();
        persistent(origin, cow, 8).load((o, n) -> reloaded.add(new long[] {o, n}));
        TreeMap<Long, Long> inAllocationOrder = new TreeMap<>(committed);
        assertEquals(commits, reloaded.size());
        int i = 0;
        for (var e : inAllocationOrder.entrySet()) {
            assertArrayEquals(new long[] {e.getValue(), e.getKey()}, reloaded.get(i++), "exception " + i);
        }
    }

    final MemoryDevice smallCow = new MemoryDevice("cow", 20 * 4096);
    final ExecutorService committer = Executors.newSingleThreadExecutor();

    @AfterEach
    void stopCommitter() {
        committer.shutdownNow();
    }

    /** A new store on the small COW with two chunks allocated. */
    private PersistentStore storeWithTwoAllocated() throws Exception {
        PersistentStore store = persistent(origin, smallCow, 8);
        store.load((o, n) -> { });
        assertEquals(2, store.allocate());
        assertEquals(3, store.allocate());
        return store;
    }

    @Test
    void aCommitWaitsForEveryEarlierAllocatedChunk() throws Exception {
        PersistentStore store = storeWithTwoAllocated();
        Future<?> later = committer.submit(() -> {
            store.commit(20, 3);
            return null;
        });
        assertThrows(TimeoutException.class, () -> later.get(200, TimeUnit.MILLISECONDS), "the later chunk's commit waits");
        assertArrayEquals(new byte[4096], smallCow.slice(4096, 4096), "and nothing was written for it");
        store.commit(10, 2);
        later.get(10, TimeUnit.SECONDS);
        byte[] want = new byte[4096];
        System.arraycopy(StoreDevices.entry(10, 2), 0, want, 0, 16);
        System.arraycopy(StoreDevices.entry(20, 3), 0, want, 16, 16);
        assertArrayEquals(want, smallCow.slice(4096, 4096));
    }

    @Test
    void abandoningAnEarlierChunkFailsTheCommitWaitingBehindIt() throws Exception {
        PersistentStore store = storeWithTwoAllocated();
        byte[] before = smallCow.snapshot();
        Future<?> later = committer.submit(() -> {
            store.commit(20, 3);
            return null;
        });
        Thread.sleep(100);
        store.abandon(2);
        ExecutionException e = assertThrows(ExecutionException.class, () -> later.get(10, TimeUnit.SECONDS));
        assertEquals("snapshot store is invalid: the copy to chunk 2 failed", e.getCause().getMessage());
        assertArrayEquals(before, smallCow.bytes());
    }
}
