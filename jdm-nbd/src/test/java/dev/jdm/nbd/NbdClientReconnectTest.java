package dev.jdm.nbd;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.Errno;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.testing.TestFiles;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A client that survives its server: servers killed with requests in flight and started again,
 * frozen (SIGSTOP), back with another size, never accepting; many threads across one reconnect.
 * The servers are jdm's own, in process, and nbdkit as a process; the client's timeout is 1 s.
 */
@Timeout(60)
class NbdClientReconnectTest {
    static final long SIZE = 16 << 20;
    static final NbdClient.Options ONE_SECOND = new NbdClient.Options(Duration.ofSeconds(1));
    static final long MILLIS = 1_000_000;

    @TempDir
    Path dir;
    private final List<ExternalServer> servers = new ArrayList<>();

    /** A server started while a client is open, stopped after the test (once the client closed, as nbdkit waits for it). */
    ExternalServer closeAfter(ExternalServer server) {
        servers.add(server);
        return server;
    }

    @AfterEach
    void stopServers() {
        servers.forEach(ExternalServer::close);
    }

    /** What a request did: its error (null if it worked) and when it ended. */
    record Outcome(IOException error, long endedAt) {
    }

    /** Runs a request on a thread of its own, so several can be in flight at once. */
    static CompletableFuture<Outcome> inFlight(Callable<?> request) {
        CompletableFuture<Outcome> f = new CompletableFuture<>();
        Thread.ofPlatform().daemon().start(() -> {
            IOException error = null;
            try {
                request.call();
            } catch (IOException e) {
                error = e;
            } catch (Exception e) {
                f.completeExceptionally(e);
                return;
            }
            f.complete(new Outcome(error, System.nanoTime()));
        });
        return f;
    }

    static byte[] pattern(int length, long seed) {
        byte[] b = new byte[length];
        new SplittableRandom(seed).nextBytes(b);
        return b;
    }

    static byte[] read(NbdClient client, long offset, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        client.read(offset, b);
        return b.array();
    }

    /** Failed by the 1 s timeout: not before it, and within a second after it. */
    static void assertTookTheTimeout(long nanos) {
        assertTrue(nanos >= 1000 * MILLIS && nanos < 2000 * MILLIS, nanos / MILLIS + " ms");
    }

    static void assertLost(String uri, Outcome o, long since) {
        assertTrue(o.error() instanceof BlockIoException, String.valueOf(o.error()));
        assertEquals(Errno.EIO, BlockIoException.errnoOf(o.error()));
        assertTrue(BlockIoException.isPathError(o.error()));
        assertTrue(o.error().getMessage().startsWith(uri + ": connection lost: "), o.error().getMessage());
        // Far below the 1 s timeout: the broken connection, not the timeout, failed them.
        assertTrue(o.endedAt() - since < 500 * MILLIS, (o.endedAt() - since) / MILLIS + " ms after the kill");
    }

    @Test
    void nbdkitKilledWithRequestsInFlightFailsThemAtOnceAndTheRestartedServerIsReconnected() throws Exception {
        Path file = TestFiles.sparse(dir, "disk.img", SIZE);
        Path socket = dir.resolve("nbdkit.sock");
        // Resources close in reverse: the client before the servers (nbdkit waits for its clients on SIGTERM).
        ExternalServer slow = ExternalServer.nbdkit(socket, "--filter=delay", "file", file.toString(), "rdelay=400ms");
        try (slow; NbdClient client = NbdClient.open(NbdUri.parse(slow.uri()), false, ONE_SECOND)) {
            byte[] written = pattern(64 << 10, 1);
            client.write(8192, ByteBuffer.wrap(written), true);
            List<CompletableFuture<Outcome>> reads = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                long offset = 4096L * i;
                reads.add(inFlight(() -> read(client, offset, 4096)));
            }
            Thread.sleep(150); // All four wait in nbdkit's delay filter.
            long killedAt = System.nanoTime();
            slow.process.destroyForcibly().waitFor();
            for (CompletableFuture<Outcome> r : reads) {
                assertLost(slow.uri(), r.get(5, TimeUnit.SECONDS), killedAt);
            }

            ExternalServer again = closeAfter(ExternalServer.nbdkit(socket, "file", file.toString()));
            assertArrayEquals(written, read(client, 8192, written.length));
            client.write(0, ByteBuffer.wrap(written, 0, 4096), false);
            assertArrayEquals(Arrays.copyOf(written, 4096), read(client, 0, 4096));
        }
    }

    @Test
    void jdmServerClosedWithRequestsInFlightFailsThemAtOnceAndTheRestartedServerIsReconnected() throws Exception {
        try (Served s = new Served(dir)) {
            Path file = TestFiles.sparse(dir, "disk.img", SIZE);
            s.dm.create("disk", null, "0 " + SIZE / 512 + " delay " + file + " 0 300 " + file + " 0 0", false);
            NbdServer again = null;
            try (NbdClient client = NbdClient.open(NbdUri.parse(s.uri("disk")), false, ONE_SECOND)) {
                byte[] written = pattern(32 << 10, 2);
                client.write(4096, ByteBuffer.wrap(written), false);
                client.flush();
                List<CompletableFuture<Outcome>> reads = new ArrayList<>();
                for (int i = 0; i < 3; i++) {
                    reads.add(inFlight(() -> read(client, 0, 4096)));
                }
                Thread.sleep(100); // All three are held by the delay target.
                long closedAt = System.nanoTime();
                s.server.close();
                for (CompletableFuture<Outcome> r : reads) {
                    assertLost(s.uri("disk"), r.get(5, TimeUnit.SECONDS), closedAt);
                }

                again = new NbdServer(s.dm, NbdServer.Config.unix(s.socket));
                again.start();
                assertArrayEquals(written, read(client, 4096, written.length));
                assertEquals(1, again.connectionCount());
            } finally {
                if (again != null) {
                    again.close();
                }
            }
        }
    }

    @Test
    void aFrozenServerTimesTheRequestOutAndFailsTheOthersWithIt() throws Exception {
        ExternalServer nbdkit = ExternalServer.nbdkit(dir.resolve("nbdkit.sock"), "memory", "size=" + SIZE);
        try (nbdkit; NbdClient client = NbdClient.open(NbdUri.parse(nbdkit.uri()), false, ONE_SECOND)) {
            String uri = nbdkit.uri();
            byte[] written = pattern(4096, 3);
            client.write(0, ByteBuffer.wrap(written), false);

            nbdkit.signal("STOP");
            long firstSent = System.nanoTime();
            CompletableFuture<Outcome> first = inFlight(() -> read(client, 0, 4096));
            Thread.sleep(400);
            CompletableFuture<Outcome> second = inFlight(() -> read(client, 4096, 4096));
            CompletableFuture<Outcome> third = inFlight(() -> {
                client.write(8192, ByteBuffer.wrap(written), false);
                return null;
            });
            Outcome timedOut = first.get(5, TimeUnit.SECONDS);
            assertEquals(Errno.ETIMEDOUT, BlockIoException.errnoOf(timedOut.error()));
            assertEquals(uri + ": request timed out after 1 s", timedOut.error().getMessage());
            assertTrue(BlockIoException.isPathError(timedOut.error()));
            long took = timedOut.endedAt() - firstSent;
            assertTookTheTimeout(took);
            for (CompletableFuture<Outcome> other : List.of(second, third)) {
                Outcome o = other.get(5, TimeUnit.SECONDS);
                assertEquals(Errno.EIO, BlockIoException.errnoOf(o.error()));
                assertEquals(uri + ": connection dropped after a request timed out after 1 s", o.error().getMessage());
                // Failed together with the first, not at their own (0.4 s later) deadline.
                assertTrue(o.endedAt() - timedOut.endedAt() < 200 * MILLIS, (o.endedAt() - timedOut.endedAt()) / MILLIS + " ms later");
            }

            // nbdkit 1.32 may abort (SIGABRT) when it thaws and finds connections gone that were closed while it was
            // stopped: the return of a server is shown with its pause filter below.
            nbdkit.signal("CONT");
        }
    }

    @Test
    void aPausedServerTimesTheRequestOutAndIsReconnectedOnceItResumes() throws Exception {
        Path pause = dir.resolve("pause.sock");
        ExternalServer nbdkit = ExternalServer.nbdkit(dir.resolve("nbdkit.sock"), "--filter=pause", "memory", "size=" + SIZE,
                "pause-control=" + pause);
        try (nbdkit; NbdClient client = NbdClient.open(NbdUri.parse(nbdkit.uri()), false, ONE_SECOND)) {
            byte[] written = pattern(4096, 7);
            client.write(0, ByteBuffer.wrap(written), false);
            pauseControl(pause, 'p');
            long sent = System.nanoTime();
            IOException e = assertThrows(IOException.class, () -> read(client, 0, 4096));
            assertTookTheTimeout(System.nanoTime() - sent);
            assertEquals(nbdkit.uri() + ": request timed out after 1 s", e.getMessage());
            pauseControl(pause, 'r');
            assertArrayEquals(written, read(client, 0, 4096));
        }
    }

    /** A command to nbdkit's pause filter ('p' pause, 'r' resume), once it took effect (it answers in capitals). */
    private static void pauseControl(Path socket, char command) throws IOException {
        try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            c.write(ByteBuffer.wrap(new byte[]{(byte) command}));
            ByteBuffer answer = ByteBuffer.allocate(1);
            while (answer.hasRemaining() && c.read(answer) >= 0) {
                // One byte is all it sends.
            }
            assertEquals(Character.toUpperCase(command), (char) answer.get(0));
        }
    }

    @Test
    void aWriteStuckOnAFrozenServersFullSocketTimesOutToo() throws Exception {
        ExternalServer nbdkit = ExternalServer.nbdkit(dir.resolve("nbdkit.sock"), "memory", "size=" + SIZE);
        try (nbdkit; NbdClient client = NbdClient.open(NbdUri.parse(nbdkit.uri()), false, ONE_SECOND)) {
            nbdkit.signal("STOP");
            long sent = System.nanoTime();
            // Far more than the socket buffers hold: the sending thread blocks inside the write until the timeout.
            IOException e = assertThrows(IOException.class, () -> client.write(0, ByteBuffer.allocate((int) SIZE / 2), false));
            long took = System.nanoTime() - sent;
            nbdkit.signal("CONT");
            assertEquals(Errno.ETIMEDOUT, BlockIoException.errnoOf(e));
            assertEquals(nbdkit.uri() + ": request timed out after 1 s", e.getMessage());
            assertTookTheTimeout(took);
        }
    }

    @Test
    void aReconnectThatTimesOutFailsItsRequestAndTheNextOnesForASecond() throws Exception {
        try (Served s = new Served(dir)) {
            s.linear("disk", SIZE, false);
            String uri = s.uri("disk");
            NbdServer again = null;
            try (NbdClient client = NbdClient.open(NbdUri.parse(uri), false, ONE_SECOND)) {
                byte[] written = pattern(4096, 6);
                client.write(0, ByteBuffer.wrap(written), false);
                s.server.close();
                try (BlackHole hole = BlackHole.unix(s.socket)) {
                    // The connection is made (queued by the kernel), the server's greeting never comes.
                    long attempt = System.nanoTime();
                    IOException e = assertThrows(IOException.class, () -> read(client, 0, 4096));
                    long gaveUp = System.nanoTime();
                    assertEquals(uri + ": reconnect failed: connecting timed out after 1 s", e.getMessage());
                    assertEquals(Errno.EIO, BlockIoException.errnoOf(e));
                    assertTookTheTimeout(gaveUp - attempt);
                    hole.close();
                    again = new NbdServer(s.dm, NbdServer.Config.unix(s.socket));
                    again.start();
                    // Within a second after the failed attempt: no new one, the same reason at once.
                    long early = System.nanoTime();
                    e = assertThrows(IOException.class, () -> read(client, 0, 4096));
                    assertEquals(uri + ": reconnect failed: connecting timed out after 1 s", e.getMessage());
                    assertTrue(System.nanoTime() - early < 100 * MILLIS);
                    assertEquals(0, again.connectionCount());
                    Thread.sleep(Math.max(0, (gaveUp + 1100 * MILLIS - System.nanoTime()) / MILLIS));
                    assertArrayEquals(written, read(client, 0, 4096));
                }
            } finally {
                if (again != null) {
                    again.close();
                }
            }
        }
    }

    @Test
    void aServerBackWithAnotherSizeIsRefusedAndTheClientStaysFailed() throws Exception {
        Path socket = dir.resolve("nbdkit.sock");
        ExternalServer nbdkit = ExternalServer.nbdkit(socket, "memory", "size=" + SIZE);
        try (NbdClient client = NbdClient.open(NbdUri.parse(nbdkit.uri()), false, ONE_SECOND)) {
            nbdkit.process.destroyForcibly().waitFor();
            ExternalServer smaller = closeAfter(ExternalServer.nbdkit(socket, "memory", "size=" + SIZE / 2));
            String refused = smaller.uri() + ": reconnect failed: the export's size changed from 16777216 to 8388608 bytes: not the same device";
            IOException e = assertThrows(IOException.class, () -> read(client, 0, 4096));
            assertEquals(refused, e.getMessage());
            assertEquals(Errno.EIO, BlockIoException.errnoOf(e));
            assertEquals(SIZE, client.size());
            Thread.sleep(1100);
            assertEquals(refused, assertThrows(IOException.class, () -> read(client, 0, 4096)).getMessage());
        }
    }

    @Test
    void aReconnectReadsTheExportsFlagsAgain() throws Exception {
        Path socket = dir.resolve("nbdkit.sock");
        ExternalServer writable = ExternalServer.nbdkit(socket, "memory", "size=" + SIZE);
        try (NbdClient client = NbdClient.open(NbdUri.parse(writable.uri()), false, ONE_SECOND)) {
            assertFalse(client.isReadOnly());
            assertTrue(client.supportsDiscard());
            writable.process.destroyForcibly().waitFor();
            closeAfter(ExternalServer.nbdkit(socket, "-r", "memory", "size=" + SIZE));
            assertArrayEquals(new byte[4096], read(client, 0, 4096));
            assertTrue(client.isReadOnly());
            assertFalse(client.supportsDiscard());
            assertEquals(Errno.EROFS, BlockIoException.errnoOf(assertThrows(IOException.class,
                    () -> client.write(0, ByteBuffer.allocate(4096), false))));
        }
    }

    @Test
    void closeIsForGoodAndNeverReconnects() throws Exception {
        try (Served s = new Served(dir)) {
            s.linear("disk", SIZE, false);
            NbdClient client = NbdClient.open(NbdUri.parse(s.uri("disk")), false, ONE_SECOND);
            read(client, 0, 4096);
            client.close();
            assertEquals(s.uri("disk") + ": connection lost: closed",
                    assertThrows(IOException.class, () -> read(client, 0, 4096)).getMessage());
            for (int i = 0; i < 200 && s.server.connectionCount() > 0; i++) {
                Thread.sleep(10);
            }
            assertEquals(0, s.server.connectionCount());
        }
    }

    @Test
    void aRequestHeldByASuspendedDeviceTimesOutAndTheNextOneAfterResumeReconnects() throws Exception {
        try (Served s = new Served(dir)) {
            s.linear("disk", SIZE, false);
            try (NbdClient client = NbdClient.open(NbdUri.parse(s.uri("disk")), false, ONE_SECOND)) {
                byte[] written = pattern(4096, 4);
                client.write(0, ByteBuffer.wrap(written), false);
                s.dm.suspend("disk", false);
                long sent = System.nanoTime();
                IOException e = assertThrows(IOException.class, () -> read(client, 0, 4096));
                long took = System.nanoTime() - sent;
                assertEquals(Errno.ETIMEDOUT, BlockIoException.errnoOf(e));
                assertEquals(s.uri("disk") + ": request timed out after 1 s", e.getMessage());
                assertTookTheTimeout(took);
                s.dm.resume("disk");
                assertArrayEquals(written, read(client, 0, 4096));
            }
        }
    }

    @Test
    void aZeroTimeoutWaitsAsLongAsTheServerTakes() throws Exception {
        try (Served s = new Served(dir)) {
            s.linear("disk", SIZE, false);
            try (NbdClient client = NbdClient.open(NbdUri.parse(s.uri("disk")), false, new NbdClient.Options(Duration.ZERO))) {
                byte[] written = pattern(4096, 5);
                client.write(0, ByteBuffer.wrap(written), false);
                s.dm.suspend("disk", false);
                CompletableFuture<byte[]> held = CompletableFuture.supplyAsync(() -> {
                    try {
                        return read(client, 0, 4096);
                    } catch (IOException e) {
                        throw new RuntimeException(e);
                    }
                });
                Thread.sleep(1500);
                assertFalse(held.isDone());
                s.dm.resume("disk");
                assertArrayEquals(written, held.get(5, TimeUnit.SECONDS));
            }
        }
    }

    @Test
    void manyThreadsAcrossAReconnectMakeExactlyOneNewConnection() throws Exception {
        Path socket = dir.resolve("nbdkit.sock");
        ExternalServer first = ExternalServer.nbdkit(socket, "memory", "size=" + SIZE);
        try (NbdClient client = NbdClient.open(NbdUri.parse(first.uri()), false, ONE_SECOND)) {
            int threads = 16;
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong worked = new AtomicLong();
            AtomicLong failed = new AtomicLong();
            CountDownLatch ended = new CountDownLatch(threads);
            for (int t = 0; t < threads; t++) {
                int seed = t;
                Thread.ofPlatform().daemon().start(() -> {
                    SplittableRandom random = new SplittableRandom(seed);
                    ByteBuffer b = ByteBuffer.allocate(4096);
                    while (!stop.get()) {
                        try {
                            client.read(4096L * random.nextInt((int) (SIZE / 4096)), b.clear());
                            worked.incrementAndGet();
                        } catch (IOException e) {
                            failed.incrementAndGet();
                        }
                    }
                    ended.countDown();
                });
            }
            Thread.sleep(200);
            first.process.destroyForcibly().waitFor();
            Thread.sleep(300); // Reconnects fail while nobody listens.
            assertTrue(failed.get() > 0);
            Path log = dir.resolve("nbdkit.log");
            closeAfter(ExternalServer.nbdkit(socket, "--filter=log", "memory", "size=" + SIZE, "logfile=" + log));
            long before = worked.get();
            for (int i = 0; i < 300 && worked.get() < before + 1000; i++) {
                Thread.sleep(10);
            }
            stop.set(true);
            assertTrue(ended.await(10, TimeUnit.SECONDS));
            assertTrue(worked.get() >= before + 1000, "reads after the restart: " + (worked.get() - before));
            // nbdkit logs every handshake done (the readiness probes of ExternalServer do none).
            long connected = Files.readAllLines(log).stream().filter(l -> l.matches(".* connection=\\d+ Connect .*")).count();
            assertEquals(1, connected, Files.readString(log));
        }
    }

    @Test
    void connectingToAServerThatNeverAcceptsTimesOut() throws Exception {
        try (var blackHole = BlackHole.tcp()) {
            long start = System.nanoTime();
            NbdUri uri = NbdUri.parse("nbd://127.0.0.1:" + blackHole.port() + "/disk");
            IOException e = assertThrows(IOException.class, () -> NbdClient.open(uri, false, ONE_SECOND));
            long took = System.nanoTime() - start;
            assertEquals(Errno.ETIMEDOUT, BlockIoException.errnoOf(e));
            assertEquals(uri + ": connecting timed out after 1 s", e.getMessage());
            assertTookTheTimeout(took);
        }
    }

    @Test
    void tablesOpenTheirNbdDevicesWithTheProcessWideDefaultOptions() throws Exception {
        NbdClient.Options before = NbdBackingProvider.defaultOptions();
        NbdBackingProvider.defaultOptions(ONE_SECOND);
        ExternalServer nbdkit = ExternalServer.nbdkit(dir.resolve("nbdkit.sock"), "memory", "size=" + SIZE);
        try (nbdkit; DeviceMapper local = DeviceMapper.create()) {
            local.create("over", null, "0 " + SIZE / 512 + " linear " + nbdkit.uri() + " 0", false);
            nbdkit.signal("STOP");
            long sent = System.nanoTime();
            IOException e = assertThrows(IOException.class, () -> local.device("over").read(0, ByteBuffer.allocate(4096)));
            long took = System.nanoTime() - sent;
            nbdkit.signal("CONT");
            assertEquals(Errno.ETIMEDOUT, BlockIoException.errnoOf(e));
            assertEquals(nbdkit.uri() + ": request timed out after 1 s", e.getMessage());
            assertTookTheTimeout(took);
        } finally {
            NbdBackingProvider.defaultOptions(before);
        }
    }

    @Test
    void optionsRefuseANegativeTimeout() {
        assertEquals(Duration.ofSeconds(30), NbdClient.Options.defaults().timeout());
        assertEquals("an NBD timeout cannot be negative: PT-1S",
                assertThrows(IllegalArgumentException.class, () -> new NbdClient.Options(Duration.ofSeconds(-1))).getMessage());
    }
}
