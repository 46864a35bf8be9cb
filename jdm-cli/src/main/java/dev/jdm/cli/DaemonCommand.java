package dev.jdm.cli;

import dev.jdm.daemon.JdmDaemon;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code jdm daemon}: runs the daemon in the foreground until SIGTERM or SIGINT. */
@Command(name = "daemon", description = {
        "Runs the jdm daemon in the foreground (until SIGTERM or SIGINT).",
        "It restores the devices of the state folder (on the first start it creates disk0, a sparse 1 GiB",
        "file DATA/disk0.img mapped by a linear table) and serves the control socket."})
final class DaemonCommand implements Callable<Integer> {
    @ParentCommand
    JdmCommand root;

    @Option(names = "--data-dir", paramLabel = "DIR", description = "The data folder (default: ./data).")
    Path dataDir = Path.of("data");

    @Option(names = "--state-dir", paramLabel = "DIR", description = "The state folder (default: DATA/state).")
    Path stateDir;

    @Override
    public Integer call() throws Exception {
        JdmDaemon.Config config = JdmDaemon.Config.defaults(dataDir);
        String envSocket = System.getenv(JdmCommand.SOCKET_ENV);
        if (root.socket != null || (envSocket != null && !envSocket.isEmpty())) {
            // The same socket the CLI would look for: --socket, else $JDM_SOCKET.
            config = config.withSocket(root.socket());
        }
        if (stateDir != null) {
            config = config.withStateDir(stateDir);
        }
        try {
            // The export servers (NBD) the daemon starts; none are wired in yet.
            List<JdmDaemon.Export> exports = List.of();
            JdmDaemon.runUntilStopped(config, exports);
        } catch (IOException e) {
            System.err.println("jdm: daemon failed: " + e.getMessage());
            return 1;
        }
        return 0;
    }
}
