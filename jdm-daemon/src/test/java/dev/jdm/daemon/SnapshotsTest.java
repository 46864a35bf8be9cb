package dev.jdm.daemon;

import dev.jdm.core.Errno;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.TargetLine;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Snapshots} against a real engine behind a real control socket, with a relay in between that
 * refuses one chosen request: each step of create and of a merge's start fails in turn, and each
 * time the origin must be left on its old table, resumed, with its data, taking writes.
 */
class SnapshotsTest {
    static final int ORIGIN_BYTES = 1 << 20;

    @TempDir
    Path dir;
    DeviceMapper dm;
    ControlServer server;
    FailingRelay relay;
    Path cow;
    byte[] data;

    /** Passes request lines on to the daemon, except the n-th since {@link #failRequest}, which it answers with EIO itself. */
    static final class FailingRelay implements AutoCloseable {
        private final ServerSocketChannel listener;
        private final Path daemon;
        private final AtomicInteger seen = new AtomicInteger();
        private volatile int failAt;
        final List<String> failed = new ArrayList<>();

        FailingRelay(Path socket, Path daemon) throws IOException {
            this.daemon = daemon;
            listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX).bind(UnixDomainSocketAddress.of(socket));
            Thread.ofVirtual().start(this::accept);
        }

        void failRequest(int n) {
            seen.set(0);
            failAt = n;
        }

        int requestsSeen() {
            return seen.get();
        }

        private void accept() {
            try {
                while (true) {
                    SocketChannel client = listener.accept();
                    Thread.ofVirtual().start(() -> relay(client));
                }
            } catch (IOException e) {
                // Closed.
            }
        }

        private void relay(SocketChannel client) {
            try (client; SocketChannel upstream = SocketChannel.open(UnixDomainSocketAddress.of(daemon))) {
                BufferedReader fromClient = new BufferedReader(Channels.newReader(client, StandardCharsets.UTF_8));
                BufferedReader fromDaemon = new BufferedReader(Channels.newReader(upstream, StandardCharsets.UTF_8));
                OutputStream toClient = Channels.newOutputStream(client);
                OutputStream toDaemon = Channels.newOutputStream(upstream);
                for (String line; (line = fromClient.readLine()) != null; ) {
                    String reply;
                    if (seen.incrementAndGet() == failAt) {
                        synchronized (failed) {
                            failed.add(line);
                        }
                        reply = Protocol.error(Errno.EIO, "injected failure").toString();
                    } else {
                        toDaemon.write((line + "\n").getBytes(StandardCharsets.UTF_8));
                        reply = fromDaemon.readLine();
                    }
                    toClient.write((reply + "\n").getBytes(StandardCharsets.UTF_8));
                }
            } catch (IOException e) {
                // The client went.
            }
        }

        @Override
        public void close() throws IOException {
            listener.close();
        }
    }

    @BeforeEach
    void start() throws Exception {
        Path vol = dir.resolve("vol.img");
        data = new byte[ORIGIN_BYTES];
        new Random(7).nextBytes(data);
        Files.write(vol, data);
        cow = dir.resolve("cow.img");
        Files.write(cow, new byte[ORIGIN_BYTES]);
        dm = DeviceMapper.create();
        dm.create("vol", null, "0 2048 linear " + vol + " 0", false);
        server = ControlServer.start(dir.resolve("jdm.sock"), new ControlService(dm, "test"));
        relay = new FailingRelay(dir.resolve("relay.sock"), dir.resolve("jdm.sock"));
    }

    @AfterEach
    void stop() throws Exception {
        relay.close();
        server.close();
        dm.close();
    }

    private <T> T withSnapshots(Action<T> action) throws Exception {
        try (ControlClient client = ControlClient.connect(dir.resolve("relay.sock"))) {
            return action.run(new Snapshots(client));
        }
    }

    @FunctionalInterface
    interface Action<T> {
        T run(Snapshots snapshots) throws Exception;
    }

    /** Every device's live and inactive table, and whether it is suspended. */
    private String tables() throws Exception {
        StringBuilder s = new StringBuilder();
        for (var info : dm.list()) {
            s.append(info.name()).append(info.suspended() ? " suspended" : "").append(": ");
            for (TargetLine l : dm.table(info.name(), false)) {
                s.append(l.type()).append(' ').append(l.params()).append("; ");
            }
            s.append(info.inactiveTable() ? "+inactive" : "").append('\n');
        }
        return s.toString();
    }

    private byte[] readVol() throws IOException, Exception {
        ByteBuffer b = ByteBuffer.allocate(ORIGIN_BYTES);
        dm.device("vol").read(0, b);
        return b.array();
    }

    private void writeVol(int offset, int length, int value) throws Exception {
        byte[] b = new byte[length];
        Arrays.fill(b, (byte) value);
        dm.device("vol").write(offset, ByteBuffer.wrap(b), true);
        Arrays.fill(data, offset, offset + length, (byte) value);
    }

    @Test
    void aFailureAtEveryStepOfCreateLeavesTheOriginAsItWas() throws Exception {
        String before = tables();
        // A run through counts the requests; then each one fails in turn.
        relay.failRequest(0);
        withSnapshots(s -> {
            s.create("vol", "s1", cow, 8, "P");
            return null;
        });
        int steps = relay.requestsSeen();
        withSnapshots(s -> {
            s.remove("s1");
            return null;
        });
        assertEquals(before, tables());

        List<String> failedOps = new ArrayList<>();
        for (int n = 1; n <= steps; n++) {
            relay.failRequest(n);
            ControlException e = assertThrows(ControlException.class, () -> withSnapshots(s -> {
                s.create("vol", "s1", cow, 8, "P");
                return null;
            }), "request " + n);
            assertTrue(e.getMessage().endsWith("injected failure"), e.getMessage());
            failedOps.add(e.getMessage().replaceFirst(":? ?injected failure$", ""));
            assertEquals(before, tables(), "after a failure at " + relay.failed.getLast());
            assertArrayEquals(data, readVol(), "after a failure at " + relay.failed.getLast());
            writeVol(n * 4096, 4096, n);
            assertArrayEquals(data, readVol(), "vol takes writes after a failure at " + relay.failed.getLast());
        }
        // The look at the devices, then each step of the dance.
        assertEquals(List.of("", "table vol", "create vol-real", "create s1-cow", "create s1", "load s1", "load vol",
                "suspend vol", "resume s1", "resume vol"), failedOps);
    }

    @Test
    void aFailureAtEveryStepOfAMergesStartLeavesOriginAndSnapshotServing() throws Exception {
        withSnapshots(s -> {
            s.create("vol", "s1", cow, 8, "P");
            return null;
        });
        byte[] atSnapshot = data.clone();
        writeVol(0, 65536, 0xee);
        String before = tables();

        List<String> failedOps = new ArrayList<>();
        for (int n = 1; ; n++) {
            relay.failRequest(n);
            try {
                withSnapshots(s -> s.startMerge("s1"));
                break;
            } catch (ControlException e) {
                assertTrue(e.getMessage().endsWith("injected failure"), e.getMessage());
                failedOps.add(e.getMessage().replaceFirst(":? ?injected failure$", ""));
            }
            if (failedOps.getLast().equals("remove s1")) {
                break;
            }
            assertEquals(before, tables(), "after a failure at " + relay.failed.getLast());
            assertArrayEquals(data, readVol());
            ByteBuffer snap = ByteBuffer.allocate(ORIGIN_BYTES);
            dm.device("s1").read(0, snap);
            assertArrayEquals(atSnapshot, snap.array(), "the snapshot still shows its point in time");
        }
        // The last step, the snapshot device's removal, fails after the merge runs: reported, and the merge goes on;
        // merge again removes the suspended snapshot left behind and finishes.
        assertEquals(List.of("", "table s1", "table s1-cow", "table vol", "table vol-real", "status s1", "load vol",
                "suspend vol", "suspend s1", "resume vol", "remove s1"), failedOps);
        assertTrue(tables().contains("s1 suspended"), tables());
        relay.failRequest(0);
        withSnapshots(s -> {
            s.finishMerge(s.startMerge("s1"), total -> { }, merged -> { });
            return null;
        });
        assertEquals("vol: linear " + dir.resolve("vol.img") + " 0; \n", tables());
        assertArrayEquals(atSnapshot, readVol(), "merged: vol is back at the snapshot's point in time");
    }
}
