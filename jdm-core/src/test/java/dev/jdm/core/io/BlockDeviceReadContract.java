package dev.jdm.core.io;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.Errno;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.reflect.Method;
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
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static dev.jdm.core.testing.TestPattern.assertSameBytes;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The read half of what every {@link BlockDevice} must do: reads at boundaries and of every size give
 * exactly the device's content, buffers move as the interface says, reads past the end fail with EIO.
 * A read-only device (verity) runs this half alone; {@link BlockDeviceDataContract} adds the writes.
 *
 * <p>A fixture may exempt a case in {@link #exemptions()}, naming the kernel behaviour that justifies
 * it; the case then runs and must fail (see {@link ContractExemptions}).
 */
@ExtendWith(ContractExemptions.class)
public abstract class BlockDeviceReadContract {
    protected static final int KIB = 1024;
    protected static final long SIZE = 4L << 20;

    @TempDir
    protected Path dir;

    private final List<AutoCloseable> toClose = new ArrayList<>();
    protected BlockDevice device;

    /** A new device of {@code size} bytes: zeroes and one hole for a writable one, a known image for a read-only one. */
    protected abstract BlockDevice create(long size) throws Exception;

    /** All {@link #SIZE} bytes the device holds once this returns (a writable device writes them first). */
    protected abstract byte[] content() throws Exception;

    /**
     * The smallest I/O the device takes, in bytes: 1 where any byte range works (files, remapping
     * targets), the sector or block size where a target transforms whole units (crypt, integrity).
     */
    protected int ioUnit() {
        return 1;
    }

    /** Contract cases this device does not meet, by test method name, each with the kernel behaviour that justifies it. */
    protected Map<String, String> exemptions() {
        return Map.of();
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

    /** {@code bytes} rounded up to whole I/O units: the unaligned size or offset closest to it that the device takes. */
    protected int unaligned(int bytes) {
        return Math.ceilDiv(bytes, ioUnit()) * ioUnit();
    }

    protected static ByteBuffer buffer(byte[] content, boolean direct) {
        ByteBuffer b = direct ? ByteBuffer.allocateDirect(content.length) : ByteBuffer.allocate(content.length);
        return b.put(content).flip();
    }

    protected byte[] read(long offset, int length) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(length);
        device.read(offset, b);
        assertEquals(length, b.position(), "read must fill the buffer");
        return b.array();
    }

    protected static byte[] slice(byte[] content, long offset, int length) {
        return Arrays.copyOfRange(content, (int) offset, (int) offset + length);
    }

    /**
     * What {@link BlockDevice#sendCached} sent to a Unix socket: all of prefix and data, or nothing.
     * Callers have the range written or read first, so page-cache devices have it cached.
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
    void exemptionsNameContractCases() {
        Set<String> cases = new HashSet<>();
        for (Class<?> c = getClass(); c != Object.class; c = c.getSuperclass()) {
            for (Method m : c.getDeclaredMethods()) {
                cases.add(m.getName());
            }
        }
        for (var e : exemptions().entrySet()) {
            assertTrue(cases.contains(e.getKey()), "exemption of an unknown case: " + e.getKey());
            assertTrue(e.getValue().contains("kernel"), "an exemption names the kernel behaviour behind it: " + e);
        }
    }

    @Test
    void reportsItsSize() {
        assertEquals(SIZE, device.size());
    }

    @ParameterizedTest(name = "direct buffer: {0}")
    @ValueSource(booleans = {false, true})
    void readsAtBoundariesAndOfEverySizeGiveTheContent(boolean direct) throws Exception {
        byte[] content = content();
        int unit = ioUnit();
        long[][] ranges = {
                {0, unit}, {0, 4 * KIB}, {unit, 64 * KIB}, {unaligned(4097), unaligned(1000)},
                {SIZE / 2 - 3L * unit, 8L * unit}, {SIZE / 2 - 64 * KIB, 320 * KIB},
                {SIZE - 128 * KIB, 128 * KIB}, {SIZE - unit, unit}, {0, (int) SIZE}};
        for (long[] r : ranges) {
            int length = (int) r[1];
            ByteBuffer back = direct ? ByteBuffer.allocateDirect(length) : ByteBuffer.allocate(length);
            device.read(r[0], back);
            byte[] actual = new byte[length];
            back.flip().get(actual);
            assertSameBytes(slice(content, r[0], length), actual, r[0], "read of " + length + " bytes at " + r[0]);
        }
    }

    @Test
    void readFillsTheDestinationWindowAndKeepsItsLimit() throws Exception {
        byte[] content = content();
        int step = Math.max(KIB, ioUnit());
        ByteBuffer dst = ByteBuffer.allocate(16 * step).position(2 * step).limit(10 * step);
        device.read(step, dst);
        assertEquals(10 * step, dst.position());
        assertEquals(10 * step, dst.limit());
        assertArrayEquals(new byte[2 * step], Arrays.copyOfRange(dst.array(), 0, 2 * step), "before the window");
        assertSameBytes(slice(content, step, 8 * step), Arrays.copyOfRange(dst.array(), 2 * step, 10 * step), step, "the window");
        assertArrayEquals(new byte[6 * step], Arrays.copyOfRange(dst.array(), 10 * step, 16 * step), "after the window");
    }

    @Test
    void readingBeyondTheEndFailsWithEio() throws Exception {
        content();
        int unit = Math.max(512, ioUnit());
        BlockIoException across = assertThrows(BlockIoException.class, () -> read(SIZE - unit, 2 * unit));
        assertEquals(Errno.EIO, across.errno());
        BlockIoException after = assertThrows(BlockIoException.class, () -> read(SIZE, unit));
        assertEquals(Errno.EIO, after.errno());
    }

    @Test
    void concurrentReadersAllSeeTheContent() throws Exception {
        byte[] content = content();
        int readers = 8;
        int slice = (int) (SIZE / readers);
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<byte[]>> reads = new ArrayList<>();
            for (int r = 0; r < readers; r++) {
                // Each reader reads the whole device from its own start, wrapping, in 64 KiB pieces.
                int first = r * slice;
                reads.add(pool.submit(() -> {
                    byte[] all = new byte[(int) SIZE];
                    for (int done = 0; done < SIZE; done += 64 * KIB) {
                        int at = (int) ((first + done) % SIZE);
                        device.read(at, ByteBuffer.wrap(all, at, 64 * KIB));
                    }
                    return all;
                }));
            }
            for (int r = 0; r < readers; r++) {
                assertSameBytes(content, reads.get(r).get(), "reader " + r);
            }
        }
    }

    @Test
    void sendCachedSendsThePrefixAndExactlyTheBytesOrNothing() throws Exception {
        byte[] content = content();
        long offset = 64 * KIB + unaligned(512);
        read(offset, 128 * KIB);
        byte[] prefix = {1, 2, 3, 4, 5};
        byte[] sent = sendCached(offset, 128 * KIB, prefix);
        if (sent.length > 0) {
            byte[] expected = ByteBuffer.allocate(prefix.length + 128 * KIB).put(prefix)
                    .put(content, (int) offset, 128 * KIB).array();
            assertSameBytes(expected, sent, "prefix and data sent");
        }
    }
}
