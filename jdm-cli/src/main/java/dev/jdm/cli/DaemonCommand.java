package dev.jdm.cli;

import dev.jdm.daemon.Attachments;
import dev.jdm.daemon.JdmDaemon;
import dev.jdm.daemon.multipath.Failback;
import dev.jdm.daemon.multipath.PathChecker;
import dev.jdm.nbd.NbdBackingProvider;
import dev.jdm.nbd.NbdClient;
import dev.jdm.nbd.NbdServer;
import dev.jdm.targets.multipath.MultipathQueueTimeout;
import dev.jdm.targets.snapshot.SnapshotCopyThrottle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.ParentCommand;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code jdm daemon}: runs the daemon in the foreground until SIGTERM or SIGINT. */
@Command(name = "daemon", description = {
        "Runs the jdm daemon in the foreground (until SIGTERM or SIGINT).",
        "It restores the devices of the state folder (on the first start it creates disk0, a sparse 1 GiB"
                + " file DATA/disk0.img mapped by a linear table), serves the control socket, and exports every"
                + " device over NBD under its name (Unix socket DATA/nbd.sock and TCP 127.0.0.1:10809)."})
final class DaemonCommand implements Callable<Integer> {
    @ParentCommand
    JdmCommand root;

    @Option(names = "--data-dir", paramLabel = "DIR", description = "The data folder (default: ./data).")
    Path dataDir = Path.of("data");

    @Option(names = "--state-dir", paramLabel = "DIR", description = "The state folder (default: DATA/state).")
    Path stateDir;

    @Option(names = "--nbd-socket", paramLabel = "PATH", description = "The NBD Unix socket (default: DATA/nbd.sock).")
    Path nbdSocket;

    @Option(names = "--nbd-port", paramLabel = "N", description = "The NBD TCP port (default: 10809; 0 = no TCP listener).")
    int nbdPort = 10809;

    @Option(names = "--no-nbd-tcp", description = "No NBD TCP listener (the Unix socket only).")
    boolean noNbdTcp;

    @Option(names = "--nbd-host", paramLabel = "ADDR",
            description = "The address the NBD TCP listener binds (default: 127.0.0.1; others only when asked).")
    String nbdHost;

    @Option(names = "--tls", paramLabel = "off|on|require",
            description = "NBD TLS, as nbdkit --tls: off (default), on (offered), require (refused without).")
    NbdServer.TlsMode tls = NbdServer.TlsMode.OFF;

    @Option(names = "--tls-key", paramLabel = "PEM", description = "The TLS private key (unencrypted PKCS#8 PEM).")
    Path tlsKey;

    @Option(names = "--tls-cert", paramLabel = "PEM", description = "The TLS certificate chain (PEM).")
    Path tlsCert;

    @Option(names = "--snapshot-copy-throttle", paramLabel = "PERCENT",
            description = "The share of time (0-100) snapshot copies and merges may keep I/O in flight, as the kernel's"
                    + " dm_snapshot snapshot_copy_throttle (default: 100, unthrottled).")
    int snapshotCopyThrottle = 100;

    @Option(names = "--nbd-timeout", paramLabel = "SECONDS",
            description = "How long a table's NBD backing device (nbd://, nbd+unix://) may take to connect or to answer a"
                    + " request before it fails (ETIMEDOUT) and reconnects on the next one, as the kernel's nbd timeout"
                    + " (default: 30; 0 = no limit).")
    int nbdTimeout = 30;

    // multipathd's role: the path checker (see docs/multipath.md).
    @Option(names = "--path-check-interval", paramLabel = "SECONDS",
            description = "How often every path of every multipath device is checked, as multipath.conf's polling_interval"
                    + " (default: 5).")
    int pathCheckInterval = 5;

    @Option(names = "--path-check-timeout", paramLabel = "SECONDS",
            description = "How long a path's check (a 4 KiB read at offset 0) may take before the path counts as failed,"
                    + " as multipath.conf's checker_timeout (default: 30).")
    int pathCheckTimeout = 30;

    @Option(names = "--failback", paramLabel = "immediate|manual|followover|SECONDS",
            description = "When the checker switches a multipath device back to its first group with a usable path, as"
                    + " multipath.conf's failback: at once, never (default: manual), only when the first path of the group"
                    + " comes back, or that many seconds after a path came back.")
    String failback = "manual";

    @Option(names = "--no-path-timeout", paramLabel = "SECONDS",
            description = "How long a multipath device with queue_if_no_path keeps I/O waiting while no path is usable"
                    + " before failing it, as the kernel's dm_multipath queue_if_no_path_timeout_secs (default: 0,"
                    + " forever).")
    int noPathTimeout;

    @Spec
    CommandSpec spec;

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
        if (tls != NbdServer.TlsMode.OFF && (tlsKey == null || tlsCert == null)) {
            throw new ParameterException(spec.commandLine(), "--tls " + tls.name().toLowerCase(Locale.ROOT) + " needs --tls-key and --tls-cert");
        }
        SnapshotCopyThrottle.percent(checked("--snapshot-copy-throttle", snapshotCopyThrottle, 0, 100, "0..100"));
        NbdBackingProvider.defaultOptions(new NbdClient.Options(Duration.ofSeconds(
                checked("--nbd-timeout", nbdTimeout, 0, Integer.MAX_VALUE, "0 or more seconds"))));
        config = config.withPathChecking(pathChecking());
        MultipathQueueTimeout.seconds(checked("--no-path-timeout", noPathTimeout, 0, Integer.MAX_VALUE, "0 or more"));
        checked("--nbd-port", nbdPort, 0, 65535, "0..65535");
        Path nbdUnix = (nbdSocket != null ? nbdSocket : dataDir.resolve("nbd.sock")).toAbsolutePath();
        boolean tcp = !noNbdTcp && nbdPort != 0;
        NbdServer.Config nbd = NbdServer.Config.unix(nbdUnix).withTcp(nbdHost, tcp ? nbdPort : -1).withTls(tls, tlsKey, tlsCert);
        JdmDaemon.Export nbdExport = dm -> {
            NbdServer server = new NbdServer(dm, nbd);
            server.start();
            System.err.println("jdm daemon: NBD on " + nbdUnix + (tcp ? " and " + server.tcpAddress() : "")
                    + (tls == NbdServer.TlsMode.OFF ? "" : ", TLS " + tls.name().toLowerCase(Locale.ROOT)));
            return server;
        };
        Attachments attachments = new Attachments(nbdUnix, dataDir.resolve("attach"), System.err);
        try {
            JdmDaemon.runUntilStopped(config, List.of(nbdExport), attachments);
        } catch (IOException e) {
            System.err.println("jdm: daemon failed: " + e.getMessage());
            return 1;
        }
        return 0;
    }

    /** {@code value}, or the option refused with what it allows unless it lies in [min, max]. */
    private int checked(String option, int value, int min, int max, String allowed) {
        if (value < min || value > max) {
            throw new ParameterException(spec.commandLine(), option + " must be " + allowed + ", not " + value);
        }
        return value;
    }

    private PathChecker.Settings pathChecking() {
        Duration interval = Duration.ofSeconds(checked("--path-check-interval", pathCheckInterval, 1, Integer.MAX_VALUE, "1 or more"));
        Duration timeout = Duration.ofSeconds(checked("--path-check-timeout", pathCheckTimeout, 1, Integer.MAX_VALUE, "1 or more"));
        try {
            return new PathChecker.Settings(interval, timeout, Failback.parse(failback));
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--" + e.getMessage());
        }
    }
}
