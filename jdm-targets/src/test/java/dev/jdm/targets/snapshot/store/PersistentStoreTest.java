package dev.jdm.targets.snapshot.store;

import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.FileBlockDevice;
import dev.jdm.core.testing.MemoryDevice;
import dev.jdm.core.testing.TestFiles;
import dev.jdm.targets.snapshot.store.ExceptionStore.LoadResult;
import dev.jdm.targets.snapshot.store.ExceptionStore.Usage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.LongUnaryOperator;

import static dev.jdm.targets.snapshot.store.StoreDevices.entry;
import static dev.jdm.targets.snapshot.store.StoreDevices.persistent;
import static org.junit.jupiter.api.Assertions.*;

class PersistentStoreTest {
    static final int CHUNK = 8;
    static final int CHUNK_BYTES = CHUNK * 512;
    /** Entries per area at 8-sector chunks: areas at chunks 1, 258, 515, ... */
    static final int E = 256;

    @TempDir
    Path dir;

    final MemoryDevice origin = new MemoryDevice(16 << 20);

    /** A COW of {@code chunks} chunks, full of 0x5a but for a zero magic: what a reused device looks like. */
    static MemoryDevice usedCow(int chunks) {
        byte[] bytes = new byte[chunks * CHUNK_BYTES];
        Arrays.fill(bytes, 4, bytes.length, (byte) 0x5a);
        return new MemoryDevice("cow", bytes);
    }

    static byte[] header(int valid, int chunk) {
        byte[] h = new byte[chunk * 512];
        ByteBuffer.wrap(h).order(ByteOrder.LITTLE_ENDIAN).putInt(0x70416e53).putInt(valid).putInt(1).putInt(chunk);
        return h;
    }

    static byte[] chunkAt(MemoryDevice cow, long chunk) {
        return cow.slice(chunk * CHUNK_BYTES, CHUNK_BYTES);
    }

    /** The area bytes holding these {old, new} pairs and zeroes after them. */
    static byte[] area(List<long[]> entries, int chunkBytes) {
        ByteBuffer b = ByteBuffer.allocate(chunkBytes);
        for (long[] e : entries) {
            b.put(entry(e[0], e[1]));
        }
        return b.array();
    }

    /** Allocates and commits {@code n} exceptions one at a time, old chunk from the index; returns the pairs. */
    static List<long[]> commit(ExceptionStore store, int n, LongUnaryOperator oldChunk) throws IOException {
        List<long[]> done = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            long chunk = store.allocate();
            long old = oldChunk.applyAsLong(i);
            store.commit(old, chunk);
            done.add(new long[] {old, chunk});
        }
        return done;
    }

    /** A fresh store over the device and what its load handed over. */
    record Loaded(PersistentStore store, LoadResult result, List<long[]> entries) {
    }

    static Loaded load(BlockDevice origin, BlockDevice cow, int chunk) throws Exception {
        PersistentStore store = persistent(origin, cow, chunk);
        List<long[]> entries = new ArrayList<>();
        LoadResult result = store.load((o, n) -> entries.add(new long[] {o, n}));
        return new Loaded(store, result, entries);
    }

    static void assertEntries(List<long[]> want, List<long[]> got) {
        assertEquals(want.size(), got.size(), "exception count");
        for (int i = 0; i < want.size(); i++) {
            assertArrayEquals(want.get(i), got.get(i), "exception " + i);
        }
    }

    @Test
    void newStoreWritesTheHeaderThenZeroesAreaZero() throws Exception {
        MemoryDevice cow = usedCow(20);
        byte[] before = cow.snapshot();
        cow.record(true);
        Loaded l = load(origin, cow, CHUNK);
        assertEquals(LoadResult.NEW, l.result);
        assertArrayEquals(header(1, CHUNK), chunkAt(cow, 0));
        assertArrayEquals(new byte[CHUNK_BYTES], chunkAt(cow, 1));
        assertArrayEquals(Arrays.copyOfRange(before, 2 * CHUNK_BYTES, before.length),
                Arrays.copyOfRange(cow.bytes(), 2 * CHUNK_BYTES, before.length), "data chunks untouched");
        List<MemoryDevice.Event> events = cow.events();
        assertEquals(3, events.size());
        assertEquals(0, events.get(0).offset());
        assertEquals(CHUNK_BYTES, events.get(1).offset());
        assertTrue(events.get(2).isFlush());
        assertEquals(new Usage(20 * CHUNK, 2 * CHUNK, 2 * CHUNK), l.store.usage());
        assertEquals("P 8", l.store.tableArgs());
        assertNull(l.store.chunkSizeWarning());
    }

    @Test
    void commitsWriteExactEntriesWithAFlushBeforeTheFuaAreaWrite() throws Exception {
        MemoryDevice cow = usedCow(20);
        PersistentStore store = load(origin, cow, CHUNK).store;
        cow.record(true);
        List<long[]> done = commit(store, 3, i -> 10 + 7 * i);
        assertEquals(List.of(2L, 3L, 4L), done.stream().map(e -> e[1]).toList());
        assertArrayEquals(area(done, CHUNK_BYTES), chunkAt(cow, 1));
        List<MemoryDevice.Event> events = cow.events();
        assertEquals(6, events.size(), "per commit: flush, then the area with FUA");
        for (int i = 0; i < 6; i += 2) {
            assertTrue(events.get(i).isFlush());
            assertEquals(CHUNK_BYTES, events.get(i + 1).offset());
            assertTrue(events.get(i + 1).fua());
        }
        assertEquals(new Usage(20 * CHUNK, 5 * CHUNK, 2 * CHUNK), store.usage());
    }

    @Test
    void allocationSkipsAreasAndAFullAreaZeroesTheNextFirst() throws Exception {
        MemoryDevice cow = usedCow(600);
        PersistentStore store = load(origin, cow, CHUNK).store;
        List<long[]> first = commit(store, E - 1, i -> i);
        assertEquals(2, first.get(0)[1]);
        assertEquals(256, first.get(E - 2)[1]);
        cow.record(true);
        long last = store.allocate();
        assertEquals(257, last);
        assertEquals(259, store.allocate(), "chunk 258 is area 1");
        assertNotEquals(0, chunkAt(cow, 258)[0], "area 1 not yet zeroed");
        store.commit(E - 1, last);
        List<MemoryDevice.Event> events = cow.events();
        assertEquals(3, events.size());
        assertEquals(258L * CHUNK_BYTES, events.get(0).offset(), "the next area is zeroed first");
        assertArrayEquals(new byte[CHUNK_BYTES], events.get(0).bytes());
        assertTrue(events.get(1).isFlush());
        assertEquals(CHUNK_BYTES, events.get(2).offset());
        assertTrue(events.get(2).fua());
        first.add(new long[] {E - 1, last});
        assertArrayEquals(area(first, CHUNK_BYTES), chunkAt(cow, 1));
        assertEquals(new Usage(600 * CHUNK, 260 * CHUNK, 3 * CHUNK), store.usage());
    }

    @Test
    void areasOneTwoAndThreeAreWhereTheKernelPutsThem() throws Exception {
        MemoryDevice cow = usedCow(800);
        PersistentStore store = load(origin, cow, CHUNK).store;
        List<long[]> done = commit(store, 2 * E + 3, i -> 3 * i);
        assertEquals(257, done.get(E - 1)[1]);
        assertEquals(259, done.get(E)[1]);
        assertEquals(514, done.get(2 * E - 1)[1]);
        assertEquals(516, done.get(2 * E)[1]);
        assertArrayEquals(area(done.subList(0, E), CHUNK_BYTES), chunkAt(cow, 1));
        assertArrayEquals(area(done.subList(E, 2 * E), CHUNK_BYTES), chunkAt(cow, 258));
        assertArrayEquals(area(done.subList(2 * E, 2 * E + 3), CHUNK_BYTES), chunkAt(cow, 515));
        assertEquals(new Usage(800 * CHUNK, 519 * CHUNK, 4 * CHUNK), store.usage());
        assertEntries(done, load(origin, cow, CHUNK).entries);
    }

    @Test
    void aFullCowRefusesTheNextChunk() throws Exception {
        MemoryDevice cow = usedCow(10);
        PersistentStore store = load(origin, cow, CHUNK).store;
        List<long[]> done = commit(store, 8, i -> i);
        assertEquals(9, done.get(7)[1]);
        StoreFullException full = assertThrows(StoreFullException.class, store::allocate);
        assertEquals("snapshot COW device full: chunk 10 of 8 sectors would end past its 80 sectors", full.getMessage());
        assertEquals(new Usage(80, 80, 16), store.usage());
        Loaded again = load(origin, cow, CHUNK);
        assertEntries(done, again.entries);
        assertThrows(StoreFullException.class, again.store::allocate);
    }

    @Test
    void aFullAreaWhoseSuccessorIsPastTheEndFailsItsCommitAsInTheKernel() throws Exception {
        // 258 chunks: header, area 0 and its 256 data chunks; area 1 would be chunk 258.
        MemoryDevice cow = usedCow(258);
        PersistentStore store = load(origin, cow, CHUNK).store;
        List<long[]> done = commit(store, E - 1, i -> i);
        long last = store.allocate();
        assertEquals(257, last);
        IOException e = assertThrows(IOException.class, () -> store.commit(0, last));
        assertEquals("snapshot store: writing metadata area 0 failed: chunk 258 lies past the COW device's end (258 chunks)",
                e.getMessage());
        assertEquals("snapshot store is invalid: snapshot store: writing metadata area 0 failed: "
                + "chunk 258 lies past the COW device's end (258 chunks)", assertThrows(IOException.class, store::allocate).getMessage());
        assertEntries(done, load(origin, cow, CHUNK).entries);
    }

    @Test
    void reloadRestoresNextFreeTheAreaAndWhereCommitsContinue() throws Exception {
        MemoryDevice cow = usedCow(800);
        PersistentStore store = load(origin, cow, CHUNK).store;
        List<long[]> done = commit(store, E + 40, i -> 1000 - i);
        Usage usage = store.usage();
        store.close();

        Loaded again = load(origin, cow, CHUNK);
        assertEquals(LoadResult.LOADED, again.result);
        assertEntries(done, again.entries);
        assertEquals(usage, again.store.usage());
        done.addAll(commit(again.store, 2, i -> 5 + i));
        assertEquals(299, done.get(E + 40)[1]);
        assertEntries(done, load(origin, cow, CHUNK).entries);
    }

    @Test
    void reloadOfAStoreEndingOnAFullAreaStartsTheNextArea() throws Exception {
        MemoryDevice cow = usedCow(800);
        List<long[]> done = commit(load(origin, cow, CHUNK).store, E, i -> i);
        Loaded again = load(origin, cow, CHUNK);
        assertEntries(done, again.entries);
        assertEquals(new Usage(800 * CHUNK, 259 * CHUNK, 3 * CHUNK), again.store.usage(), "next_free skips area 1");
        assertEquals(259, again.store.allocate());
    }

    @Test
    void mergeWalksRunsBackDownAcrossTheAreaBoundaryToEmpty() throws Exception {
        MemoryDevice cow = usedCow(800);
        PersistentStore store = load(origin, cow, CHUNK).store;
        // Ascending old chunks make runs; the descending stretch makes runs of one.
        List<long[]> done = commit(store, E + 50, i -> i < 200 ? 1000 + i : i < E ? 4000 - i : 2000 + i);
        List<long[]> left = new ArrayList<>(done);
        long[] last = new long[2];
        int merges = 0;
        for (int run; (run = store.prepareMerge(last)) > 0; merges++) {
            long[] newest = left.get(left.size() - 1);
            assertArrayEquals(newest, last);
            assertEquals(expectedRun(left), run);
            int count = merges == 0 ? 1 : run;
            store.commitMerge(count);
            left = new ArrayList<>(left.subList(0, left.size() - count));
            assertEntries(left, load(origin, cow, CHUNK).entries);
        }
        assertTrue(left.isEmpty());
        // Merged runs: area 1 is one run (50 entries, merged as 1 + 49), area 0 is 56 ones and a run of 200.
        assertEquals(2 + 56 + 1, merges);
        Usage usage = store.usage();
        assertEquals(usage.metadataSectors(), usage.allocatedSectors(), "the kernel's 'merge finished'");
        assertEquals(new Usage(800 * CHUNK, 2 * CHUNK, 2 * CHUNK), usage);
        assertArrayEquals(new byte[CHUNK_BYTES], chunkAt(cow, 1));
        assertArrayEquals(new byte[CHUNK_BYTES], chunkAt(cow, 258));
    }

    /** How many of the newest exceptions form a run (old and new both one apart) within their area. */
    private static int expectedRun(List<long[]> left) {
        int inArea = (left.size() - 1) % E + 1;
        int run = 1;
        while (run < inArea) {
            long[] newer = left.get(left.size() - run);
            long[] older = left.get(left.size() - run - 1);
            if (older[0] != newer[0] - 1 || older[1] != newer[1] - 1) {
                break;
            }
            run++;
        }
        return run;
    }

    @Test
    void invalidateRewritesTheHeaderAndReloadSaysInvalid() throws Exception {
        MemoryDevice cow = usedCow(20);
        PersistentStore store = load(origin, cow, CHUNK).store;
        commit(store, 2, i -> i);
        cow.record(true);
        store.invalidate();
        assertArrayEquals(header(0, CHUNK), chunkAt(cow, 0));
        assertTrue(cow.events().get(0).isFlush());
        assertTrue(cow.events().get(1).fua());
        assertEquals("snapshot store is invalid: the snapshot was invalidated",
                assertThrows(IOException.class, store::allocate).getMessage());
        Loaded again = load(origin, cow, CHUNK);
        assertEquals(LoadResult.INVALID, again.result);
        assertEquals(List.of(), again.entries);
    }

    @Test
    void abandonFailsLaterCommitsAndLeavesTheHeaderToTheTarget() throws Exception {
        MemoryDevice cow = usedCow(20);
        PersistentStore store = load(origin, cow, CHUNK).store;
        long lost = store.allocate();
        long next = store.allocate();
        byte[] before = cow.snapshot();
        store.abandon(lost);
        assertEquals("snapshot store is invalid: the copy to chunk 2 failed",
                assertThrows(IOException.class, () -> store.commit(7, next)).getMessage());
        assertArrayEquals(before, cow.bytes(), "nothing written");
        Loaded again = load(origin, cow, CHUNK);
        assertEquals(LoadResult.LOADED, again.result, "the header still says valid");
        assertEquals(List.of(), again.entries);
    }

    @ParameterizedTest
    @ValueSource(ints = {8, 16, 32, 64, 128, 256, 512, 1024})
    void everyChunkSizeLaysOutAndCrossesAnAreaBoundary(int chunk) throws Exception {
        int chunkBytes = chunk * 512;
        int perArea = chunkBytes / 16;
        long cowChunks = perArea + 6L;
        Path file = TestFiles.sparse(dir, "cow" + chunk, cowChunks * chunkBytes);
        Path originFile = TestFiles.sparse(dir, "origin" + chunk, 1L << 30);
        try (FileBlockDevice cow = FileBlockDevice.open(file, FileBlockDevice.Options.READ_WRITE);
             FileBlockDevice bigOrigin = FileBlockDevice.open(originFile, FileBlockDevice.Options.READ_WRITE)) {
            Loaded fresh = load(bigOrigin, cow, chunk);
            assertEquals(LoadResult.NEW, fresh.result);
            assertArrayEquals(header(1, chunk), read(cow, 0, chunkBytes));
            List<long[]> done = commit(fresh.store, 3, i -> i);
            assertArrayEquals(area(done, chunkBytes), read(cow, chunkBytes, chunkBytes));
            fresh.store.close();

            // A full area 0 laid down directly (as the kernel would have left it), then one entry past it.
            List<long[]> full = new ArrayList<>();
            for (int i = 0; i < perArea; i++) {
                full.add(new long[] {i % 1024, 2 + i});
            }
            cow.write(chunkBytes, ByteBuffer.wrap(area(full, chunkBytes)), false);
            Loaded again = load(bigOrigin, cow, chunk);
            assertEntries(full, again.entries);
            assertEquals(new Usage(cowChunks * chunk, (perArea + 3L) * chunk, 3L * chunk), again.store.usage());
            long past = again.store.allocate();
            assertEquals(perArea + 3L, past, "area 1 at chunk " + (perArea + 2) + " skipped");
            again.store.commit(9, past);
            full.add(new long[] {9, past});
            assertEntries(full, load(bigOrigin, cow, chunk).entries);
            assertArrayEquals(area(List.of(new long[] {9, past}), chunkBytes), read(cow, (perArea + 2L) * chunkBytes, chunkBytes));
        }
    }

    private static byte[] read(BlockDevice device, long offset, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        device.read(offset, b);
        return b.array();
    }

    @Test
    void tableChunkZeroTakesTheHeadersAndADifferentTableChunkIsOverriddenWithTheKernelsWarning() throws Exception {
        MemoryDevice cow = usedCow(40);
        List<long[]> done = commit(load(origin, cow, 16).store, 2, i -> i);
        Loaded fromHeader = load(origin, cow, 0);
        assertEquals(16, fromHeader.store.chunkSectors());
        assertNull(fromHeader.store.chunkSizeWarning());
        assertEntries(done, fromHeader.entries);

        Loaded overridden = load(origin, cow, 8);
        assertEquals("P 16", overridden.store.tableArgs());
        assertEquals("chunk size 16 in device metadata overrides table chunk size of 8.", overridden.store.chunkSizeWarning());
        assertEntries(done, overridden.entries);
    }
}
