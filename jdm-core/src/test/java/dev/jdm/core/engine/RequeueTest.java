package dev.jdm.core.engine;

import dev.jdm.core.spi.RequeueException;
import dev.jdm.core.spi.TargetType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Future;
import java.util.concurrent.Executors;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * A target that holds I/O (multipath with no path and queue_if_no_path) gives it back with RequeueException on
 * a noflush suspend: the suspend drains, and the I/O completes through the table that is live after the resume.
 */
class RequeueTest {
    private final ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
    private final CountDownLatch held = new CountDownLatch(1);
    private DeviceMapper dm;

    @AfterEach
    void close() {
        pool.shutdownNow();
        dm.close();
    }

    /** {@code hold}: every I/O waits until a noflush presuspend, then is requeued; reads and writes count their tries. */
    private TargetType holding() {
        return TestTargets.type("hold", (ctx, args) -> new TestTargets.Fixed(false) {
            private final Object lock = new Object();
            private boolean requeueing;

            private void hold() throws RequeueException {
                synchronized (lock) {
                    held.countDown();
                    while (!requeueing) {
                        try {
                            lock.wait();
                        } catch (InterruptedException e) {
                            throw new IllegalStateException(e);
                        }
                    }
                }
                throw new RequeueException();
            }

            @Override
            public void read(long offset, ByteBuffer dst) throws RequeueException {
                dst.put((byte) 0x11); // a partial transfer that the requeue must rewind
                hold();
            }

            @Override
            public void write(long offset, ByteBuffer src, boolean fua) throws RequeueException {
                src.get();
                hold();
            }

            @Override
            public void presuspend(boolean noflush) {
                synchronized (lock) {
                    requeueing = noflush;
                    lock.notifyAll();
                }
            }
        });
    }

    @Test
    void aHeldReadCompletesThroughTheTableLoadedDuringANoflushSuspend() throws Exception {
        dm = TestTargets.engine(holding());
        dm.create("d", null, "0 8 hold", false);
        MappedDevice d = dm.device("d");
        ByteBuffer dst = ByteBuffer.allocate(4096);
        Future<?> read = pool.submit(() -> {
            d.read(0, dst);
            return null;
        });
        held.await(10, TimeUnit.SECONDS);
        dm.suspend("d", true);
        assertFalse(read.isDone());
        dm.load("d", "0 8 zero", false);
        dm.resume("d");
        read.get(10, TimeUnit.SECONDS);
        assertEquals(4096, dst.position());
        assertArrayEquals(new byte[4096], dst.array());
    }

    @Test
    void aHeldWriteIsSubmittedAgainWholeAfterTheResume() throws Exception {
        dm = TestTargets.engine(holding(), TestTargets.type("count", (ctx, args) -> new TestTargets.Fixed(false) {
            @Override
            public void write(long offset, ByteBuffer src, boolean fua) {
                assertEquals(512, src.remaining());
                src.position(src.limit());
            }
        }));
        dm.create("d", null, "0 8 hold", false);
        MappedDevice d = dm.device("d");
        ByteBuffer src = ByteBuffer.allocate(512);
        Future<?> write = pool.submit(() -> {
            d.write(0, src, false);
            return null;
        });
        held.await(10, TimeUnit.SECONDS);
        dm.suspend("d", true);
        dm.load("d", "0 8 count", false);
        dm.resume("d");
        write.get(10, TimeUnit.SECONDS);
        assertEquals(512, src.position());
    }
}
