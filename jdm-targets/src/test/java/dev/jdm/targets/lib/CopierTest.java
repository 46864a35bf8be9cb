package dev.jdm.targets.lib;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.Errno;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.testing.ForwardingDevice;
import dev.jdm.core.testing.MemoryDevice;
import dev.jdm.core.testing.TestFiles;
import dev.jdm.targets.lib.Copier.CopyException;
import dev.jdm.targets.lib.Copier.Destination;
import dev.jdm.targets.lib.Copier.Overlay;
import dev.jdm.targets.lib.Copier.Source;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CopierTest {
    private static final int CHUNK = 4096;
    private static final int LENGTH = 3 * CHUNK + 100;

    @TempDir
    Path dir;

    private final Copier copier = new Copier(CHUNK, 4 * CHUNK, Copier.Completion.AS_DONE);

    @Test
    void copiesTheRangeToEveryDestinationWithTheOverlayInItsPlace() throws Exception {
        MemoryDevice source = new MemoryDevice("src", pattern(8 * CHUNK, 1));
        MemoryDevice a = new MemoryDevice("a", filled(8 * CHUNK, 0x55));
        MemoryDevice b = new MemoryDevice("b", filled(8 * CHUNK, 0x66));
        byte[] mine = pattern(3000, 2);
        ByteBuffer overlay = ByteBuffer.allocate(3100).position(100);
        overlay.put(mine).flip().position(100);

        copier.copy(Source.of(source, 512), LENGTH, List.of(new Destination(a, 1024), new Destination(b, 0)),
                new Overlay(3000, overlay));

        byte[] expected = Arrays.copyOfRange(source.bytes(), 512, 512 + LENGTH);
        System.arraycopy(mine, 0, expected, 3000, mine.length);
        assertArrayEquals(expected, a.slice(1024, LENGTH));
        assertArrayEquals(expected, b.slice(0, LENGTH));
        assertArrayEquals(filled(1024, 0x55), a.slice(0, 1024), "nothing before the destination");
        assertArrayEquals(filled(CHUNK, 0x66), b.slice(LENGTH, CHUNK), "nothing past the range");
        assertEquals(100, overlay.position(), "the caller's buffer is left as it was");
    }

    @Test
    void readsAChunkAtATimeSkippingChunksTheOverlayCoversAndZeroesPastTheReadablePart() throws Exception {
        MemoryDevice source = new MemoryDevice("src", pattern(8 * CHUNK, 3));
        MemoryDevice dest = new MemoryDevice("dst", filled(8 * CHUNK, 0x77));
        source.record(true);
        byte[] mine = pattern(CHUNK, 4);

        copier.copy(new Source(source, 0, 2 * CHUNK + 904), LENGTH, List.of(new Destination(dest, 0)),
                new Overlay(CHUNK, ByteBuffer.wrap(mine)));

        assertEquals(List.of(new MemoryDevice.Read(0, CHUNK), new MemoryDevice.Read(2 * CHUNK, 904)), source.reads());
        byte[] expected = new byte[LENGTH];
        System.arraycopy(source.bytes(), 0, expected, 0, CHUNK);
        System.arraycopy(mine, 0, expected, CHUNK, CHUNK);
        System.arraycopy(source.bytes(), 2 * CHUNK, expected, 2 * CHUNK, 904);
        assertArrayEquals(expected, dest.slice(0, LENGTH));
    }

    /** Chunk buffers are reused: the bytes of an earlier copy must not show past a later source's readable part. */
    @Test
    void aReusedChunkBufferReadsAsZeroesPastTheReadablePart() throws Exception {
        MemoryDevice source = new MemoryDevice("src", pattern(8 * CHUNK, 12));
        MemoryDevice dest = new MemoryDevice("dst", filled(8 * CHUNK, 0x5A));
        Copier oneBuffer = new Copier(CHUNK, CHUNK, Copier.Completion.AS_DONE);
        oneBuffer.copy(Source.of(source, 0), CHUNK, List.of(new Destination(dest, 0)), Overlay.NONE);

        oneBuffer.copy(new Source(source, 4 * CHUNK, 1000), CHUNK, List.of(new Destination(dest, CHUNK)), Overlay.NONE);

        assertArrayEquals(source.slice(0, CHUNK), dest.slice(0, CHUNK));
        byte[] expected = new byte[CHUNK];
        System.arraycopy(source.bytes(), 4 * CHUNK, expected, 0, 1000);
        assertArrayEquals(expected, dest.slice(CHUNK, CHUNK));
    }

    @Test
    void zeroesGoAroundTheOverlayWhichIsWrittenFromTheCallersBufferChunkByChunk() throws Exception {
        MemoryDevice dest = new MemoryDevice("dst", filled(8 * CHUNK, 0xAA));
        dest.record(true);
        byte[] mine = pattern(2 * CHUNK, 5);

        copier.copy(Source.ZEROES, LENGTH, List.of(new Destination(dest, CHUNK)),
                new Overlay(CHUNK / 2, ByteBuffer.wrap(mine)));

        byte[] expected = new byte[LENGTH];
        System.arraycopy(mine, 0, expected, CHUNK / 2, mine.length);
        assertArrayEquals(expected, dest.slice(CHUNK, LENGTH));
        assertArrayEquals(filled(CHUNK, 0xAA), dest.slice(0, CHUNK));
        // The overlay crosses two chunk boundaries: three writes, each inside one chunk; zeroes are not writes.
        List<MemoryDevice.Event> writes = dest.events();
        assertEquals(List.of(CHUNK + CHUNK / 2L, 2L * CHUNK, 3L * CHUNK), writes.stream().map(MemoryDevice.Event::offset).toList());
        assertEquals(List.of(CHUNK / 2, CHUNK, CHUNK / 2), writes.stream().map(e -> e.bytes().length).toList());
    }

    @Test
    void aFailedWriteStillReachesTheOtherDestinationsThenNothingMoreIsWritten() throws Exception {
        try (DeviceMapper dm = DeviceMapper.create()) {
            Path file = TestFiles.sparse(dir, "half", 16 * CHUNK);
            // Readable and writable for the first two chunks, then the error target.
            dm.create("half", null, "0 16 linear " + file + " 0\n16 112 error", false);
            MappedDevice half = dm.device("half");
            MemoryDevice good = new MemoryDevice("good", filled(8 * CHUNK, 0x11));
            MemoryDevice source = new MemoryDevice("src", pattern(8 * CHUNK, 6));

            CopyException e = assertThrows(CopyException.class, () -> copier.copy(Source.of(source, 0), LENGTH,
                    List.of(new Destination(half, 0), new Destination(good, 0)), Overlay.NONE));

            assertEquals(Errno.EIO, BlockIoException.errnoOf(e));
            assertFalse(e.readFailed());
            assertEquals(bits(0), e.failedDestinations());
            assertEquals(2L * CHUNK, e.copiedBytes());
            assertArrayEquals(source.slice(0, 3 * CHUNK), good.slice(0, 3 * CHUNK), "the failed chunk reached the other destination");
            assertArrayEquals(filled(100, 0x11), good.slice(3 * CHUNK, 100), "nothing past the failed chunk");
            byte[] written = new byte[2 * CHUNK];
            half.read(0, ByteBuffer.wrap(written));
            assertArrayEquals(source.slice(0, 2 * CHUNK), written);
        }
    }

    @Test
    void aFailedReadWritesNothingOfItsChunkOrLater() throws Exception {
        try (DeviceMapper dm = DeviceMapper.create()) {
            Path file = dir.resolve("src");
            Files.write(file, pattern(CHUNK, 7));
            dm.create("src", null, "0 8 linear " + file + " 0\n8 120 error", false);
            MemoryDevice dest = new MemoryDevice("dst", filled(8 * CHUNK, 0x22));

            CopyException e = assertThrows(CopyException.class, () -> copier.copy(Source.of(dm.device("src"), 0),
                    LENGTH, List.of(new Destination(dest, 0)), new Overlay(CHUNK + 10, ByteBuffer.wrap(pattern(10, 8)))));

            assertTrue(e.readFailed());
            assertEquals(new BitSet(), e.failedDestinations());
            assertEquals(CHUNK, e.copiedBytes());
            assertArrayEquals(Files.readAllBytes(file), dest.slice(0, CHUNK));
            assertArrayEquals(filled(LENGTH - CHUNK, 0x22), dest.slice(CHUNK, LENGTH - CHUNK));
        }
    }

    /** A suspended mapped device holds its reads: copies from it keep their chunks in flight until it resumes. */
    @Test
    void inOrderCompletionFollowsSubmissionAndTheThrottleBoundsChunksInFlight() throws Exception {
        try (DeviceMapper dm = DeviceMapper.create()) {
            Path file = dir.resolve("slow");
            Files.write(file, pattern(8 * CHUNK, 9));
            dm.create("slow", null, "0 64 linear " + file + " 0", false);
            MappedDevice slow = dm.device("slow");
            Copier ordered = new Copier(CHUNK, 2 * CHUNK, Copier.Completion.IN_ORDER);
            MemoryDevice dest = new MemoryDevice("dst", 16 * CHUNK);
            List<String> completed = Collections.synchronizedList(new ArrayList<>());
            dm.suspend("slow", false);

            CompletableFuture<Void> first = ordered.submit(Source.of(slow, 0), CHUNK,
                    List.of(new Destination(dest, 0)), Overlay.NONE).whenComplete((v, e) -> completed.add("first"));
            awaitChunksAvailable(ordered, 1);
            CompletableFuture<Void> second = ordered.submit(Source.ZEROES, CHUNK, List.of(new Destination(dest, CHUNK)),
                    new Overlay(0, ByteBuffer.wrap(filled(16, 0x33)))).whenComplete((v, e) -> completed.add("second"));
            awaitBytes(dest, CHUNK, filled(16, 0x33));
            awaitChunksAvailable(ordered, 1);
            assertEquals(List.of(), completed, "the second copy ended first, but completes after the first");

            CompletableFuture<Void> third = ordered.submit(Source.of(slow, CHUNK), CHUNK,
                    List.of(new Destination(dest, 2 * CHUNK)), Overlay.NONE).whenComplete((v, e) -> completed.add("third"));
            awaitChunksAvailable(ordered, 0);
            CompletableFuture<Void> fourth = ordered.submit(Source.ZEROES, CHUNK, List.of(new Destination(dest, 3 * CHUNK)),
                    new Overlay(0, ByteBuffer.wrap(filled(16, 0x44)))).whenComplete((v, e) -> completed.add("fourth"));
            Thread.sleep(200);
            assertArrayEquals(new byte[16], dest.slice(3 * CHUNK, 16), "a third chunk went out past a throttle of two");

            dm.resume("slow");
            CompletableFuture.allOf(first, second, third, fourth).get(10, TimeUnit.SECONDS);
            assertEquals(List.of("first", "second", "third", "fourth"), completed);
            byte[] expected = Arrays.copyOf(Files.readAllBytes(file), 4 * CHUNK);
            System.arraycopy(expected, CHUNK, expected, 2 * CHUNK, CHUNK);
            Arrays.fill(expected, CHUNK, 2 * CHUNK, (byte) 0);
            Arrays.fill(expected, CHUNK, CHUNK + 16, (byte) 0x33);
            Arrays.fill(expected, 3 * CHUNK, 4 * CHUNK, (byte) 0);
            Arrays.fill(expected, 3 * CHUNK, 3 * CHUNK + 16, (byte) 0x44);
            assertArrayEquals(expected, dest.slice(0, 4 * CHUNK));
            assertEquals(2, ordered.chunksAvailable());
        }
    }

    @Test
    void anAsyncCopyFailsItsFutureWithTheCopyError() throws Exception {
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("bad", null, "0 64 error", false);
            ExecutionException e = assertThrows(ExecutionException.class, () -> copier.submit(Source.of(dm.device("bad"), 0),
                    CHUNK, List.of(new Destination(new MemoryDevice(CHUNK), 0)), Overlay.NONE).get(10, TimeUnit.SECONDS));
            CopyException c = assertInstanceOf(CopyException.class, e.getCause());
            assertTrue(c.readFailed());
            assertEquals(0, c.copiedBytes());
        }
    }

    @Test
    void anOverlayOutsideTheRangeIsRefused() {
        assertEquals("the overlay [4000, 4200) lies outside the range of 4096 bytes", assertThrows(IllegalArgumentException.class,
                () -> copier.copy(Source.ZEROES, CHUNK, List.of(new Destination(new MemoryDevice(CHUNK), 0)),
                        new Overlay(4000, ByteBuffer.allocate(200)))).getMessage());
    }

    private static final long MS = 1_000_000;

    /** Two I/Os that overlap count their common time once: the throttle weighs time with I/O in flight. */
    @Test
    void theThrottleCountsTimeWithIoInFlightAndPausesUntilItIsWithinItsShare() {
        ManualClock clock = new ManualClock();
        Copier.Throttle throttle = new Copier.Throttle(25, clock);
        clock.now += 600 * MS;
        throttle.ioStarts();
        clock.now += 100 * MS;
        throttle.ioStarts(); // 100 of 700 ms busy: within a quarter
        clock.now += 100 * MS;
        throttle.ioFinished();
        clock.now += 100 * MS;
        throttle.ioFinished();
        assertArrayEquals(new long[] {300 * MS, 900 * MS}, throttle.history());
        assertEquals(List.of(), clock.pauses);

        clock.now += 100 * MS;
        throttle.ioStarts();
        // 300 of 1000 ms busy is over a quarter: a pause; 1100 ms pass the window and halve to 150 of 550, still
        // over; 150 of 650 is within, and the I/O goes.
        assertEquals(List.of(Copier.Throttle.PAUSE_NANOS, Copier.Throttle.PAUSE_NANOS), clock.pauses);
        assertArrayEquals(new long[] {150 * MS, 650 * MS}, throttle.history());
        throttle.ioFinished();

        // Two seconds idle: the history, now over twice the window, halves twice and the I/O goes at once.
        clock.now += 2000 * MS;
        throttle.ioStarts();
        throttle.ioFinished();
        assertEquals(2, clock.pauses.size());
        assertArrayEquals(new long[] {150 * MS / 4, 2650 * MS / 4}, throttle.history());
    }

    @Test
    void aThrottledCopyThroughASlowDeviceKeepsItsIoToItsShareOfTheTime() throws Exception {
        for (int percent : new int[] {10, 30, 50, 80}) {
            ManualClock clock = new ManualClock();
            SlowDevice source = new SlowDevice(new MemoryDevice("src", pattern(512 * 400, percent)), clock, 20 * MS);
            MemoryDevice dest = new MemoryDevice("dst", 512 * 400);
            Copier throttled = new Copier(512, 4 * 512, Copier.Completion.AS_DONE, new Copier.Throttle(percent, clock));

            throttled.copy(Source.of(source, 0), 512 * 400, List.of(new Destination(dest, 0)), Overlay.NONE);

            assertArrayEquals(source.memory.bytes(), dest.bytes());
            double duty = (double) source.busyNanos / clock.now;
            assertTrue(Math.abs(duty - percent / 100.0) < 0.05, percent + "%: the reads were in flight " + duty + " of the time");
        }
    }

    @Test
    void anUnthrottledCopyNeverPausesAndTheShareChangesWhileACopyRuns() throws Exception {
        ManualClock clock = new ManualClock();
        SlowDevice source = new SlowDevice(new MemoryDevice("src", pattern(512 * 300, 10)), clock, 20 * MS);
        Copier copier = new Copier(512, 512, Copier.Completion.AS_DONE, new Copier.Throttle(100, clock));
        List<Integer> pausesAtIo = new ArrayList<>();
        source.afterIo = () -> {
            pausesAtIo.add(clock.pauses.size());
            if (source.ios == 100) {
                copier.throttle().percent(25);
            } else if (source.ios == 200) {
                copier.throttle().percent(100);
            }
        };

        copier.copy(Source.of(source, 0), 512 * 300, List.of(new Destination(new MemoryDevice(512 * 300), 0)), Overlay.NONE);

        assertEquals(0, pausesAtIo.get(99), "no pause at 100%");
        int pausesAt25 = pausesAtIo.get(199);
        assertTrue(pausesAt25 > 50, "at 25% the reads of 20 ms wait for the busy time to fall to a quarter: " + pausesAt25);
        assertEquals(pausesAt25, (int) pausesAtIo.get(299), "no pause once back at 100%");
    }

    @Test
    void aThrottleOfZeroLetsEachIoGoAfterTenPauses() throws Exception {
        ManualClock clock = new ManualClock();
        SlowDevice source = new SlowDevice(new MemoryDevice("src", pattern(4 * 512, 11)), clock, 20 * MS);
        SlowDevice dest = new SlowDevice(new MemoryDevice(4 * 512), clock, 20 * MS);
        Copier stalled = new Copier(512, 512, Copier.Completion.AS_DONE, new Copier.Throttle(0, clock));

        stalled.copy(Source.of(source, 0), 4 * 512, List.of(new Destination(dest, 0)), Overlay.NONE);

        assertArrayEquals(source.memory.bytes(), dest.memory.bytes());
        assertEquals(7 * Copier.Throttle.MAX_PAUSES, clock.pauses.size(), "the first of the 8 I/Os had no history against it");
    }

    @Test
    void aThrottleOutsideZeroToAHundredIsRefused() {
        assertEquals("a copy throttle of 101%: it must be 0 to 100",
                assertThrows(IllegalArgumentException.class, () -> new Copier.Throttle(101)).getMessage());
        Copier.Throttle throttle = new Copier.Throttle(40);
        assertEquals("a copy throttle of -1%: it must be 0 to 100",
                assertThrows(IllegalArgumentException.class, () -> throttle.percent(-1)).getMessage());
        assertEquals(40, throttle.percent());
        assertEquals(100, copier.throttle().percent(), "a copier made without a throttle is unthrottled");
    }

    /** A clock that moves only when told: by a slow device's I/O, by the throttle's pauses, or by the test. */
    private static final class ManualClock implements Copier.Throttle.Clock {
        long now;
        final List<Long> pauses = new ArrayList<>();

        @Override
        public long nanoTime() {
            return now;
        }

        @Override
        public void sleep(long nanos) {
            pauses.add(nanos);
            now += nanos;
        }
    }

    /** A memory device whose every read or write takes {@code ioNanos} of the clock's time. */
    private static final class SlowDevice extends ForwardingDevice {
        final MemoryDevice memory;
        private final ManualClock clock;
        private final long ioNanos;
        long busyNanos;
        int ios;
        Runnable afterIo = () -> { };

        SlowDevice(MemoryDevice inner, ManualClock clock, long ioNanos) {
            super(inner);
            this.memory = inner;
            this.clock = clock;
            this.ioNanos = ioNanos;
        }

        private void takeTime() {
            clock.now += ioNanos;
            busyNanos += ioNanos;
            ios++;
            afterIo.run();
        }

        @Override
        public void read(long offset, ByteBuffer dst) throws IOException {
            inner.read(offset, dst);
            takeTime();
        }

        @Override
        public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
            inner.write(offset, src, fua);
            takeTime();
        }

        @Override
        public String id() {
            return "slow";
        }
    }

    private static void awaitChunksAvailable(Copier c, int n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (c.chunksAvailable() != n) {
            assertTrue(System.nanoTime() < deadline, "chunks available stayed " + c.chunksAvailable() + ", expected " + n);
            Thread.sleep(5);
        }
    }

    private static void awaitBytes(MemoryDevice d, int offset, byte[] expected) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!Arrays.equals(expected, d.slice(offset, expected.length))) {
            assertTrue(System.nanoTime() < deadline, "the bytes at " + offset + " never came");
            Thread.sleep(5);
        }
    }

    private static BitSet bits(int... set) {
        BitSet b = new BitSet();
        for (int i : set) {
            b.set(i);
        }
        return b;
    }

    private static byte[] filled(int n, int value) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) value);
        return b;
    }

    private static byte[] pattern(int n, long seed) {
        byte[] b = new byte[n];
        new SplittableRandom(seed).nextBytes(b);
        return b;
    }
}
