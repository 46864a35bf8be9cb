package dev.jdm.core.io;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.Errno;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static dev.jdm.core.testing.TestPattern.assertSameBytes;
import static dev.jdm.core.testing.TestPattern.pattern;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The data half of what every writable {@link BlockDevice} must do, on top of the read half: a fresh
 * device reads zeroes; writes at boundaries, of every size and (where the device takes them) unaligned
 * change exactly their bytes; FUA and flush keep data; writeZeroes reads back zeroes; writers of
 * disjoint ranges do not disturb each other; I/O past the end is refused. Devices that also promise
 * holes (discard, allocation) run {@link BlockDeviceSparseContract}.
 */
public abstract class BlockDeviceDataContract extends BlockDeviceReadContract {
    private static final long CONTENT_SEED = 77;

    /** Whether writing past the end grows the device (a regular file does) instead of failing with EIO. */
    protected boolean growsOnWriteBeyondEnd() {
        return false;
    }

    protected void write(long offset, byte[] content) throws Exception {
        device.write(offset, buffer(content, true), false);
    }

    @Override
    protected byte[] content() throws Exception {
        byte[] content = pattern((int) SIZE, CONTENT_SEED);
        write(0, content);
        return content;
    }

    @Test
    void freshDeviceReadsZeroes() throws Exception {
        assertSameBytes(new byte[64 * KIB], read(0, 64 * KIB), 0, "start");
        assertSameBytes(new byte[64 * KIB], read(SIZE - 64 * KIB, 64 * KIB), SIZE - 64 * KIB, "end");
    }

    @ParameterizedTest(name = "direct buffer: {0}")
    @ValueSource(booleans = {false, true})
    void readsBackWhatWasWritten(boolean direct) throws Exception {
        byte[] content = pattern(256 * KIB, 1);
        device.write(128 * KIB, buffer(content, direct), false);
        ByteBuffer back = direct ? ByteBuffer.allocateDirect(content.length) : ByteBuffer.allocate(content.length);
        device.read(128 * KIB, back);
        byte[] actual = new byte[content.length];
        back.flip().get(actual);
        assertSameBytes(content, actual, 128 * KIB, "read after write");
    }

    @Test
    void writeAdvancesTheSourceAndReadTheDestinationAndLimitsStay() throws Exception {
        int step = Math.max(KIB, ioUnit());
        ByteBuffer src = ByteBuffer.allocate(16 * step).put(pattern(16 * step, 2)).position(step).limit(9 * step);
        device.write(0, src, false);
        assertEquals(9 * step, src.position());
        assertEquals(9 * step, src.limit());
        ByteBuffer dst = ByteBuffer.allocate(16 * step).position(2 * step).limit(10 * step);
        device.read(0, dst);
        assertEquals(10 * step, dst.position());
        assertEquals(10 * step, dst.limit());
        assertSameBytes(Arrays.copyOfRange(src.array(), step, 9 * step),
                Arrays.copyOfRange(dst.array(), 2 * step, 10 * step), "the window");
    }

    @Test
    void unalignedWritesChangeExactlyTheirBytes() throws Exception {
        byte[] background = pattern(64 * KIB, 3);
        write(0, background);
        byte[] small = pattern(unaligned(1000), 4);
        write(unaligned(4097), small);
        byte[] smallest = pattern(ioUnit(), 5);
        write(unaligned(40_000), smallest);
        byte[] expected = background.clone();
        System.arraycopy(small, 0, expected, unaligned(4097), small.length);
        System.arraycopy(smallest, 0, expected, unaligned(40_000), smallest.length);
        assertSameBytes(expected, read(0, 64 * KIB), "the first 64 KiB");
        int around = unaligned(4000) - ioUnit();
        assertSameBytes(slice(expected, around, unaligned(1200)), read(around, unaligned(1200)), around, "around the small write");
    }

    @Test
    void lastBytesOfTheDeviceAreUsable() throws Exception {
        byte[] tail = pattern(unaligned(3 * KIB + 7), 5);
        write(SIZE - tail.length, tail);
        assertSameBytes(tail, read(SIZE - tail.length, tail.length), SIZE - tail.length, "tail");
        assertSameBytes(slice(tail, tail.length - ioUnit(), ioUnit()), read(SIZE - ioUnit(), ioUnit()), "last unit");
    }

    @Test
    void writingBeyondTheEndFailsOrGrowsTheDevice() throws Exception {
        int unit = Math.max(512, ioUnit());
        byte[] content = pattern(2 * unit, 6);
        if (growsOnWriteBeyondEnd()) {
            write(SIZE - unit, content);
            assertEquals(SIZE + unit, device.size());
            assertSameBytes(content, read(SIZE - unit, 2 * unit), "written across the end");
        } else {
            byte[] before = read(SIZE - unit, unit);
            BlockIoException e = assertThrows(BlockIoException.class, () -> write(SIZE - unit, content));
            assertEquals(Errno.EIO, e.errno());
            assertEquals(SIZE, device.size());
            assertSameBytes(before, read(SIZE - unit, unit), SIZE - unit, "a refused write must not write its first part");
        }
    }

    @Test
    void zeroingOrDiscardingBeyondTheEndIsRefusedWithEio() throws Exception {
        if (growsOnWriteBeyondEnd()) {
            return;
        }
        int unit = Math.max(512, ioUnit());
        assertEquals(Errno.EIO, assertThrows(BlockIoException.class,
                () -> device.writeZeroes(SIZE - unit, 2L * unit, false)).errno());
        assertEquals(Errno.EIO, assertThrows(BlockIoException.class,
                () -> device.discard(SIZE, unit)).errno());
    }

    @Test
    void flushAndFuaWritesKeepTheData() throws Exception {
        byte[] a = pattern(8 * KIB, 7);
        byte[] b = pattern(8 * KIB, 8);
        write(0, a);
        device.write(SIZE / 2, buffer(b, true), true);
        device.flush();
        assertSameBytes(a, read(0, a.length), "plain write");
        assertSameBytes(b, read(SIZE / 2, b.length), SIZE / 2, "FUA write");
    }

    @ParameterizedTest(name = "mayUnmap: {0}")
    @ValueSource(booleans = {false, true})
    void writeZeroesReadsBackZeroes(boolean mayUnmap) throws Exception {
        byte[] content = pattern(256 * KIB, 10);
        write(0, content);
        int from = 64 * KIB + unaligned(100);
        device.writeZeroes(from, 64 * KIB, mayUnmap);
        byte[] expected = content.clone();
        Arrays.fill(expected, from, from + 64 * KIB, (byte) 0);
        assertSameBytes(expected, read(0, 256 * KIB), "after writeZeroes");
    }

    @Test
    void concurrentWritersToDisjointRangesAllLand() throws Exception {
        int writers = 8;
        int slice = (int) (SIZE / writers);
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> done = new ArrayList<>();
            for (int w = 0; w < writers; w++) {
                int base = w * slice;
                byte[] content = pattern(slice, 100 + w);
                done.add(pool.submit(() -> {
                    // Uneven pieces in a shuffled order, so writers interleave at unaligned offsets.
                    SplittableRandom random = new SplittableRandom(base);
                    List<int[]> pieces = new ArrayList<>();
                    for (int pos = 0; pos < slice; ) {
                        int len = Math.min(slice - pos, unaligned(1 + random.nextInt(20 * KIB)));
                        pieces.add(new int[]{pos, len});
                        pos += len;
                    }
                    Collections.shuffle(pieces, new Random(base));
                    for (int[] p : pieces) {
                        device.write(base + p[0], ByteBuffer.wrap(content, p[0], p[1]), false);
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get();
            }
        }
        for (int w = 0; w < writers; w++) {
            assertSameBytes(pattern(slice, 100 + w), read((long) w * slice, slice), (long) w * slice, "slice of writer " + w);
        }
    }
}
