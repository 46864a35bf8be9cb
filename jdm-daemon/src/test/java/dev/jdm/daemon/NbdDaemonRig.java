package dev.jdm.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jdm.nbd.NbdClient;
import dev.jdm.nbd.NbdUri;

import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A daemon on a data folder, its control socket and its NBD exports by device name, for tests that kill or stop
 * it and start the next one on the same folder. The daemon runs in a process of its own ({@link NbdDaemonProcess})
 * unless made {@link #inThisJvm}, which starts in a few milliseconds instead of a second but cannot be killed.
 */
final class NbdDaemonRig implements AutoCloseable {
    private final Path data;
    private final boolean ownProcess;
    private final Map<String, NbdClient> exports = new HashMap<>();
    private Process daemon;
    private Process spare;
    private JdmDaemon inJvm;

    NbdDaemonRig(Path data) {
        this(data, true);
    }

    private NbdDaemonRig(Path data, boolean ownProcess) {
        this.data = data;
        this.ownProcess = ownProcess;
    }

    /** A rig whose daemon runs in this JVM: {@link #terminate} closes it as the SIGTERM hook does. */
    static NbdDaemonRig inThisJvm(Path data) {
        return new NbdDaemonRig(data, false);
    }

    /** Where the daemon keeps its device files ({@link JdmDaemon.Config#defaults}). */
    Path stateDir() {
        return JdmDaemon.Config.defaults(data).stateDir();
    }

    /**
     * Starts a daemon on the folder: a spare process that warmed up while the last daemon ran, told to go; the
     * next spare starts warming up at once.
     */
    void start() throws IOException {
        if (!ownProcess) {
            inJvm = NbdDaemonProcess.start(data);
            return;
        }
        daemon = spare != null ? spare : spare();
        daemon.outputWriter().write("go\n");
        daemon.outputWriter().flush();
        String line = daemon.inputReader().readLine();
        assertEquals("ready", line, "the daemon did not start");
        spare = spare();
    }

    private Process spare() throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        return new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
                "-cp", System.getProperty("java.class.path"), NbdDaemonProcess.class.getName(), data.toString(), "--spare")
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    }

    /** kill -9, then drop the connections to it. */
    void kill() throws InterruptedException {
        stop(true);
    }

    /** SIGTERM: the daemon closes its devices and exits. */
    void terminate() throws InterruptedException, IOException {
        if (!ownProcess) {
            closeExports();
            inJvm.close();
            return;
        }
        stop(false);
    }

    private void stop(boolean forcibly) throws InterruptedException {
        if (forcibly) {
            daemon.destroyForcibly();
        } else {
            daemon.destroy();
        }
        assertTrue(daemon.waitFor(30, TimeUnit.SECONDS), "the daemon did not end");
        if (!forcibly) {
            assertEquals(143, daemon.exitValue(), "exit status after SIGTERM");
        }
        closeExports();
    }

    JsonNode call(ObjectNode request) throws IOException, ControlException {
        try (ControlClient c = ControlClient.connect(data.resolve("jdm.sock"))) {
            return c.call(request);
        }
    }

    /** The params of the first target of the device's status. */
    String status(String name) throws IOException, ControlException {
        return call(ControlClient.request("status").put("name", name)).path("targets").get(0).path("params").asText();
    }

    NbdClient export(String name) throws IOException {
        NbdClient e = exports.get(name);
        if (e == null) {
            e = NbdClient.open(NbdUri.parse("nbd+unix:///" + name + "?socket=" + data.resolve("nbd.sock")), false);
            exports.put(name, e);
        }
        return e;
    }

    void closeExport(String name) throws IOException {
        NbdClient e = exports.remove(name);
        if (e != null) {
            e.close();
        }
    }

    private void closeExports() {
        for (NbdClient e : exports.values()) {
            try {
                e.close();
            } catch (IOException ignored) {
                // the server is gone: nothing to close cleanly
            }
        }
        exports.clear();
    }

    @Override
    public void close() throws IOException {
        closeExports();
        for (Process p : new Process[]{daemon, spare}) {
            if (p != null) {
                p.destroyForcibly();
            }
        }
        if (inJvm != null) {
            inJvm.close();
        }
    }
}
