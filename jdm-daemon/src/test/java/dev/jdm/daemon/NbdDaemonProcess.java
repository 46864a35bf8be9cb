package dev.jdm.daemon;

import dev.jdm.nbd.NbdServer;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * A daemon in a process of its own that serves its devices over NBD on {@code DATA/nbd.sock}, as
 * {@code jdm daemon} does, for crash tests that do their I/O through NBD. Prints {@code ready} once the
 * control socket and the NBD socket are up, then runs until killed; SIGTERM closes the daemon first, as
 * {@code jdm daemon} does. With {@code --spare} it first warms up on a folder of its own (a daemon started and
 * closed there) and waits for a line on standard input, so a test that kills daemons has the next one ready.
 */
public final class NbdDaemonProcess {
    private NbdDaemonProcess() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length > 1 && args[1].equals("--spare")) {
            warmUp();
            new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
        }
        JdmDaemon daemon = start(Path.of(args[0]));
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                daemon.close();
            } catch (IOException e) {
                System.err.println("jdm daemon: shutdown: " + e.getMessage());
            }
        }));
        System.out.println("ready");
        Thread.sleep(Long.MAX_VALUE);
    }

    /** Loads and runs what a start runs (engine, targets, state folder, NBD and control servers), then cleans up. */
    private static void warmUp() throws IOException {
        Path scratch = Files.createTempDirectory("jdm-spare");
        try {
            start(scratch).close();
        } finally {
            try (Stream<Path> all = Files.walk(scratch)) {
                for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
    }

    /** A daemon on {@code data} serving its devices over NBD on {@code data/nbd.sock}. */
    static JdmDaemon start(Path data) throws IOException {
        JdmDaemon.Export nbd = dm -> {
            NbdServer server = new NbdServer(dm, NbdServer.Config.unix(data.resolve("nbd.sock")));
            server.start();
            return server;
        };
        return JdmDaemon.start(JdmDaemon.Config.defaults(data), new PrintStream(OutputStream.nullOutputStream()), List.of(nbd));
    }
}
