package dev.jdm.cli;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A daemon process started with the real {@code ./jdm daemon}, and commands run against it (any command line). */
final class JdmSession implements AutoCloseable {
    static final Path REPO = Path.of(System.getenv("JDM_BUILD_DIR")).toAbsolutePath().getParent().getParent();
    static final Path LAUNCHER = REPO.resolve("jdm");

    record Result(int exit, String out, String err) {
    }

    final Path dir;
    final Path data;
    final Path socket;
    private final Process daemon;

    /** Starts {@code jdm daemon --data-dir DIR/data OPTIONS...} and waits until its control socket answers. */
    JdmSession(Path dir, String... daemonOptions) throws Exception {
        this(dir, UnaryOperator.identity(), daemonOptions);
    }

    /**
     * The same daemon started through {@code launch}, which gets the command line and returns the one to run: e.g. on
     * another host of a {@link NetnsRig} ({@link NetnsRig.Host#command}; the control socket is a file, so the CLI
     * reaches it from here).
     */
    JdmSession(Path dir, UnaryOperator<List<String>> launch, String... daemonOptions) throws Exception {
        this.dir = dir;
        this.data = dir.resolve("data");
        this.socket = data.resolve("jdm.sock");
        List<String> cmd = new ArrayList<>(List.of(LAUNCHER.toString(), "daemon", "--data-dir", data.toString()));
        cmd.addAll(List.of(daemonOptions));
        ProcessBuilder pb = new ProcessBuilder(launch.apply(cmd)).redirectOutput(dir.resolve("daemon.out").toFile())
                .redirectError(ProcessBuilder.Redirect.appendTo(dir.resolve("daemon.log").toFile()));
        pb.environment().put("JDM_SOCKET", socket.toString());
        pb.environment().put("LC_ALL", "C");
        daemon = pb.start();
        // Starting a JVM takes a while on a busy machine; wait for the socket to answer, however long. The daemon
        // opens its control socket last (after its devices and exports), and a connect costs no process, as a
        // CLI command would: tests that restart daemons many times start them in about a second.
        while (!answers(socket)) {
            assertTrue(daemon.isAlive(), () -> "the daemon died: " + daemonLog());
            Thread.sleep(50);
        }
    }

    private static boolean answers(Path socket) {
        try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** A sparse file of {@code bytes} in the session's folder. */
    Path image(String name, long bytes) throws IOException {
        Path p = dir.resolve(name);
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(bytes);
        }
        return p;
    }

    /** The NBD URI of one of this daemon's exports on its Unix socket. */
    String nbdUri(String export) {
        return "nbd+unix:///" + export + "?socket=" + data.resolve("nbd.sock");
    }

    String daemonLog() {
        return read(dir.resolve("daemon.log"));
    }

    /** {@code ./jdm ARGS...} against this daemon. */
    Result jdm(String... args) throws IOException, InterruptedException {
        return jdmWithInput(null, args);
    }

    Result jdmWithInput(String stdin, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(LAUNCHER.toString()));
        cmd.addAll(List.of(args));
        return exec(stdin, cmd);
    }

    /** Any command, in the session's folder, with the session's JDM_SOCKET. */
    Result exec(String stdin, List<String> cmd) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile());
        pb.environment().put("JDM_SOCKET", socket.toString());
        pb.environment().put("LC_ALL", "C");
        Path out = Files.createTempFile(dir, "out", ".txt");
        Path err = Files.createTempFile(dir, "err", ".txt");
        pb.redirectOutput(out.toFile()).redirectError(err.toFile());
        Process p = pb.start();
        if (stdin != null) {
            p.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
        }
        p.getOutputStream().close();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), String.join(" ", cmd) + " did not finish");
        Result r = new Result(p.exitValue(), read(out), read(err));
        Files.delete(out);
        Files.delete(err);
        return r;
    }

    /** Runs a command that must succeed with nothing on stderr; its stdout. */
    String ok(String... cmd) throws IOException, InterruptedException {
        Result r = cmd[0].equals("jdm") ? jdm(List.of(cmd).subList(1, cmd.length).toArray(String[]::new)) : exec(null, List.of(cmd));
        assertEquals(new Result(0, r.out(), ""), r, String.join(" ", cmd));
        return r.out();
    }

    static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            return "(unreadable: " + e.getMessage() + ")";
        }
    }

    /** SIGTERM, as a user stops the daemon (it detaches what it attached); its exit code. */
    int stop() throws InterruptedException {
        daemon.destroy();
        assertTrue(daemon.waitFor(60, TimeUnit.SECONDS), "the daemon did not stop on SIGTERM");
        return daemon.exitValue();
    }

    /** kill -9: the daemon gets no chance to clean up; its exit code. */
    int kill() throws InterruptedException {
        daemon.destroyForcibly();
        assertTrue(daemon.waitFor(60, TimeUnit.SECONDS), "the daemon did not die on SIGKILL");
        return daemon.exitValue();
    }

    @Override
    public void close() throws InterruptedException {
        if (daemon.isAlive()) {
            daemon.destroy();
            if (!daemon.waitFor(60, TimeUnit.SECONDS)) {
                daemon.destroyForcibly();
            }
        }
    }
}
