package dev.jdm.targets.thin;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.engine.MappedDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static dev.jdm.targets.thin.ThinFixture.BLOCK;
import static dev.jdm.core.testing.TestPattern.pattern;
import static dev.jdm.targets.thin.ThinFixture.read;
import static dev.jdm.targets.thin.ThinFixture.write;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Each test is bounded: a write queued for space that is never released must fail the test, not hang it. */
@Timeout(60)
class ThinSpaceTest {
    @TempDir
    Path dir;

    @AfterEach
    void restoreTimeout() {
        System.clearProperty(Pool.NO_SPACE_TIMEOUT_PROPERTY);
    }

    private static long events(ThinFixture f) throws DmException {
        return f.dm.info("pool").eventNumber();
    }

    private static void grow(Path file, long bytes) throws Exception {
        try (RandomAccessFile r = new RandomAccessFile(file.toFile(), "rw")) {
            r.setLength(bytes);
        }
    }

    @Test
    void lowWaterMarkRaisesOneEventUntilTheNextResume() throws Exception {
        try (ThinFixture f = new ThinFixture(dir, 16)) {
            f.createPool("pool", 4);
            f.message("pool", "create_thin", "0");
            MappedDevice thin = f.createThin("pool", "thin", 0, 16 * 128);
            long base = events(f);
            for (int b = 0; b < 12; b++) {
                write(thin, (long) b * BLOCK, pattern(512, b));
            }
            assertEquals(base, events(f), "12 allocations leave 4 free: the mark is checked before allocating");
            write(thin, 12L * BLOCK, pattern(512, 12));
            assertEquals(base + 1, events(f));
            write(thin, 13L * BLOCK, pattern(512, 13));
            assertEquals(base + 1, events(f), "one event until re-armed");
            f.dm.suspend("pool", false);
            f.dm.resume("pool");
            long resumed = events(f);
            write(thin, 14L * BLOCK, pattern(512, 14));
            assertEquals(resumed + 1, events(f), "resume re-arms the event");
        }
    }

    @Test
    void errorIfNoSpaceFailsWritesAtOnceWithEnospc() throws Exception {
        try (ThinFixture f = new ThinFixture(dir, 4)) {
            f.createPool("pool", 0, "error_if_no_space");
            f.message("pool", "create_thin", "0");
            MappedDevice thin = f.createThin("pool", "thin", 0, 8 * 128);
            byte[] data = pattern(4 * BLOCK, 1);
            write(thin, 0, data);
            long before = events(f);
            BlockIoException e = assertThrows(BlockIoException.class, () -> write(thin, 4L * BLOCK, pattern(512, 2)));
            assertEquals(Errno.ENOSPC, e.errno());
            assertEquals("0 112/1024 4/4 - out_of_data_space discard_passdown error_if_no_space - 256 ", f.status("pool"));
            assertEquals(before + 2, events(f), "the low-water mark (0 free <= 0) and the mode change each raise an event");
            assertArrayEquals(data, read(thin, 0, 4 * BLOCK), "reads still work");
            write(thin, 0, pattern(512, 3));
            thin.discard(0, BLOCK);
            f.dm.status("pool", false);
            assertEquals("0 112/1024 3/4 - rw discard_passdown error_if_no_space - 256 ", f.status("pool"),
                    "freeing a block and committing returns to write mode");
            write(thin, 5L * BLOCK, pattern(512, 4));
        }
    }

    @Test
    void queuedWritesWaitForThePoolToGrow() throws Exception {
        System.setProperty(Pool.NO_SPACE_TIMEOUT_PROPERTY, "0");
        try (ThinFixture f = new ThinFixture(dir, 4)) {
            f.createPool("pool", 0);
            f.message("pool", "create_thin", "0");
            MappedDevice thin = f.createThin("pool", "thin", 0, 8 * 128);
            write(thin, 0, pattern(4 * BLOCK, 1));
            byte[] late = pattern(512, 2);
            CompletableFuture<Void> queued = CompletableFuture.runAsync(() -> {
                try {
                    write(thin, 5L * BLOCK, late);
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            while (!f.status("pool").contains("out_of_data_space")) {
                Thread.sleep(10);
            }
            assertFalse(queued.isDone());
            assertEquals("0 112/1024 4/4 - out_of_data_space discard_passdown queue_if_no_space - 256 ", f.status("pool"));
            grow(f.data, 8L * BLOCK);
            f.dm.load("pool", f.poolTable(8 * 128, 0), false);
            f.dm.resume("pool");
            queued.get(30, TimeUnit.SECONDS);
            assertArrayEquals(late, read(thin, 5L * BLOCK, 512));
            assertEquals("0 112/1024 5/8 - rw discard_passdown queue_if_no_space - 256 ", f.status("pool"));
        }
    }

    @Test
    void thinIoWaitsWhileThePoolIsSuspended() throws Exception {
        try (ThinFixture f = new ThinFixture(dir, 16)) {
            f.createPool("pool", 0);
            f.message("pool", "create_thin", "0");
            MappedDevice thin = f.createThin("pool", "thin", 0, 8 * 128);
            byte[] data = pattern(512, 5);
            f.dm.suspend("pool", false);
            CompletableFuture<Void> held = CompletableFuture.runAsync(() -> {
                try {
                    write(thin, BLOCK, data);
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            Thread.sleep(200);
            assertFalse(held.isDone(), "the write waits for the pool");
            assertEquals("0 -", f.status("thin"));
            f.dm.resume("pool");
            held.get(30, TimeUnit.SECONDS);
            assertArrayEquals(data, read(thin, BLOCK, 512));
            assertEquals("128 255", f.status("thin"));
        }
    }

    @Test
    void queuedWritesFailWithEnospcAfterTheNoSpaceTimeout() throws Exception {
        System.setProperty(Pool.NO_SPACE_TIMEOUT_PROPERTY, "1");
        try (ThinFixture f = new ThinFixture(dir, 2)) {
            f.createPool("pool", 0);
            f.message("pool", "create_thin", "0");
            MappedDevice thin = f.createThin("pool", "thin", 0, 8 * 128);
            write(thin, 0, pattern(2 * BLOCK, 1));
            BlockIoException e = assertThrows(BlockIoException.class, () -> write(thin, 3L * BLOCK, pattern(512, 2)));
            assertEquals(Errno.ENOSPC, e.errno());
            assertEquals("0 112/1024 2/2 - out_of_data_space discard_passdown error_if_no_space - 256 ", f.status("pool"));
        }
    }

    @Test
    void runningOutOfMetadataSpaceGoesReadOnlyUntilTheMetadataGrows() throws Exception {
        try (ThinFixture f = new ThinFixture(dir, 16, 64 * 4096)) {
            f.createPool("pool", 0);
            f.message("pool", "create_thin", "0");
            MappedDevice thin = f.createThin("pool", "thin", 0, 16 * 128);
            byte[] data = pattern(512, 1);
            write(thin, 0, data);
            long before = events(f);
            int created = 0;
            DmException stop = null;
            for (int id = 1; id < 200 && stop == null; id++) {
                try {
                    f.message("pool", "create_thin", Integer.toString(id));
                    created++;
                } catch (DmException e) {
                    stop = e;
                }
            }
            assertTrue(stop != null && created > 10, "metadata ran out after " + created + " devices");
            assertEquals(before + 2, events(f), "one event for the metadata low water mark, one for the mode change");
            String[] status = f.status("pool").split(" ");
            assertEquals("ro", status[4]);
            assertEquals("-", status[7], "running out of metadata space does not ask for a check");
            assertEquals(Errno.EOPNOTSUPP, assertThrows(DmException.class,
                    () -> f.message("pool", "create_thin", "500")).errno());
            assertEquals(Errno.EIO, assertThrows(BlockIoException.class, () -> write(thin, BLOCK, data)).errno());
            assertArrayEquals(data, read(thin, 0, 512));
            write(thin, 512, data);

            grow(f.metadata, 1024 * 4096);
            f.dm.load("pool", f.poolTable(f.dataSectors(), 0), false);
            f.dm.resume("pool");
            assertTrue(f.status("pool").contains("/1024 1/16 - rw "), f.status("pool"));
            f.message("pool", "create_thin", "500");
            write(thin, BLOCK, data);
            assertEquals("256 255", f.status("thin"));
        }
    }
    /**
     * A metadata operation fails and so does the abort after it (the metadata device now errors every I/O,
     * as a dying disk would): the pool is in fail mode, as the kernel's abort_transaction leaves it. Status
     * prints Fail for the pool and its thin devices, every thin I/O and message fails, no thin device opens.
     */
    @Test
    void aFailedAbortLeavesThePoolInFailMode() throws Exception {
        try (ThinFixture f = new ThinFixture(dir, 16)) {
            long metaSectors = f.metadata.toFile().length() / 512;
            f.dm.create("meta", null, "0 " + metaSectors + " linear " + f.metadata + " 0", false);
            f.dm.create("pool", null, "0 " + f.dataSectors() + " thin-pool /dev/mapper/meta " + f.data + " "
                    + ThinFixture.BLOCK_SECTORS + " 0", false);
            f.message("pool", "create_thin", "0");
            MappedDevice thin = f.createThin("pool", "thin", 0, 16 * 128);
            byte[] data = pattern(4096, 3);
            write(thin, 0, data);

            f.dm.load("meta", "0 " + metaSectors + " error", false);
            f.dm.suspend("meta", false);
            f.dm.resume("meta");
            assertEquals(Errno.EIO, assertThrows(BlockIoException.class, thin::flush).errno(), "the commit fails");

            assertEquals("Fail", f.status("pool"));
            assertEquals("Fail", f.status("thin"));
            assertEquals(Errno.EIO, assertThrows(BlockIoException.class, () -> read(thin, 0, 4096)).errno());
            assertEquals(Errno.EIO, assertThrows(BlockIoException.class, () -> write(thin, BLOCK, data)).errno());
            assertEquals(Errno.EOPNOTSUPP, assertThrows(DmException.class, () -> f.message("pool", "create_thin", "1")).errno());
            DmException open = assertThrows(DmException.class, () -> f.createThin("pool", "other", 0, 128));
            assertTrue(open.getMessage().contains("Pool is in fail mode"), open.getMessage());
        }
    }
}
