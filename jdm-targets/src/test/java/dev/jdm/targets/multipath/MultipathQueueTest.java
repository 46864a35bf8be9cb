package dev.jdm.targets.multipath;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.Errno;
import dev.jdm.core.engine.MappedDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static dev.jdm.targets.multipath.MultipathFixture.expected;
import static dev.jdm.targets.multipath.MultipathFixture.read;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** queue_if_no_path: I/O with no usable path waits, and everything that ends the wait. */
class MultipathQueueTest {
    private static final String QUEUEING = "1 queue_if_no_path 0 1 1 round-robin 0 2 0 /dev/mapper/p1 /dev/mapper/p2";

    @TempDir
    Path dir;
    MultipathFixture f;
    MappedDevice mp;
    final ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();

    @BeforeEach
    void setUp() throws Exception {
        f = new MultipathFixture(dir, 2);
        f.create("mp", QUEUEING);
        mp = f.device("mp");
    }

    @AfterEach
    void tearDown() {
        MultipathQueueTimeout.seconds(0);
        pool.shutdownNow();
        f.close();
    }

    private void failBothPaths() throws Exception {
        f.message("mp", "fail_path", "253:0");
        f.message("mp", "fail_path", "253:1");
    }

    /** A read of 4096 bytes at 8192, started in the background and shown to be waiting. */
    private Future<byte[]> waitingRead() throws Exception {
        Future<byte[]> r = pool.submit(() -> read(mp, 8192, 4096));
        Thread.sleep(200);
        assertFalse(r.isDone(), "the read should wait for a path");
        return r;
    }

    private static BlockIoException failure(Future<?> io) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> io.get(10, TimeUnit.SECONDS));
        return assertInstanceOf(BlockIoException.class, e.getCause());
    }

    @Test
    void aWaitingReadCompletesWhenAPathIsReinstated() throws Exception {
        failBothPaths();
        Future<byte[]> r = waitingRead();
        assertEquals("0 2048 multipath 2 0 0 0 1 1 E 0 2 0 253:0 F 1 253:1 F 1 ", f.status("mp"));
        f.message("mp", "reinstate_path", "253:1");
        assertArrayEquals(expected(8192, 4096), r.get(10, TimeUnit.SECONDS));
        assertEquals("0 2048 multipath 2 0 0 0 1 1 A 0 2 0 253:0 F 1 253:1 A 1 ", f.status("mp"));
    }

    @Test
    void aReadWhosePathsBreakUnderItWaitsRatherThanFail() throws Exception {
        f.breakPath(1);
        f.breakPath(2);
        Future<byte[]> r = waitingRead();
        assertEquals("0 2048 multipath 2 0 0 0 1 1 E 0 2 0 253:0 F 1 253:1 F 1 ", f.status("mp"));
        f.repairPath(2);
        f.message("mp", "reinstate_path", "/dev/mapper/p2");
        assertArrayEquals(expected(8192, 4096), r.get(10, TimeUnit.SECONDS));
    }

    @Test
    void failIfNoPathFailsTheWaitingIoWithEio() throws Exception {
        failBothPaths();
        Future<byte[]> r = waitingRead();
        f.message("mp", "fail_if_no_path");
        assertEquals(Errno.EIO, failure(r).errno());
        assertEquals("0 2048 multipath 0 0 1 1 round-robin 0 2 1 253:0 1 253:1 1 ", f.table("mp"));
        f.message("mp", "queue_if_no_path");
        assertEquals("0 2048 multipath 1 queue_if_no_path 0 1 1 round-robin 0 2 1 253:0 1 253:1 1 ", f.table("mp"));
    }

    @Test
    void theQueueTimeoutFailsTheWaitingIoAndSwitchesQueueingOff() throws Exception {
        MultipathQueueTimeout.seconds(1);
        long start = System.nanoTime();
        failBothPaths(); // the last path failing starts the timer
        Future<byte[]> r = waitingRead();
        assertEquals(Errno.EIO, failure(r).errno());
        assertTrue(System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(1000), "failed before the timeout");
        assertEquals("0 2048 multipath 0 0 1 1 round-robin 0 2 1 253:0 1 253:1 1 ", f.table("mp"));
    }

    @Test
    void reinstatingAPathStopsTheQueueTimeout() throws Exception {
        MultipathQueueTimeout.seconds(1);
        failBothPaths();
        f.message("mp", "reinstate_path", "253:0");
        Thread.sleep(1200);
        assertEquals("0 2048 multipath 1 queue_if_no_path 0 1 1 round-robin 0 2 1 253:0 1 253:1 1 ", f.table("mp"));
    }

    @Test
    void aFlushSuspendFailsTheWaitingIoAndResumeQueuesAgain() throws Exception {
        failBothPaths();
        Future<byte[]> r = waitingRead();
        f.dm.suspend("mp", false);
        assertEquals(Errno.EIO, failure(r).errno());
        // while suspended the table shows queueing off, as the kernel's does
        assertEquals("0 2048 multipath 0 0 1 1 round-robin 0 2 1 253:0 1 253:1 1 ", f.table("mp"));
        f.dm.resume("mp");
        assertEquals("0 2048 multipath 1 queue_if_no_path 0 1 1 round-robin 0 2 1 253:0 1 253:1 1 ", f.table("mp"));
        waitingRead().cancel(true);
    }

    @Test
    void aNoflushSuspendHandsWaitingIoToTheTableLoadedBeforeTheResume() throws Exception {
        failBothPaths();
        Future<byte[]> r = waitingRead();
        f.dm.suspend("mp", true);
        assertFalse(r.isDone());
        f.dm.load("mp", "0 2048 multipath 1 queue_if_no_path 0 1 1 round-robin 0 1 0 /dev/mapper/p2", false);
        f.dm.resume("mp");
        assertArrayEquals(expected(8192, 4096), r.get(10, TimeUnit.SECONDS));
        assertEquals("0 2048 multipath 2 0 0 0 1 1 A 0 1 0 253:1 A 0 ", f.status("mp"));
    }

    @Test
    void aNoflushSuspendAndResumeWithoutReloadKeepsTheIoWaiting() throws Exception {
        failBothPaths();
        Future<byte[]> r = waitingRead();
        f.dm.suspend("mp", true);
        f.dm.resume("mp");
        Thread.sleep(200);
        assertFalse(r.isDone());
        f.message("mp", "reinstate_path", "253:0");
        assertArrayEquals(expected(8192, 4096), r.get(10, TimeUnit.SECONDS));
    }
}
