package dev.jdm.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
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
    void aTableOverAFrozenNbdServerFailsWithinTheTimeoutAndWorksAgainOnceItThaws() throws Exception {
        Tools.require("nbdkit", "nbdkit");
        Tools.require("nbdcopy", "libnbd-bin");
        Path remote = dir.resolve("remote.sock");
        Process nbdkit = new ProcessBuilder("nbdkit", "-f", "--exit-with-parent", "-U", remote.toString(), "memory", "size=4M")
                .redirectErrorStream(true).redirectOutput(dir.resolve("nbdkit.log").toFile()).start();
        try (JdmSession s = new JdmSession(dir, "--no-nbd-tcp", "--nbd-timeout", "1")) {
            awaitListening(remote);
            s.ok("jdm", "create", "remote", "--table", "0 8192 linear nbd+unix:///?socket=" + remote + " 0");
            String export = s.nbdUri("remote");
            String copy = dir.resolve("copy.bin").toString();
            s.ok("nbdcopy", export, copy);

            signal(nbdkit, "STOP");
            long start = System.nanoTime();
            JdmSession.Result frozen = s.exec(null, List.of("nbdcopy", export, copy));
            long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertNotEquals(0, frozen.exit(), frozen.toString());
            // The kernel's default of 30 s would still hold it here.
            assertTrue(took < 10_000, took + " ms");

            signal(nbdkit, "CONT");
            // Reconnects are tried at most once a second after a failed one (which the frozen copy may have caused).
            JdmSession.Result thawed = null;
            for (int i = 0; i < 5 && (thawed == null || thawed.exit() != 0); i++) {
                Thread.sleep(1100);
                thawed = s.exec(null, List.of("nbdcopy", export, copy));
            }
            assertEquals(0, thawed.exit(), thawed.toString());
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

    private static void signal(Process p, String name) throws IOException, InterruptedException {
        assertEquals(0, new ProcessBuilder("kill", "-" + name, Long.toString(p.pid())).start().waitFor());
    }
}
