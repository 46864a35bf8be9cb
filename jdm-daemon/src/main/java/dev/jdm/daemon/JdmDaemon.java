package dev.jdm.daemon;

import dev.jdm.core.Sectors;
import dev.jdm.core.DmException;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.daemon.multipath.PathChecker;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;

/**
 * The jdm daemon: owns a {@link DeviceMapper}, keeps its devices in the state folder, serves the
 * control socket. {@link #start} restores every device the folder holds; a folder with none gets
 * the built-in default, a sparse 1 GiB file mapped as {@code disk0}.
 */
public final class JdmDaemon implements AutoCloseable {
    public static final String DEFAULT_DEVICE = "disk0";
    public static final long DEFAULT_DEVICE_BYTES = 1L << 30;

    /**
     * Where the daemon keeps things, and how it checks multipath paths; {@link #defaults} derives the socket and
     * state folder from the data folder.
     */
    public record Config(Path dataDir, Path socket, Path stateDir, PathChecker.Settings pathChecking) {
        public static Config defaults(Path dataDir) {
            return new Config(dataDir, dataDir.resolve("jdm.sock"), dataDir.resolve("state"), PathChecker.Settings.DEFAULT);
        }

        public Config withSocket(Path s) {
            return new Config(dataDir, s, stateDir, pathChecking);
        }

        public Config withStateDir(Path s) {
            return new Config(dataDir, socket, s, pathChecking);
        }

        public Config withPathChecking(PathChecker.Settings p) {
            return new Config(dataDir, socket, stateDir, p);
        }
    }

    /**
     * A server that exports the engine's devices to clients (NBD, ...): started once the devices
     * are restored, closed when the daemon stops.
     */
    @FunctionalInterface
    public interface Export {
        AutoCloseable start(DeviceMapper dm) throws IOException;
    }

    private final Config config;
    private final PrintStream log;
    private final DeviceMapper dm;
    private final StateStore store;
    private final FileChannel lockFile;
    private final List<AutoCloseable> runningExports = new ArrayList<>();
    private Attachments attachments;
    private PathChecker pathChecker;
    private ControlServer control;
    private boolean closed;

    private JdmDaemon(Config config, PrintStream log, DeviceMapper dm, StateStore store, FileChannel lockFile) {
        this.config = config;
        this.log = log;
        this.dm = dm;
        this.store = store;
        this.lockFile = lockFile;
    }

    public static JdmDaemon start(Config config, PrintStream log) throws IOException {
        return start(config, log, List.of());
    }

    public static JdmDaemon start(Config config, PrintStream log, List<Export> exports) throws IOException {
        return start(config, log, exports, null);
    }

    /**
     * Starts with export servers and, when {@code attachments} is not null, the attach ops: the
     * daemon detaches what an earlier daemon left attached, and everything it attached when it stops.
     */
    public static JdmDaemon start(Config config, PrintStream log, List<Export> exports, Attachments attachments) throws IOException {
        Path data = config.dataDir().toAbsolutePath();
        Path socketDir = config.socket().toAbsolutePath().getParent();
        // The control socket lives in these: folders the daemon makes are for its user alone. One
        // that already exists is left as it is (it may be a home folder); the socket's own mode
        // and the peer credential check still keep others out.
        for (Path d : List.of(data, socketDir)) {
            if (!Files.exists(d)) {
                Files.createDirectories(d, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            } else if (d.equals(socketDir) && !PosixFilePermissions.toString(Files.getPosixFilePermissions(d)).endsWith("------")) {
                log.println("jdm daemon: warning: " + d + " is open to other users; only the socket's mode 0600 and its peer check keep them out");
            }
        }
        FileChannel lockFile = FileChannel.open(data.resolve(".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = lockFile.tryLock();
        } catch (OverlappingFileLockException e) {
            // Held by another daemon in this same JVM.
            lock = null;
        }
        if (lock == null) {
            lockFile.close();
            throw new IOException("another jdm daemon is using " + data);
        }
        DeviceMapper dm = DeviceMapper.create();
        JdmDaemon daemon = null;
        StateStore store = null;
        try {
            store = new StateStore(config.stateDir(), dm);
            dm.addListener(store);
            StateStore.RestoreReport report = store.restore();
            daemon = new JdmDaemon(config, log, dm, store, lockFile);
            daemon.reportRestore(report);
            if (store.isEmpty() && dm.names().isEmpty()) {
                daemon.createDefaultDevice();
            }
            // Export servers start here, after the restore (so every device is there to export)
            // and before the control socket (so a device created through it is exportable at once).
            for (Export e : exports) {
                daemon.runningExports.add(e.start(dm));
            }
            if (attachments != null) {
                attachments.detachLeftovers();
                daemon.attachments = attachments;
            }
            daemon.pathChecker = PathChecker.start(dm, config.pathChecking(), log);
            daemon.control = ControlServer.start(config.socket(), new ControlService(dm, version(), attachments, daemon.pathChecker));
            log.println("jdm daemon: control socket " + daemon.control.path() + ", state folder " + config.stateDir().toAbsolutePath());
            return daemon;
        } catch (IOException | RuntimeException e) {
            if (daemon != null) {
                daemon.close();
            } else {
                // Releasing the devices of a failed start is no user's remove: keep their state files.
                if (store != null) {
                    dm.removeListener(store);
                }
                dm.close();
                lockFile.close();
            }
            throw e;
        }
    }

    private void reportRestore(StateStore.RestoreReport restoreReport) {
        if (!restoreReport.restored().isEmpty()) {
            log.println("jdm daemon: restored " + String.join(", ", restoreReport.restored()));
        }
        for (String failure : restoreReport.failures()) {
            log.println("jdm daemon: cannot restore " + failure);
        }
    }

    private void createDefaultDevice() throws IOException {
        Path image = config.dataDir().toAbsolutePath().resolve(DEFAULT_DEVICE + ".img");
        if (!Files.exists(image)) {
            try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
                f.setLength(DEFAULT_DEVICE_BYTES);
            }
        }
        long sectors = Sectors.fromBytes(Files.size(image));
        String table = "0 " + sectors + " linear " + image + " 0";
        try {
            dm.create(DEFAULT_DEVICE, null, table, false);
            log.println("jdm daemon: created the default device " + DEFAULT_DEVICE + ": " + table);
        } catch (DmException e) {
            throw new IOException("cannot create the default device " + DEFAULT_DEVICE + ": " + e.getMessage(), e);
        }
    }

    public DeviceMapper deviceMapper() {
        return dm;
    }

    public Path socket() {
        return control.path();
    }

    /** The version the daemon reports, from the build. */
    public static String version() {
        try (InputStream in = JdmDaemon.class.getResourceAsStream("jdm-version.properties")) {
            Properties p = new Properties();
            if (in != null) {
                p.load(in);
            }
            return p.getProperty("version", "unknown");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Stops serving and releases every device. The state folder is left as it is: it already
     * holds every change, so the next start rebuilds the same devices.
     */
    @Override
    public synchronized void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        if (control != null) {
            control.close();
        }
        if (pathChecker != null) {
            pathChecker.close();
        }
        // Block devices first: they are clients of the exports.
        if (attachments != null) {
            attachments.close();
        }
        for (AutoCloseable e : runningExports.reversed()) {
            try {
                e.close();
            } catch (Exception ex) {
                log.println("jdm daemon: stopping an export failed: " + ex.getMessage());
            }
        }
        // Tearing the devices down is not a user's remove: the state files must stay.
        dm.removeListener(store);
        dm.close();
        lockFile.close();
    }

    /** Runs until SIGTERM/SIGINT (the shutdown hook closes the daemon). */
    public static void runUntilStopped(Config config, List<Export> exports) throws IOException, InterruptedException {
        runUntilStopped(config, exports, null);
    }

    /** Runs until SIGTERM/SIGINT with the attach ops (see {@link #start(Config, PrintStream, List, Attachments)}). */
    public static void runUntilStopped(Config config, List<Export> exports, Attachments attachments) throws IOException, InterruptedException {
        JdmDaemon daemon = start(config, System.err, exports, attachments);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                daemon.close();
            } catch (IOException e) {
                System.err.println("jdm daemon: shutdown: " + e.getMessage());
            } finally {
                stopped.countDown();
            }
        }, "jdm-shutdown"));
        stopped.await();
    }
}
