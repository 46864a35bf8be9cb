package dev.jdm.nbd;

import dev.jdm.core.engine.MappedDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;

import static dev.jdm.core.testing.TestPattern.pattern;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Requests and replies in transmission, including every kind of bad request, checked byte for byte. */
@Timeout(60)
class TransmissionTest {
    static final int SIZE = 4 << 20;
    static final int MIB = 1 << 20;

    @TempDir
    Path dir;
    Served served;
    Path file;

    @BeforeEach
    void serve() throws Exception {
        served = new Served(dir);
        file = served.linear("disk", SIZE, false);
        served.linear("ro", SIZE, true);
    }

    @AfterEach
    void stop() {
        served.close();
    }

    private RawClient connect(String export, boolean structured, boolean allocation) throws Exception {
        RawClient c = new RawClient(served.socket);
        c.go(export, structured, allocation);
        return c;
    }


    private static void assertError(RawClient.Chunk c, long cookie, int error, String message) {
        assertEquals(Nbd.REPLY_FLAG_DONE, c.flags());
        assertEquals(Nbd.REPLY_TYPE_ERROR, c.type());
        assertEquals(cookie, c.cookie());
        assertEquals(error, c.error());
        assertEquals(message, c.message());
    }

    @Test
    void simpleRepliesCarryTheDataAfterA16ByteHeader() throws Exception {
        byte[] data = pattern(8192, 1);
        try (RawClient c = connect("disk", false, false)) {
            c.write(1, 4096, data);
            assertArrayEquals(new long[]{0, 1}, c.simpleReply());
            c.request(0, Nbd.CMD_READ, 2, 4096, 8192);
            assertArrayEquals(new long[]{0, 2}, c.simpleReply());
            assertArrayEquals(data, c.in.readNBytes(8192));
            // A bad read without structured replies: error in the header, no payload.
            c.request(0, Nbd.CMD_READ, 3, SIZE, 512);
            assertArrayEquals(new long[]{Nbd.EINVAL, 3}, c.simpleReply());
            c.request(0, Nbd.CMD_READ, 4, 0, (32 << 20) + 1);
            assertArrayEquals(new long[]{Nbd.EOVERFLOW, 4}, c.simpleReply());
            // DF needs structured replies.
            c.request(Nbd.CMD_FLAG_DF, Nbd.CMD_READ, 5, 0, 512);
            assertArrayEquals(new long[]{Nbd.EINVAL, 5}, c.simpleReply());
        }
        byte[] onDisk = Files.readAllBytes(file);
        assertArrayEquals(data, java.util.Arrays.copyOfRange(onDisk, 4096, 4096 + 8192));
    }

    @Test
    void structuredReadSendsDataAndHoleChunksExactly() throws Exception {
        byte[] data = pattern(64 << 10, 2);
        try (RawClient c = connect("disk", true, true)) {
            c.write(1, MIB, data);
            assertArrayEquals(new long[]{0, 1}, c.simpleReply());
            // 64 KiB data then a hole to 2 MiB: one data chunk, one hole chunk marked done.
            c.request(0, Nbd.CMD_READ, 2, MIB, 2 * MIB);
            RawClient.Chunk first = c.chunk();
            assertEquals(0, first.flags());
            assertEquals(Nbd.REPLY_TYPE_OFFSET_DATA, first.type());
            assertEquals(2, first.cookie());
            assertArrayEquals(ByteBuffer.allocate(8 + data.length).putLong(MIB).put(data).array(), first.payload());
            RawClient.Chunk hole = c.chunk();
            assertEquals(Nbd.REPLY_FLAG_DONE, hole.flags());
            assertEquals(Nbd.REPLY_TYPE_OFFSET_HOLE, hole.type());
            assertArrayEquals(ByteBuffer.allocate(12).putLong(MIB + (64 << 10)).putInt(2 * MIB - (64 << 10)).array(), hole.payload());
            // With DF the same range comes as one data chunk with the zeroes spelled out.
            c.request(Nbd.CMD_FLAG_DF, Nbd.CMD_READ, 3, MIB, 2 * MIB);
            RawClient.Chunk whole = c.chunk();
            assertEquals(Nbd.REPLY_FLAG_DONE, whole.flags());
            assertEquals(Nbd.REPLY_TYPE_OFFSET_DATA, whole.type());
            assertArrayEquals(ByteBuffer.allocate(8 + 2 * MIB).putLong(MIB).put(data).array(), whole.payload());
            // Below 1 MiB the server does not look for holes: data, zeroes spelled out.
            c.request(0, Nbd.CMD_READ, 5, MIB, 128 << 10);
            assertArrayEquals(ByteBuffer.allocate(8 + (128 << 10)).putLong(MIB).put(data).array(), c.chunk().payload());
            // A zero-length read: just the final NONE chunk.
            c.request(0, Nbd.CMD_READ, 4, 0, 0);
            RawClient.Chunk none = c.chunk();
            assertEquals(Nbd.REPLY_TYPE_NONE, none.type());
            assertEquals(0, none.payload().length);
        }
    }

    @Test
    void largeReadsOfCachedDataComeStraightFromThePageCacheByteForByte() throws Exception {
        byte[] data = pattern(768 << 10, 6);
        // Two table lines over one file, the second one first: a read across them takes the ordinary path.
        Path split = dir.resolve("split.img");
        Files.write(split, data);
        served.dm.create("split", null, "0 768 linear " + split + " 768\n768 768 linear " + split + " 0", false);
        byte[] device = ByteBuffer.allocate(data.length).put(data, 384 << 10, 384 << 10).put(data, 0, 384 << 10).array();
        try (RawClient structured = connect("split", true, false); RawClient simple = connect("split", false, false)) {
            for (int[] range : new int[][]{{4096, 256 << 10}, {0, 384 << 10}, {(384 << 10) - 4096, 64 << 10}}) {
                int offset = range[0];
                int length = range[1];
                byte[] expected = java.util.Arrays.copyOfRange(device, offset, offset + length);
                structured.request(0, Nbd.CMD_READ, 1, offset, length);
                RawClient.Chunk c = structured.chunk();
                assertEquals(Nbd.REPLY_FLAG_DONE, c.flags());
                assertEquals(Nbd.REPLY_TYPE_OFFSET_DATA, c.type());
                assertEquals(1, c.cookie());
                assertArrayEquals(ByteBuffer.allocate(8 + length).putLong(offset).put(expected).array(), c.payload());
                simple.request(0, Nbd.CMD_READ, 2, offset, length);
                assertArrayEquals(new long[]{0, 2}, simple.simpleReply());
                assertArrayEquals(expected, simple.in.readNBytes(length));
            }
        }
        // 1 MiB and more: the hole lookup finds data only, and it too goes out as one chunk.
        byte[] big = pattern(2 * MIB, 7);
        try (RawClient c = connect("disk", true, false)) {
            c.write(1, 0, big);
            assertArrayEquals(new long[]{0, 1}, c.simpleReply());
            c.request(0, Nbd.CMD_READ, 2, 4096, MIB);
            RawClient.Chunk chunk = c.chunk();
            assertEquals(Nbd.REPLY_FLAG_DONE, chunk.flags());
            assertEquals(Nbd.REPLY_TYPE_OFFSET_DATA, chunk.type());
            assertArrayEquals(ByteBuffer.allocate(8 + MIB).putLong(4096).put(big, 4096, MIB).array(), chunk.payload());
        }
    }

    @Test
    void blockStatusDescribesHolesAndDataExactly() throws Exception {
        try (RawClient c = connect("disk", true, true)) {
            c.write(1, 3 * MIB, pattern(4096, 3));
            c.simpleReply();
            c.request(0, Nbd.CMD_BLOCK_STATUS, 2, 0, SIZE);
            RawClient.Chunk s = c.chunk();
            assertEquals(Nbd.REPLY_TYPE_BLOCK_STATUS, s.type());
            assertEquals(Nbd.REPLY_FLAG_DONE, s.flags());
            assertArrayEquals(ByteBuffer.allocate(4 + 24).putInt(Nbd.BASE_ALLOCATION_ID)
                    .putInt(3 * MIB).putInt(3).putInt(4096).putInt(0).putInt(MIB - 4096).putInt(3).array(), s.payload());
            c.request(Nbd.CMD_FLAG_REQ_ONE, Nbd.CMD_BLOCK_STATUS, 3, 0, MIB);
            assertArrayEquals(ByteBuffer.allocate(12).putInt(Nbd.BASE_ALLOCATION_ID).putInt(MIB).putInt(3).array(), c.chunk().payload());
            c.request(0, Nbd.CMD_BLOCK_STATUS, 4, SIZE - 512, 1024);
            assertError(c.chunk(), 4, Nbd.EINVAL, "range of 1024 bytes at 4193792 is beyond the end of the export (4194304 bytes)");
        }
        try (RawClient c = connect("disk", true, false)) {
            c.request(0, Nbd.CMD_BLOCK_STATUS, 5, 0, 4096);
            assertError(c.chunk(), 5, Nbd.EINVAL, "no metadata context was negotiated");
        }
    }

    @Test
    void badRequestsGetTheSpecsErrors() throws Exception {
        try (RawClient c = connect("disk", true, true)) {
            c.request(0, Nbd.CMD_READ, 1, 0, (32 << 20) + 1);
            assertError(c.chunk(), 1, Nbd.EOVERFLOW, "read of 33554433 bytes exceeds the maximum payload of 33554432");
            c.request(0, Nbd.CMD_READ, 2, SIZE - 512, 1024);
            assertEquals(Nbd.EINVAL, c.chunk().error());
            c.request(0, Nbd.CMD_READ, 3, -512, 512); // offset 2^64-512, unsigned
            assertEquals(Nbd.EINVAL, c.chunk().error());
            c.write(4, SIZE - 512, new byte[1024]);
            assertError(c.chunk(), 4, Nbd.ENOSPC, "range of 1024 bytes at 4193792 is beyond the end of the export (4194304 bytes)");
            c.request(0, Nbd.CMD_WRITE_ZEROES, 5, SIZE, 512);
            assertEquals(Nbd.ENOSPC, c.chunk().error());
            c.request(0, Nbd.CMD_TRIM, 6, SIZE, 512);
            assertEquals(Nbd.EINVAL, c.chunk().error());
            c.request(0, 42, 7, 0, 512);
            assertError(c.chunk(), 7, Nbd.EINVAL, "unknown command 42");
            c.request(0x40, Nbd.CMD_READ, 8, 0, 512);
            assertError(c.chunk(), 8, Nbd.EINVAL, "flags 0x40 are not valid for command 0");
            c.request(Nbd.CMD_FLAG_NO_HOLE, Nbd.CMD_WRITE, 9, 0, 0);
            assertEquals(Nbd.EINVAL, c.chunk().error());
            c.request(0, Nbd.CMD_FLUSH, 10, 0, 512);
            assertError(c.chunk(), 10, Nbd.EINVAL, "flush must have zero offset and length");
            c.request(0, Nbd.CMD_CACHE, 11, SIZE, 4096);
            assertEquals(Nbd.EINVAL, c.chunk().error());
            // An oversized write's payload is skipped, not taken as requests: the next request is answered.
            byte[] big = new byte[(32 << 20) + 512];
            c.send(ByteBuffer.allocate(28 + big.length).put(new Wire.Request(0, Nbd.CMD_WRITE, 12, 0, big.length).encode()).put(big).array());
            assertError(c.chunk(), 12, Nbd.EINVAL, "write of 33554944 bytes exceeds the maximum payload of 33554432");
            c.request(0, Nbd.CMD_FLUSH, 13, 0, 0);
            assertArrayEquals(new long[]{0, 13}, c.simpleReply());
        }
    }

    @Test
    void readOnlyExportRefusesWritesWithEperm() throws Exception {
        try (RawClient c = connect("ro", true, false)) {
            c.write(1, 0, new byte[512]);
            assertError(c.chunk(), 1, Nbd.EPERM, "export is read-only");
            c.request(0, Nbd.CMD_WRITE_ZEROES, 2, 0, 512);
            assertEquals(Nbd.EPERM, c.chunk().error());
            c.request(0, Nbd.CMD_TRIM, 3, 0, 512);
            assertEquals(Nbd.EPERM, c.chunk().error());
            c.request(0, Nbd.CMD_READ, 4, 0, 512);
            RawClient.Chunk ok = c.chunk();
            assertEquals(Nbd.REPLY_TYPE_OFFSET_DATA, ok.type());
        }
    }

    @Test
    void writeZeroesTrimAndFastZero() throws Exception {
        try (RawClient c = connect("disk", true, true)) {
            c.write(1, 0, pattern(MIB, 4));
            c.simpleReply();
            // Fast zero of data cannot be faster than writing it: ENOTSUP, nothing changed.
            c.request(Nbd.CMD_FLAG_FAST_ZERO, Nbd.CMD_WRITE_ZEROES, 2, 0, 4096);
            assertError(c.chunk(), 2, Nbd.ENOTSUP, "zeroing this range is not faster than writing it");
            // Fast zero of a hole is free.
            c.request(Nbd.CMD_FLAG_FAST_ZERO, Nbd.CMD_WRITE_ZEROES, 3, 2 * MIB, 4096);
            assertArrayEquals(new long[]{0, 3}, c.simpleReply());
            c.request(Nbd.CMD_FLAG_NO_HOLE | Nbd.CMD_FLAG_FUA, Nbd.CMD_WRITE_ZEROES, 4, 4096, 4096);
            assertArrayEquals(new long[]{0, 4}, c.simpleReply());
            c.request(0, Nbd.CMD_TRIM, 5, 64 << 10, 64 << 10);
            assertArrayEquals(new long[]{0, 5}, c.simpleReply());
            c.request(0, Nbd.CMD_WRITE_ZEROES, 6, 256 << 10, 64 << 10);
            assertArrayEquals(new long[]{0, 6}, c.simpleReply());
            c.request(Nbd.CMD_FLAG_FUA, Nbd.CMD_CACHE, 7, 0, MIB);
            assertArrayEquals(new long[]{0, 7}, c.simpleReply());
        }
        byte[] expected = pattern(MIB, 4);
        java.util.Arrays.fill(expected, 4096, 8192, (byte) 0);
        java.util.Arrays.fill(expected, 64 << 10, 128 << 10, (byte) 0);
        java.util.Arrays.fill(expected, 256 << 10, 320 << 10, (byte) 0);
        assertArrayEquals(expected, java.util.Arrays.copyOf(Files.readAllBytes(file), MIB));
    }

    @Test
    void manyRequestsInFlightAreAllAnsweredByCookie() throws Exception {
        try (RawClient c = connect("disk", true, true)) {
            int n = 200;
            ByteBuffer batch = ByteBuffer.allocate(n * (28 + 4096));
            for (int i = 0; i < n; i++) {
                batch.put(new Wire.Request(0, Nbd.CMD_WRITE, 1000 + i, (long) i * 4096, 4096).encode()).put(pattern(4096, i));
            }
            c.send(batch.array());
            Set<Long> cookies = new HashSet<>();
            for (int i = 0; i < n; i++) {
                long[] r = c.simpleReply();
                assertEquals(0, r[0]);
                cookies.add(r[1]);
            }
            assertEquals(n, cookies.size());
            for (int i = 0; i < n; i++) {
                c.request(0, Nbd.CMD_READ, 5000 + i, (long) i * 4096, 4096);
            }
            for (int i = 0; i < n; i++) {
                RawClient.Chunk ch = c.chunk();
                int index = (int) (ch.cookie() - 5000);
                assertArrayEquals(ByteBuffer.allocate(8 + 4096).putLong((long) index * 4096).put(pattern(4096, index)).array(), ch.payload());
            }
        }
    }

    @Test
    void discEndsTheSessionAfterPendingRepliesAndIgnoresWhatFollows() throws Exception {
        try (RawClient c = connect("disk", true, false)) {
            ByteBuffer b = ByteBuffer.allocate(3 * 28 + 512);
            b.put(new Wire.Request(0, Nbd.CMD_WRITE, 1, 0, 512).encode()).put(new byte[512]);
            b.put(new Wire.Request(0, Nbd.CMD_DISC, 2, 0, 0).encode());
            b.put(new Wire.Request(0, Nbd.CMD_FLUSH, 3, 0, 0).encode());
            c.send(b.array());
            assertArrayEquals(new long[]{0, 1}, c.simpleReply());
            assertTrue(c.closedByServer(), "nothing after DISC is answered");
        }
    }

    @Test
    void badRequestMagicClosesTheConnection() throws Exception {
        try (RawClient c = connect("disk", true, false)) {
            c.send(ByteBuffer.allocate(28).putInt(0x12345678).array());
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void aClientThatStopsReadingStallsOnlyItself() throws Exception {
        RawClient stuck = connect("disk", true, false);
        // Ask for far more reply data than any buffer holds and never read it.
        Thread flood = Thread.ofVirtual().start(() -> {
            try {
                for (int i = 0; i < 4096; i++) {
                    stuck.request(0, Nbd.CMD_READ, i, 0, MIB);
                }
            } catch (Exception e) {
                // Closed below.
            }
        });
        try (RawClient other = connect("disk", true, false)) {
            for (int i = 0; i < 20; i++) {
                other.request(0, Nbd.CMD_READ, i, 0, MIB);
                RawClient.Chunk hole = other.chunk();
                assertEquals(i, hole.cookie());
                assertArrayEquals(ByteBuffer.allocate(12).putLong(0).putInt(MIB).array(), hole.payload());
            }
        }
        // The stalled client is still served correctly once it reads again.
        for (int i = 0; i < 10; i++) {
            RawClient.Chunk hole = stuck.chunk();
            assertTrue(hole.cookie() >= 0 && hole.cookie() < 4096);
            assertArrayEquals(ByteBuffer.allocate(12).putLong(0).putInt(MIB).array(), hole.payload());
        }
        stuck.close();
        flood.join();
        try (RawClient after = connect("disk", true, false)) {
            after.request(0, Nbd.CMD_FLUSH, 1, 0, 0);
            assertArrayEquals(new long[]{0, 1}, after.simpleReply());
        }
    }

    @Test
    void forcedRemoveEndsTheConnectionsOfThatDeviceOnly() throws Exception {
        try (RawClient c = connect("disk", true, false); RawClient ro = connect("ro", true, false)) {
            MappedDevice md = served.dm.device("disk");
            assertEquals(1, md.openCount());
            served.dm.remove("disk", true, false);
            assertTrue(c.closedByServer());
            ro.request(0, Nbd.CMD_READ, 1, 0, 512);
            assertEquals(Nbd.REPLY_TYPE_OFFSET_DATA, ro.chunk().type());
        }
    }

    @Test
    void closingTheConnectionReleasesTheDevice() throws Exception {
        RawClient c = connect("disk", true, false);
        MappedDevice md = served.dm.device("disk");
        assertEquals(1, md.openCount());
        c.request(0, Nbd.CMD_DISC, 1, 0, 0);
        assertTrue(c.closedByServer());
        c.close();
        for (int i = 0; i < 500 && md.openCount() > 0; i++) {
            Thread.sleep(20); // The server releases the device once its workers are done.
        }
        assertEquals(0, md.openCount());
        served.dm.remove("disk", false, false);
    }

    @Test
    void closingTheServerWaitsUntilEveryConnectionHasReleasedItsDevice() throws Exception {
        MappedDevice md = served.dm.device("disk");
        try (RawClient c = connect("disk", true, false)) {
            served.dm.suspend("disk", false);
            c.request(0, Nbd.CMD_READ, 1, 0, 512);
            for (int i = 0; i < 500 && !aWorkerWaitsAtTheSuspendedDevice(); i++) {
                Thread.sleep(20);
            }
            assertTrue(aWorkerWaitsAtTheSuspendedDevice());
            CompletableFuture<Void> closing = CompletableFuture.runAsync(served.server::close);
            assertTrue(c.closedByServer());
            Thread.sleep(200); // Time for close() to return and the device to be let go of, if they wrongly were.
            assertFalse(closing.isDone(), "close() waits for the request held by the suspended device");
            assertEquals(1, md.openCount(), "the connection still has a request on the device");
            served.dm.resume("disk");
            closing.get();
            assertEquals(0, md.openCount());
            assertEquals(0, served.server.connectionCount());
        }
        served.dm.remove("disk", false, false);
    }

    private static boolean aWorkerWaitsAtTheSuspendedDevice() {
        return Thread.getAllStackTraces().entrySet().stream().anyMatch(t -> t.getKey().getName().equals("nbd-worker")
                && java.util.Arrays.stream(t.getValue()).anyMatch(f -> f.getClassName().equals("dev.jdm.core.engine.IoGate")));
    }

    @Test
    void aLargeReadHeldBySuspensionDoesNotHoldUpTheConnectionsOtherReplies() throws Exception {
        byte[] data = pattern(256 << 10, 8);
        try (RawClient c = connect("disk", true, false)) {
            c.write(1, 0, data);
            assertArrayEquals(new long[]{0, 1}, c.simpleReply());
            served.dm.suspend("disk", false);
            c.request(0, Nbd.CMD_READ, 2, 0, data.length);
            for (int i = 0; i < 500 && !aWorkerWaitsAtTheSuspendedDevice(); i++) {
                Thread.sleep(20);
            }
            assertTrue(aWorkerWaitsAtTheSuspendedDevice());
            c.request(0, 42, 3, 0, 0); // Refused at once, while the read still waits.
            assertError(c.chunk(), 3, Nbd.EINVAL, "unknown command 42");
            served.dm.resume("disk");
            RawClient.Chunk r = c.chunk();
            assertEquals(2, r.cookie());
            assertArrayEquals(ByteBuffer.allocate(8 + data.length).putLong(0).put(data).array(), r.payload());
        }
    }

    @Test
    void suspendedDeviceHoldsRequestsUntilResume() throws Exception {
        try (RawClient c = connect("disk", true, false)) {
            served.dm.suspend("disk", false);
            c.request(0, Nbd.CMD_READ, 1, 0, 512);
            Thread.sleep(300);
            assertEquals(0, c.in.available(), "no reply while suspended");
            served.dm.resume("disk");
            RawClient.Chunk r = c.chunk();
            assertEquals(1, r.cookie());
            assertEquals(Nbd.REPLY_TYPE_OFFSET_DATA, r.type());
        }
    }

    @Test
    void aResizedDeviceShowsItsNewSizeToNewConnections() throws Exception {
        try (RawClient before = connect("disk", true, false)) {
            Path bigger = dir.resolve("bigger.img");
            try (var f = new java.io.RandomAccessFile(bigger.toFile(), "rw")) {
                f.setLength(2L * SIZE);
            }
            served.dm.load("disk", "0 " + 2 * SIZE / 512 + " linear " + bigger + " 0", false);
            served.dm.suspend("disk", false);
            served.dm.resume("disk");
            try (RawClient after = new RawClient(served.socket)) {
                assertEquals(2L * SIZE, after.go("disk", true, false)[0]);
            }
            // The old connection keeps the size it was told.
            before.request(0, Nbd.CMD_READ, 1, SIZE, 512);
            assertEquals(Nbd.EINVAL, before.chunk().error());
        }
        assertFalse(Files.size(dir.resolve("bigger.img")) == 0);
    }
}
