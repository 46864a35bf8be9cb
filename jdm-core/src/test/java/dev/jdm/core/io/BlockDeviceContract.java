package dev.jdm.core.io;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.Errno;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static dev.jdm.core.testing.Extents.data;
import static dev.jdm.core.testing.Extents.hole;
import static dev.jdm.core.testing.Extents.of;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * What every {@link BlockDevice} must do, run against each implementation (files, O_DIRECT files,
 * mapped devices over different tables). A subclass builds a fresh, fully sparse device of the
 * requested size; the suite writes, reads, punches and checks it byte for byte.
 */
public abstract class BlockDeviceContract {
    protected static final int KIB = 1024;
    protected static final long SIZE = 4L << 20;

    @TempDir
    protected Path dir;

    private final List<AutoCloseable> toClose = new ArrayList<>();
    protected BlockDevice device;

    /** A new device of {@code size} bytes that reads as zeroes and is one hole. */
    protected abstract BlockDevice create(long size) throws Exception;

    /** Whether writing past the end grows the device (a regular file does) instead of failing with EIO. */
    protected boolean growsOnWriteBeyondEnd() {
        return false;
    }

    /** Registers something the fixture opened, closed after each test in reverse order. */
    protected <T extends AutoCloseable> T closeAfterTest(T resource) {
        toClose.add(resource);
        return resource;
    }

    @BeforeEach
    void createDevice() throws Exception {
        device = create(SIZE);
    }

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : toClose.reversed()) {
            c.close();
        }
        toClose.clear();
    }

    protected static byte[] pattern(int length, long seed) {
        byte[] b = new byte[length];
        new SplittableRandom(seed).nextBytes(b);
        return b;
    }

    private static ByteBuffer buffer(byte[] content, boolean direct) {
        ByteBuffer b = direct ? ByteBuffer.allocateDirect(content.length) : ByteBuffer.allocate(content.length);
        return b.put(content).flip();
    }

    protected void write(long offset, byte[] content) throws Exception {
        device.write(offset, buffer(content, true), false);
    }

    protected byte[] read(long offset, int length) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(length);
        device.read(offset, b);
        assertEquals(length, b.position(), "read must fill the buffer");
        return b.array();
    }

    /**
     * What {@link BlockDevice#sendCached} sent to a Unix socket: all of prefix and data, or nothing.
     * The range is written first, so page-cache devices have it cached.
     */
    protected byte[] sendCached(long offset, int length, byte[] prefix) throws Exception {
        Path path = dir.resolve("send.sock");
        Files.deleteIfExists(path);
        try (ServerSocketChannel listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            listener.bind(UnixDomainSocketAddress.of(path));
            try (SocketChannel out = SocketChannel.open(UnixDomainSocketAddress.of(path));
                 SocketChannel in = listener.accept()) {
                ExecutorService reader = Executors.newSingleThreadExecutor();
                try {
                    Future<byte[]> received = reader.submit(() -> Channels.newInputStream(in).readAllBytes());
                    boolean sent = device.sendCached(offset, length, ByteBuffer.wrap(prefix), out);
                    out.close();
                    byte[] bytes = received.get();
                    assertEquals(sent, bytes.length > 0, "true exactly when something was sent");
                    return bytes;
                } finally {
                    reader.shutdownNow();
                }
            }
        }
    }

    @Test
    void sendCachedSendsThePrefixAndExactlyTheBytesOrNothing() throws Exception {
        byte[] content = pattern(192 * KIB, 40);
        write(64 * KIB, content);
        byte[] prefix = {1, 2, 3, 4, 5};
        byte[] sent = sendCached(64 * KIB + 512, 128 * KIB, prefix);
        if (sent.length > 0) {
            byte[] expected = ByteBuffer.allocate(prefix.length + 128 * KIB).put(prefix).put(content, 512, 128 * KIB).array();
            assertArrayEquals(expected, sent);
        }
    }

    @Test
    void reportsItsSize() {
        assertEquals(SIZE, device.size());
    }

    @Test
    void freshDeviceReadsZeroesAndIsOneHole() throws Exception {
        assertArrayEquals(new byte[64 * KIB], read(SIZE - 64 * KIB, 64 * KIB));
        assertEquals(List.of(hole(SIZE)), of(device, 0, SIZE));
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
        assertArrayEquals(content, actual);
    }

    @Test
    void writeAdvancesTheSourceAndReadTheDestinationAndLimitsStay() throws Exception {
        ByteBuffer src = ByteBuffer.allocate(16 * KIB).put(pattern(16 * KIB, 2)).position(KIB).limit(9 * KIB);
        device.write(0, src, false);
        assertEquals(9 * KIB, src.position());
        assertEquals(9 * KIB, src.limit());
        ByteBuffer dst = ByteBuffer.allocate(16 * KIB).position(2 * KIB).limit(10 * KIB);
        device.read(0, dst);
        assertEquals(10 * KIB, dst.position());
        assertEquals(10 * KIB, dst.limit());
        assertArrayEquals(Arrays.copyOfRange(src.array(), KIB, 9 * KIB),
                Arrays.copyOfRange(dst.array(), 2 * KIB, 10 * KIB));
    }

    @Test
    void unalignedWritesChangeExactlyTheirBytes() throws Exception {
        byte[] background = pattern(64 * KIB, 3);
        write(0, background);
        byte[] small = pattern(1000, 4);
        write(4097, small);
        byte[] oneByte = {(byte) 0xA5};
        write(40_000, oneByte);
        byte[] expected = background.clone();
        System.arraycopy(small, 0, expected, 4097, small.length);
        expected[40_000] = (byte) 0xA5;
        assertArrayEquals(expected, read(0, 64 * KIB));
        assertArrayEquals(Arrays.copyOfRange(expected, 4000, 5200), read(4000, 1200));
    }

    @Test
    void lastBytesOfTheDeviceAreUsable() throws Exception {
        byte[] tail = pattern(3 * KIB + 7, 5);
        write(SIZE - tail.length, tail);
        assertArrayEquals(tail, read(SIZE - tail.length, tail.length));
        assertArrayEquals(Arrays.copyOfRange(tail, tail.length - 1, tail.length), read(SIZE - 1, 1));
    }

    @Test
    void readingBeyondTheEndFailsWithEio() {
        BlockIoException across = assertThrows(BlockIoException.class, () -> read(SIZE - 512, 1024));
        assertEquals(Errno.EIO, across.errno());
        BlockIoException after = assertThrows(BlockIoException.class, () -> read(SIZE, 1));
        assertEquals(Errno.EIO, after.errno());
    }

    @Test
    void writingBeyondTheEndFailsOrGrowsTheDevice() throws Exception {
        byte[] content = pattern(1024, 6);
        if (growsOnWriteBeyondEnd()) {
            write(SIZE - 512, content);
            assertEquals(SIZE + 512, device.size());
            assertArrayEquals(content, read(SIZE - 512, 1024));
        } else {
            BlockIoException e = assertThrows(BlockIoException.class, () -> write(SIZE - 512, content));
            assertEquals(Errno.EIO, e.errno());
            assertEquals(SIZE, device.size());
            assertArrayEquals(new byte[512], read(SIZE - 512, 512), "a refused write must not write its first part");
        }
    }

    @Test
    void flushAndFuaWritesKeepTheData() throws Exception {
        byte[] a = pattern(8 * KIB, 7);
        byte[] b = pattern(8 * KIB, 8);
        write(0, a);
        device.write(SIZE / 2, buffer(b, true), true);
        device.flush();
        assertArrayEquals(a, read(0, a.length));
        assertArrayEquals(b, read(SIZE / 2, b.length));
    }

    @Test
    void discardPunchesAHole() throws Exception {
        write(0, pattern(256 * KIB, 9));
        device.discard(64 * KIB, 128 * KIB);
        assertEquals(List.of(data(64 * KIB), hole(128 * KIB), data(64 * KIB), hole(SIZE - 256 * KIB)), of(device, 0, SIZE));
        assertArrayEquals(new byte[128 * KIB], read(64 * KIB, 128 * KIB));
        assertArrayEquals(Arrays.copyOfRange(pattern(256 * KIB, 9), 192 * KIB, 256 * KIB), read(192 * KIB, 64 * KIB));
    }

    @ParameterizedTest(name = "mayUnmap: {0}")
    @ValueSource(booleans = {false, true})
    void writeZeroesReadsBackZeroes(boolean mayUnmap) throws Exception {
        byte[] content = pattern(256 * KIB, 10);
        write(0, content);
        device.writeZeroes(64 * KIB + 100, 64 * KIB, mayUnmap);
        byte[] expected = content.clone();
        Arrays.fill(expected, 64 * KIB + 100, 128 * KIB + 100, (byte) 0);
        assertArrayEquals(expected, read(0, 256 * KIB));
    }

    @Test
    void writeZeroesWithUnmapOfWholeBlocksLeavesAHole() throws Exception {
        write(0, pattern(256 * KIB, 11));
        device.writeZeroes(128 * KIB, 64 * KIB, true);
        assertEquals(List.of(data(128 * KIB), hole(64 * KIB), data(64 * KIB), hole(SIZE - 256 * KIB)), of(device, 0, SIZE));
    }

    @Test
    void allocationMatchesTheWrittenLayoutExactly() throws Exception {
        write(64 * KIB, pattern(4 * KIB, 12));
        write(1024 * KIB, pattern(8 * KIB, 13));
        write(SIZE - 4 * KIB, pattern(4 * KIB, 14));
        assertEquals(List.of(hole(64 * KIB), data(4 * KIB), hole(1024 * KIB - 68 * KIB), data(8 * KIB),
                hole(SIZE - 1032 * KIB - 4 * KIB), data(4 * KIB)), of(device, 0, SIZE));
        // A window starting and ending inside extents is clipped to the window.
        assertEquals(List.of(hole(2 * KIB), data(4 * KIB), hole(KIB)), of(device, 62 * KIB, 7 * KIB));
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
                        int len = Math.min(slice - pos, 1 + random.nextInt(20 * KIB));
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
            assertArrayEquals(pattern(slice, 100 + w), read((long) w * slice, slice), "slice of writer " + w);
        }
    }
}
