package dev.jdm.targets.snapshot.store;

import dev.jdm.core.testing.MemoryDevice;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static dev.jdm.targets.snapshot.store.StoreDevices.persistent;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Power cut at every event of a recorded run of commits and of merges, on a disk with a volatile write cache:
 * what was written before the last flush (or with FUA) is on the medium, any part of a later write may be, and
 * the write the power went during is torn at sector boundaries. Each resulting image must load as a store holding
 * every exception whose commit returned, only exceptions whose data chunk reached the medium first, and no merged
 * exception whose merge commit returned.
 */
class PersistentStoreCrashTest {
    static final int CHUNK_BYTES = 4096;
    static final int COW_CHUNKS = 300;
    /** Past the first area's 256 entries, so a cut can fall while area 1 is zeroed and area 0 fills. */
    static final int EXCEPTIONS = 270;
    static final int SEEDS = 3;

    final MemoryDevice origin = new MemoryDevice(16 << 20);

    /** A data chunk's contents, from the exception it belongs to. */
    static byte[] data(long oldChunk, long newChunk) {
        ByteBuffer b = ByteBuffer.allocate(CHUNK_BYTES);
        while (b.hasRemaining()) {
            b.putLong(oldChunk * 1_000_003 + newChunk);
        }
        return b.array();
    }

    /** The medium after a cut before event {@code cut}: see the class comment. */
    static byte[] imageAt(byte[] clean, List<MemoryDevice.Event> events, int cut, Random random) {
        byte[] image = clean.clone();
        int lastFlush = -1;
        for (int i = 0; i < cut; i++) {
            if (events.get(i).isFlush()) {
                lastFlush = i;
            }
        }
        for (int i = 0; i < cut; i++) {
            MemoryDevice.Event e = events.get(i);
            if (!e.isFlush()) {
                apply(image, e, i > lastFlush && !e.fua() ? random : null);
            }
        }
        if (cut < events.size() && !events.get(cut).isFlush()) {
            apply(image, events.get(cut), random);
        }
        return image;
    }

    /** The write's sectors onto the image, each only on a coin toss when {@code random} is given. */
    private static void apply(byte[] image, MemoryDevice.Event e, Random random) {
        for (int at = 0; at < e.bytes().length; at += 512) {
            if (random == null || random.nextBoolean()) {
                System.arraycopy(e.bytes(), at, image, (int) e.offset() + at, Math.min(512, e.bytes().length - at));
            }
        }
    }

    record Reloaded(MemoryDevice cow, PersistentStore store, List<long[]> entries) {
    }

    Reloaded reload(byte[] image) throws Exception {
        MemoryDevice cow = new MemoryDevice("cow", image);
        PersistentStore store = persistent(origin, cow, 8);
        List<long[]> entries = new ArrayList<>();
        assertEquals(ExceptionStore.LoadResult.LOADED, store.load((o, n) -> entries.add(new long[] {o, n})));
        return new Reloaded(cow, store, entries);
    }

    static void assertPrefix(List<long[]> all, List<long[]> got, String where) {
        assertTrue(got.size() <= all.size(), where);
        for (int i = 0; i < got.size(); i++) {
            assertArrayEquals(all.get(i), got.get(i), where + ": exception " + i);
        }
    }

    /** A new store on a COW whose unused chunks hold leftovers, then the recording starts. */
    MemoryDevice newStoreCow() throws Exception {
        byte[] bytes = new byte[COW_CHUNKS * CHUNK_BYTES];
        Arrays.fill(bytes, 2 * CHUNK_BYTES, bytes.length, (byte) 0x5a);
        MemoryDevice cow = new MemoryDevice("cow", bytes);
        persistent(origin, cow, 8).load((o, n) -> { });
        return cow;
    }

    @Test
    void cutsDuringCommitsKeepEveryAcknowledgedExceptionAndOnlyFlushedData() throws Exception {
        MemoryDevice cow = newStoreCow();
        byte[] clean = cow.snapshot();
        PersistentStore store = persistent(origin, cow, 8);
        store.load((o, n) -> fail("new store"));
        cow.record(true);
        List<long[]> all = new ArrayList<>();
        int[] ackedAt = new int[EXCEPTIONS];
        // Groups of 1 to 5 commits written together, so some area writes span a sector boundary of the area.
        for (int group = 1; all.size() < EXCEPTIONS; group = group % 5 + 1) {
            int size = Math.min(group, EXCEPTIONS - all.size());
            List<long[]> batch = new ArrayList<>();
            for (int i = 0; i < size; i++) {
                long newChunk = store.allocate();
                long oldChunk = ((all.size() + i) * 37L) % 4096;
                cow.write(newChunk * CHUNK_BYTES, ByteBuffer.wrap(data(oldChunk, newChunk)), false);
                batch.add(new long[] {oldChunk, newChunk});
            }
            commitTogether(store, batch);
            for (long[] e : batch) {
                ackedAt[all.size()] = cow.events().size();
                all.add(e);
            }
        }
        List<MemoryDevice.Event> events = cow.events();
        for (int cut = 0; cut <= events.size(); cut++) {
            int acked = 0;
            while (acked < EXCEPTIONS && ackedAt[acked] <= cut) {
                acked++;
            }
            for (int seed = 0; seed < SEEDS; seed++) {
                String where = "cut " + cut + " seed " + seed;
                Reloaded r = reload(imageAt(clean, events, cut, new Random(cut * 31L + seed)));
                assertPrefix(all, r.entries, where);
                assertTrue(r.entries.size() >= acked, where + ": " + r.entries.size() + " of " + acked + " acknowledged");
                for (long[] e : r.entries) {
                    assertArrayEquals(data(e[0], e[1]), r.cow.slice(e[1] * CHUNK_BYTES, CHUNK_BYTES), where + ": data of " + e[1]);
                }
                // The store goes on from there: one more exception, and a reload sees exactly what it holds.
                long newChunk = r.store.allocate();
                r.store.commit(4095, newChunk);
                List<long[]> after = new ArrayList<>(r.entries);
                after.add(new long[] {4095, newChunk});
                PersistentStoreTest.assertEntries(after, reload(r.cow.snapshot()).entries);
            }
        }
    }

    /** The later exceptions' commits wait in their own threads; the first one's commit then writes them all. */
    static void commitTogether(PersistentStore store, List<long[]> batch) throws Exception {
        List<Thread> later = new ArrayList<>();
        List<Exception> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
        for (long[] e : batch.subList(1, batch.size())) {
            later.add(Thread.ofPlatform().start(() -> {
                try {
                    store.commit(e[0], e[1]);
                } catch (Exception failure) {
                    failures.add(failure);
                }
            }));
        }
        while (store.waitingCommits() < later.size()) {
            Thread.onSpinWait();
        }
        store.commit(batch.get(0)[0], batch.get(0)[1]);
        for (Thread t : later) {
            t.join();
        }
        assertEquals(List.of(), failures);
    }

    @Test
    void cutsDuringAMergeNeverLoseAnUnmergedExceptionNorKeepAnAcknowledgedMerge() throws Exception {
        MemoryDevice cow = newStoreCow();
        PersistentStore store = persistent(origin, cow, 8);
        store.load((o, n) -> fail("new store"));
        List<long[]> all = PersistentStoreTest.commit(store, EXCEPTIONS, i -> i % 50 == 0 ? 4000 - i : 100 + i);
        byte[] clean = cow.snapshot();
        cow.record(true);
        List<Integer> leftAfter = new ArrayList<>();
        List<Integer> ackedAt = new ArrayList<>();
        int left = EXCEPTIONS;
        long[] last = new long[2];
        for (int run; (run = store.prepareMerge(last)) > 0; ) {
            int count = Math.min(run, 7);
            store.commitMerge(count);
            left -= count;
            leftAfter.add(left);
            ackedAt.add(cow.events().size());
        }
        assertEquals(0, left);
        List<MemoryDevice.Event> events = cow.events();
        for (int cut = 0; cut <= events.size(); cut++) {
            int merges = 0;
            while (merges < ackedAt.size() && ackedAt.get(merges) <= cut) {
                merges++;
            }
            int atMost = merges == 0 ? EXCEPTIONS : leftAfter.get(merges - 1);
            int atLeast = merges < leftAfter.size() ? leftAfter.get(merges) : 0;
            for (int seed = 0; seed < SEEDS; seed++) {
                String where = "cut " + cut + " seed " + seed;
                Reloaded r = reload(imageAt(clean, events, cut, new Random(cut * 17L + seed)));
                assertPrefix(all, r.entries, where);
                int n = r.entries.size();
                assertTrue(n <= atMost && n >= atLeast, where + ": " + n + " left, want " + atLeast + ".." + atMost);
            }
        }
    }
}
