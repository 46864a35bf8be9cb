package dev.jdm.nbd;

import dev.jdm.core.testing.ExternalTools;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** nbdkit or qemu-nbd serving on a Unix socket for the length of a test. */
final class ExternalServer implements AutoCloseable {
    final Process process;
    final Path socket;
    final String export;

    private ExternalServer(List<String> command, Path socket, String export) throws IOException, InterruptedException {
        this.socket = socket;
        this.export = export;
        this.process = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(socket.resolveSibling(socket.getFileName() + ".log").toFile()).start();
        // The socket file appears at bind, a moment before the server listens: wait until it accepts.
        for (int i = 0; i < 500 && !accepts(socket); i++) {
            if (!process.isAlive()) {
                throw new IOException(String.join(" ", command) + " exited with " + process.exitValue() + ": "
                        + Files.readString(socket.resolveSibling(socket.getFileName() + ".log")));
            }
            Thread.sleep(10);
        }
        if (!accepts(socket)) {
            close();
            throw new IOException(String.join(" ", command) + " did not listen on " + socket);
        }
    }

    private static boolean accepts(Path socket) {
        try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** nbdkit with a plugin and its parameters, in the foreground, serving every export name. */
    static ExternalServer nbdkit(Path socket, String... pluginAndParams) throws IOException, InterruptedException {
        Files.deleteIfExists(socket); // Left by a killed nbdkit, which would refuse to bind over it.
        List<String> cmd = new ArrayList<>(List.of(ExternalTools.requireTool("nbdkit", "nbdkit"), "-f", "--exit-with-parent", "-U", socket.toString()));
        cmd.addAll(List.of(pluginAndParams));
        return new ExternalServer(cmd, socket, "");
    }

    /** qemu-nbd on a raw file under the export name {@code disk}, for several clients in turn. */
    static ExternalServer qemuNbd(Path socket, Path file) throws IOException, InterruptedException {
        return new ExternalServer(List.of(ExternalTools.requireTool("qemu-nbd", "qemu-utils"), "--persistent", "--shared=8",
                "-f", "raw", "-x", "disk", "-k", socket.toString(), file.toString()), socket, "disk");
    }

    /** Sends a signal (STOP, CONT, ...) to the server, as a hung or frozen server would behave. */
    void signal(String name) throws IOException, InterruptedException {
        Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(process.pid())).inheritIO().start();
        if (kill.waitFor() != 0) {
            throw new IOException("kill -" + name + " " + process.pid() + " failed");
        }
    }

    String uri() {
        return "nbd+unix:///" + export + "?socket=" + socket;
    }

    @Override
    public void close() {
        process.destroy();
        try {
            // nbdkit waits for its clients on SIGTERM, and a stopped one handles no signal but SIGKILL.
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
