package dev.jdm.targets.snapshot.format;

import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.FileBlockDevice;
import dev.jdm.core.spi.Args;
import dev.jdm.targets.snapshot.format.KernelCowImage.Contents;
import dev.jdm.targets.snapshot.format.KernelCowImage.Exception;
import dev.jdm.targets.snapshot.format.KernelCowImage.Header;
import dev.jdm.targets.snapshot.store.ExceptionStore;
import dev.jdm.targets.snapshot.store.ExceptionStore.LoadResult;
import dev.jdm.targets.snapshot.store.ExceptionStore.Usage;
import dev.jdm.targets.snapshot.store.ExceptionStores;
import dev.jdm.targets.snapshot.store.StoreException;
import dev.jdm.targets.snapshot.store.StoreFullException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static dev.jdm.targets.Images.create;
import static dev.jdm.targets.Images.filled;
import static dev.jdm.targets.Images.pattern;
import static org.junit.jupiter.api.Assertions.*;

/**
 * jdm's exception store against the independent kernel-format writer/reader, both ways: what the kernel would
 * have written loads into jdm exactly, and what jdm writes is byte for byte what the kernel would have left after
 * the same operations.
 */
class StoreFormatTest {
    @TempDir
    Path dir;
    private final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void closeAll() throws java.lang.Exception {
        for (AutoCloseable c : open.reversed()) {
            c.close();
        }
    }

    // ---- jdm writes, the kernel's layout reads ----

    @ParameterizedTest
    @ValueSource(ints = {8, 16, 32, 64, 128, 256, 512, 1024})
    void jdmWritesWhatTheKernelWrites(int chunkSectors) throws java.lang.Exception {
        long cowSectors = 12L * chunkSectors;
        long[] olds = {7, 0, 123456789L, 3, 8};
        Path kernel = kernelImage("k", cowSectors, chunkSectors, olds);

        Path jdm = create(dir, "j", cowSectors * 512);
        ExceptionStore store = store("P " + chunkSectors, jdm);
        assertEquals(LoadResult.NEW, store.load(refuseAll()));
        assertEquals(new Usage(cowSectors, 2L * chunkSectors, 2L * chunkSectors), store.usage());
        commitThroughJdm(store, jdm, chunkSectors, olds);
        assertEquals(new Usage(cowSectors, 7L * chunkSectors, 2L * chunkSectors), store.usage());
        assertEquals("P " + chunkSectors, store.tableArgs());
        store.close();

        assertSameBytes(kernel, jdm);
        Contents read = KernelCowImage.read(jdm);
        assertEquals(new Header(KernelCowImage.SNAP_MAGIC, 1, 1, chunkSectors), read.header());
        assertEquals(List.of(new Exception(7, 2), new Exception(0, 3), new Exception(123456789L, 4),
                new Exception(3, 5), new Exception(8, 6)), read.exceptions());
        assertArrayEquals(chunkData(chunkSectors, 123456789L), KernelCowImage.readChunk(jdm, chunkSectors, 4));
    }

    @Test
    void jdmCrossesAreaBoundariesAsTheKernelDoes() throws java.lang.Exception {
        // chunk 8: 256 exceptions per area; 600 exceptions fill areas 0 and 1 and start area 2 (chunk 515)
        long cowSectors = 700L * 8;
        long[] olds = new long[600];
        for (int i = 0; i < olds.length; i++) {
            olds[i] = (i * 7919L) % 5000;
        }
        Path kernel = staleDevice("k", cowSectors);
        try (KernelCowImage image = KernelCowImage.create(kernel, cowSectors, 8)) {
            for (long old : olds) {
                image.addException(old, chunkData(8, old));
            }
        }
        Path jdm = staleDevice("j", cowSectors);
        ExceptionStore store = store("P 8", jdm);
        assertEquals(LoadResult.NEW, store.load(refuseAll()));
        List<Long> allocated = commitThroughJdm(store, jdm, 8, olds);
        assertEquals(2L, allocated.get(0));
        assertEquals(257L, allocated.get(255));
        assertEquals(259L, allocated.get(256), "chunk 258 is area 1");
        assertEquals(516L, allocated.get(512), "chunk 515 is area 2");
        assertEquals(new Usage(cowSectors, (516 + 88) * 8L, 4 * 8L), store.usage());
        store.close();

        assertSameBytes(kernel, jdm);
        Contents read = KernelCowImage.read(jdm);
        assertEquals(600, read.exceptions().size());
        assertEquals(2, read.currentArea());
        assertArrayEquals(new byte[4096 - 88 * 16], Arrays.copyOfRange(KernelCowImage.readChunk(jdm, 8, 515), 88 * 16, 4096),
                "the rest of area 2 was zeroed when area 1 filled, over the stale bytes");
    }

    @Test
    void invalidationWritesTheKernelsHeader() throws java.lang.Exception {
        long[] olds = {5, 6};
        Path kernel = dir.resolve("k");
        try (KernelCowImage image = KernelCowImage.create(kernel, 80, 8)) {
            for (long old : olds) {
                image.addException(old, chunkData(8, old));
            }
            image.dropSnapshot();
        }
        Path jdm = create(dir, "j", 80 * 512);
        ExceptionStore store = store("P 8", jdm);
        store.load(refuseAll());
        commitThroughJdm(store, jdm, 8, olds);
        store.invalidate();
        store.close();
        assertSameBytes(kernel, jdm);
        assertEquals(new Header(KernelCowImage.SNAP_MAGIC, 0, 1, 8), KernelCowImage.readHeader(jdm));
    }

    @Test
    void fullStoreRefusesAndInvalidatesAsTheKernelDoes() throws java.lang.Exception {
        // 5 chunks and a bit: header, area 0, data chunks 2..4; the partial sixth chunk is never used
        long cowSectors = 5 * 8 + 7;
        Path kernel = dir.resolve("k");
        try (KernelCowImage image = KernelCowImage.create(kernel, cowSectors, 8)) {
            for (long old = 0; old < 3; old++) {
                image.addException(old, chunkData(8, old));
            }
            assertEquals(-1, image.prepareException());
            image.dropSnapshot();
        }
        Path jdm = create(dir, "j", cowSectors * 512);
        ExceptionStore store = store("PO 8", jdm);
        store.load(refuseAll());
        commitThroughJdm(store, jdm, 8, new long[]{0, 1, 2});
        assertThrows(StoreFullException.class, store::allocate);
        assertEquals(new Usage(cowSectors, 5 * 8, 2 * 8), store.usage());
        assertEquals("PO 8", store.tableArgs());
        store.invalidate();
        store.close();
        assertSameBytes(kernel, jdm);
    }

    @Test
    void aCowEndingWithAFullAreaInvalidatesOnItsLastCommitAsTheKernelDoes() throws java.lang.Exception {
        // header + area 0 + its 256 data chunks exactly: the 256th commit must zero area 1, past the end, and fails
        long cowSectors = 258L * 8;
        long[] olds = new long[256];
        Arrays.setAll(olds, i -> 1000 + i);
        Path kernel = dir.resolve("k");
        try (KernelCowImage image = KernelCowImage.create(kernel, cowSectors, 8)) {
            for (int i = 0; i < 255; i++) {
                image.addException(olds[i], chunkData(8, olds[i]));
            }
            long last = image.prepareException();
            image.writeData(last, chunkData(8, olds[255]));
            assertFalse(image.commitException(olds[255], last));
            image.dropSnapshot();
        }
        Path jdm = create(dir, "j", cowSectors * 512);
        ExceptionStore store = store("P 8", jdm);
        store.load(refuseAll());
        commitThroughJdm(store, jdm, 8, Arrays.copyOf(olds, 255));
        long last = store.allocate();
        assertEquals(257, last);
        writeChunk(jdm, 8, last, chunkData(8, olds[255]));
        assertThrows(IOException.class, () -> store.commit(olds[255], last));
        store.invalidate();
        store.close();
        assertSameBytes(kernel, jdm);
    }

    @Test
    void concurrentCommitsLandInAllocationOrderAsDmSnapOrdersThem() throws java.lang.Exception {
        // dm-snap completes exceptions in allocation order (exception_complete_sequence), so the areas hold
        // entries in increasing new-chunk order even when copies finish out of order
        long cowSectors = 700L * 8;
        Path jdm = create(dir, "j", cowSectors * 512);
        ExceptionStore store = store("P 8", jdm);
        store.load(refuseAll());
        int threads = 8;
        int perThread = 60;
        try (var pool = java.util.concurrent.Executors.newFixedThreadPool(threads)) {
            List<java.util.concurrent.Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                long first = t * 1000L;
                done.add(pool.submit(() -> {
                    for (long old = first; old < first + perThread; old++) {
                        long chunk = store.allocate();
                        if (old % 3 == 0) {
                            Thread.sleep(1); // this copy finishes late
                        }
                        writeChunk(jdm, 8, chunk, chunkData(8, old));
                        store.commit(old, chunk);
                    }
                    return null;
                }));
            }
            for (var f : done) {
                f.get();
            }
        }
        store.close();
        Contents read = KernelCowImage.read(jdm);
        assertEquals(threads * perThread, read.exceptions().size());
        long expectedNew = 2;
        for (Exception e : read.exceptions()) {
            if (expectedNew == KernelCowImage.areaLocation(8, 1)) {
                expectedNew++;
            }
            assertEquals(expectedNew++, e.newChunk(), e.toString());
            assertArrayEquals(chunkData(8, e.oldChunk()), KernelCowImage.readChunk(jdm, 8, e.newChunk()),
                    e.toString());
        }
        assertEquals(threads * perThread, read.exceptions().stream().map(Exception::oldChunk).distinct().count());
    }

    // ---- the kernel's layout written, jdm reads ----

    @ParameterizedTest
    @ValueSource(ints = {8, 16, 32, 64, 128, 256, 512, 1024})
    void jdmLoadsWhatTheKernelWroteAndCarriesOn(int chunkSectors) throws java.lang.Exception {
        long cowSectors = 12L * chunkSectors;
        Path kernel = dir.resolve("k");
        Path jdm = dir.resolve("j");
        List<Exception> written = new ArrayList<>();
        try (KernelCowImage image = KernelCowImage.create(kernel, cowSectors, chunkSectors)) {
            for (long old : new long[]{40, 41, 42, 9}) {
                written.add(new Exception(old, image.addException(old, chunkData(chunkSectors, old))));
            }
            Files.copy(kernel, jdm);
            image.addException(77, chunkData(chunkSectors, 77));
        }
        ExceptionStore store = store("P " + chunkSectors, jdm);
        List<Exception> loaded = new ArrayList<>();
        assertEquals(LoadResult.LOADED, store.load((o, n) -> loaded.add(new Exception(o, n))));
        assertEquals(written, loaded);
        assertEquals(new Usage(cowSectors, 6L * chunkSectors, 2L * chunkSectors), store.usage());
        commitThroughJdm(store, jdm, chunkSectors, new long[]{77});
        store.close();
        assertSameBytes(kernel, jdm);
    }

    @Test
    void jdmLoadsSeveralAreasAndContinuesInTheLastOne() throws java.lang.Exception {
        long cowSectors = 800L * 8;
        Path kernel = dir.resolve("k");
        Path jdm = dir.resolve("j");
        List<Exception> written = new ArrayList<>();
        try (KernelCowImage image = KernelCowImage.create(kernel, cowSectors, 8)) {
            for (long old = 0; old < 512; old++) { // exactly two full areas: area 2 zeroed and empty
                written.add(new Exception(old * 3, image.addException(old * 3, chunkData(8, old))));
            }
            Files.copy(kernel, jdm);
            image.addException(99_999, chunkData(8, 99_999));
        }
        Contents kernelView = KernelCowImage.read(jdm);
        assertEquals(516, kernelView.nextFree(), "last data chunk 514, then 515 is area 2");
        ExceptionStore store = store("P 8", jdm);
        List<Exception> loaded = new ArrayList<>();
        assertEquals(LoadResult.LOADED, store.load((o, n) -> loaded.add(new Exception(o, n))));
        assertEquals(written, loaded);
        assertEquals(new Usage(cowSectors, kernelView.allocatedSectors(), kernelView.metadataSectors()),
                store.usage());
        assertEquals(List.of(516L), commitThroughJdm(store, jdm, 8, new long[]{99_999}),
                "the kernel's next_free after skip_metadata");
        store.close();
        assertSameBytes(kernel, jdm);
    }

    @Test
    void anInvalidHeaderLoadsAsInvalidWithNoExceptions() throws java.lang.Exception {
        Path cow = dir.resolve("k");
        try (KernelCowImage image = KernelCowImage.create(cow, 80, 8)) {
            image.addException(1, chunkData(8, 1));
            image.dropSnapshot();
        }
        byte[] before = Files.readAllBytes(cow);
        ExceptionStore store = store("P 8", cow);
        assertEquals(LoadResult.INVALID, store.load(refuseAll()));
        store.close();
        assertArrayEquals(before, Files.readAllBytes(cow));
    }

    @Test
    void theHeadersChunkSizeWinsOverTheTables() throws java.lang.Exception {
        Path cow = kernelImage("k", 160, 8, new long[]{4, 5});
        for (String table : new String[]{"P 16", "P 0", "PO 64"}) {
            ExceptionStore store = store(table, cow);
            List<Exception> loaded = new ArrayList<>();
            assertEquals(LoadResult.LOADED, store.load((o, n) -> loaded.add(new Exception(o, n))), table);
            assertEquals(8, store.chunkSectors(), table);
            assertEquals(table.split(" ")[0] + " 8", store.tableArgs(), table);
            assertEquals(List.of(new Exception(4, 2), new Exception(5, 3)), loaded, table);
            assertEquals(new Usage(160, 4 * 8, 2 * 8), store.usage(), table);
            store.close();
        }
    }

    @Test
    void chunkSizeZeroOnABlankCowTakesTheKernelsDefault() throws java.lang.Exception {
        Path jdm = create(dir, "j", 64 * 16384);
        ExceptionStore store = store("P 0", jdm);
        assertEquals(LoadResult.NEW, store.load(refuseAll()));
        assertEquals(32, store.chunkSectors(), "DM_CHUNK_SIZE_DEFAULT_SECTORS");
        assertEquals("P 32", store.tableArgs());
        store.close();
        assertEquals(new Header(KernelCowImage.SNAP_MAGIC, 1, 1, 32), KernelCowImage.readHeader(jdm));
        assertSameBytes(kernelImage("k", 64 * 32, 32, new long[0]), jdm);
    }

    @Test
    void mergeForgetsExceptionsAsTheKernelDoes() throws java.lang.Exception {
        long cowSectors = 700L * 8;
        Path kernel = dir.resolve("k");
        Path jdm = dir.resolve("j");
        try (KernelCowImage image = KernelCowImage.create(kernel, cowSectors, 8)) {
            for (long i = 0; i < 300; i++) { // one run of 256 in area 0, then olds going down in area 1
                long old = i < 256 ? 1000 + i : 5000 - i;
                image.addException(old, chunkData(8, old));
            }
            Files.copy(kernel, jdm);
            ExceptionStore store = store("P 8", jdm);
            store.load((o, n) -> { });
            long[] kernelLast = new long[2];
            long[] jdmLast = new long[2];
            int steps = 0;
            for (int run; (run = image.prepareMerge(kernelLast)) > 0; steps++) {
                assertEquals(run, store.prepareMerge(jdmLast), "step " + steps);
                assertArrayEquals(kernelLast, jdmLast, "step " + steps);
                int count = Math.min(run, 100); // the target may merge part of a run
                image.commitMerge(count);
                store.commitMerge(count);
                if (steps % 7 == 0) {
                    assertSameBytes(kernel, jdm);
                }
            }
            assertEquals(0, store.prepareMerge(jdmLast));
            assertEquals(44 + 3, steps, "44 single entries in area 1, then 256 as 100+100+56");
            Usage done = store.usage();
            assertEquals(done.metadataSectors(), done.allocatedSectors(), "merge finished: allocated == metadata");
            store.close();
        }
        assertSameBytes(kernel, jdm);
        assertEquals(List.of(), KernelCowImage.read(jdm).exceptions());
    }

    @Test
    void aPartlyMergedStoreReloadsWithWhatIsLeft() throws java.lang.Exception {
        Path cow = dir.resolve("k");
        List<Exception> kept = new ArrayList<>();
        try (KernelCowImage image = KernelCowImage.create(cow, 80, 8)) {
            for (long old : new long[]{10, 20, 21, 22}) {
                kept.add(new Exception(old, image.addException(old, chunkData(8, old))));
            }
            long[] last = new long[2];
            assertEquals(3, image.prepareMerge(last));
            image.commitMerge(2);
        }
        ExceptionStore store = store("P 8", cow);
        List<Exception> loaded = new ArrayList<>();
        store.load((o, n) -> loaded.add(new Exception(o, n)));
        assertEquals(kept.subList(0, 2), loaded);
        store.close();
    }

    // ---- transient store: nothing on disk, chunks from 0 ----

    @Test
    void transientStoreAllocatesFromChunkZero() throws java.lang.Exception {
        long cowSectors = 3 * 16 + 5;
        Path cow = create(dir, "n", cowSectors * 512);
        ExceptionStore store = store("N 16", cow);
        assertEquals(LoadResult.NEW, store.load(refuseAll()));
        for (long n = 0; KernelCowImage.transientChunk(n, cowSectors, 16) >= 0; n++) {
            assertEquals(KernelCowImage.transientChunk(n, cowSectors, 16), store.allocate());
        }
        assertThrows(StoreFullException.class, store::allocate);
        assertEquals(new Usage(cowSectors, 3 * 16, 0), store.usage());
        store.close();
        assertArrayEquals(new byte[(int) cowSectors * 512], Files.readAllBytes(cow), "nothing written");
    }

    // ---- helpers ----

    private ExceptionStore store(String storeArgs, Path cowFile) throws java.lang.Exception {
        BlockDevice origin = FileBlockDevice.open(origin(), FileBlockDevice.Options.READ_WRITE);
        BlockDevice cow = FileBlockDevice.open(cowFile, FileBlockDevice.Options.READ_WRITE);
        open.add(origin);
        open.add(cow);
        ExceptionStore store = ExceptionStores.create(new Args(List.of(storeArgs.split(" "))), origin, cow);
        open.add(store);
        return store;
    }

    private Path origin() throws IOException {
        Path origin = dir.resolve("origin");
        // sparse and large: jdm refuses entries whose old chunk lies past the origin's end
        return Files.exists(origin) ? origin : create(dir, "origin", 1L << 36);
    }

    /** A COW device that held something else before (0x5a) with its first chunk blanked, as lvcreate leaves it. */
    private Path staleDevice(String name, long cowSectors) throws IOException {
        byte[] bytes = filled((int) cowSectors * 512, 0x5a);
        Arrays.fill(bytes, 0, 4096, (byte) 0);
        return Files.write(dir.resolve(name), bytes);
    }

    private Path kernelImage(String name, long cowSectors, int chunkSectors, long[] olds) throws IOException {
        Path file = dir.resolve(name);
        try (KernelCowImage image = KernelCowImage.create(file, cowSectors, chunkSectors)) {
            for (long old : olds) {
                image.addException(old, chunkData(chunkSectors, old));
            }
        }
        return file;
    }

    /** What a snapshot target does per exception: allocate, copy the old data into the chunk, commit. */
    private static List<Long> commitThroughJdm(ExceptionStore store, Path cowFile, int chunkSectors, long[] olds)
            throws IOException {
        List<Long> allocated = new ArrayList<>();
        for (long old : olds) {
            long chunk = store.allocate();
            writeChunk(cowFile, chunkSectors, chunk, chunkData(chunkSectors, old));
            store.commit(old, chunk);
            allocated.add(chunk);
        }
        return allocated;
    }

    private static void writeChunk(Path cowFile, int chunkSectors, long chunk, byte[] data) throws IOException {
        try (BlockDevice cow = FileBlockDevice.open(cowFile, FileBlockDevice.Options.READ_WRITE)) {
            cow.write(chunk * chunkSectors * 512L, ByteBuffer.wrap(data), false);
        }
    }

    /** The origin chunk's old contents, made up from its number. */
    static byte[] chunkData(int chunkSectors, long oldChunk) {
        return pattern(chunkSectors * 512, (int) (oldChunk * 31 + chunkSectors));
    }

    private static ExceptionStore.ExceptionSink refuseAll() {
        return (o, n) -> fail("no exception expected, got " + o + " -> " + n);
    }

    static void assertSameBytes(Path expected, Path actual) throws IOException {
        byte[] e = Files.readAllBytes(expected);
        byte[] a = Files.readAllBytes(actual);
        assertEquals(e.length, a.length, "size");
        int at = Arrays.mismatch(e, a);
        assertEquals(-1, at, () -> "first differing byte " + at + " (chunk-relative offset in a 512-byte sector "
                + (at % 512) + "): expected " + e[at] + " got " + a[at]);
    }
}
