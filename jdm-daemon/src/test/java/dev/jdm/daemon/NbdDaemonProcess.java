package dev.jdm.daemon;

import dev.jdm.nbd.NbdServer;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;

/**
 * A daemon in a process of its own that serves its devices over NBD on {@code DATA/nbd.sock}, as
 * {@code jdm daemon} does, for crash tests that do their I/O through NBD. Prints {@code ready} once the
 * control socket and the NBD socket are up, then runs until killed; SIGTERM closes the daemon first, as
 * {@code jdm daemon} does.
 */
public final class NbdDaemonProcess {
    private NbdDaemonProcess() {
    }

    public static void main(String[] args) throws Exception {
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
