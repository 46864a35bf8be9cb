package dev.jdm.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code jdm daemon --nbd-timeout}: the limit the daemon's tables put on their NBD backing devices. */
class DaemonNbdTimeoutIT {
    @TempDir
    Path dir;

    @Test
    void aTableOverAPausedNbdServerFailsWithinTheTimeoutAndWorksAgainOnceItResumes() throws Exception {
        Tools.require("nbdkit", "nbdkit");
        Tools.require("nbdcopy", "libnbd-bin");
        Path remote = dir.resolve("remote.sock");
        Path pause = dir.resolve("pause.sock");
        // The pause filter holds requests but not handshakes (a frozen nbdkit 1.32 may abort when it thaws and
        // finds a handshake that timed out gone).
        Process nbdkit = new ProcessBuilder("nbdkit", "-f", "--exit-with-parent", "-U", remote.toString(), "--filter=pause",
                "memory", "size=4M", "pause-control=" + pause)
                .redirectErrorStream(true).redirectOutput(dir.resolve("nbdkit.log").toFile()).start();
        try (JdmSession s = new JdmSession(dir, "--no-nbd-tcp", "--nbd-timeout", "1")) {
            awaitListening(remote);
            s.ok("jdm", "create", "remote", "--table", "0 8192 linear nbd+unix:///?socket=" + remote + " 0");
            String export = s.nbdUri("remote");
            String copy = dir.resolve("copy.bin").toString();
            s.ok("nbdcopy", export, copy);

            control(pause, 'p');
            long start = System.nanoTime();
            JdmSession.Result paused = s.exec(null, List.of("nbdcopy", export, copy));
            long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertNotEquals(0, paused.exit(), paused.toString());
            // The kernel's default of 30 s would still hold it here.
            assertTrue(took < 10_000, took + " ms");

            control(pause, 'r');
            assertEquals(0, s.exec(null, List.of("nbdcopy", export, copy)).exit());
        } finally {
            nbdkit.destroyForcibly().waitFor();
        }
    }

    @Test
    void aNegativeTimeoutIsRefusedAndHelpNamesTheOption() throws Exception {
        try (JdmSession s = new JdmSession(dir, "--no-nbd-tcp")) {
            JdmSession.Result refused = s.jdm("daemon", "--data-dir", dir.resolve("other").toString(), "--nbd-timeout", "-1");
            assertEquals(2, refused.exit());
            assertTrue(refused.err().startsWith("--nbd-timeout must be 0 or more seconds, not -1\nUsage: jdm daemon"), refused.err());
            String help = s.jdm("daemon", "--help").out();
            assertTrue(help.contains("--nbd-timeout=SECONDS"), help);
        }
    }

    private static void awaitListening(Path socket) throws InterruptedException {
        for (int i = 0; i < 500; i++) {
            try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
                return;
            } catch (IOException e) {
                Thread.sleep(10);
            }
        }
        throw new AssertionError("nbdkit did not listen on " + socket);
    }

    /** Sends a command to nbdkit's pause filter ('p' pause, 'r' resume) and waits for its answer (the same in capitals). */
    private static void control(Path socket, char command) throws IOException {
        try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            c.write(ByteBuffer.wrap(new byte[]{(byte) command}));
            ByteBuffer answer = ByteBuffer.allocate(1);
            while (answer.hasRemaining() && c.read(answer) >= 0) {
                // One byte is all it sends.
            }
            assertEquals(Character.toUpperCase(command), (char) answer.get(0));
        }
    }
}
