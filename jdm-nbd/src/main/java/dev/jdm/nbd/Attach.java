package dev.jdm.nbd;

import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

/**
 * Gives an NBD export a real kernel block device. With the kernel's nbd module loaded, nbd-client
 * connects a /dev/nbdN; without it, nbdfuse shows the export as a file in a FUSE mount and a loop
 * device turns that file into /dev/loopN. What was set up is written to {@code workDir} so a later
 * process (the CLI's detach) can undo it by export name.
 */
public final class Attach {
    private Attach() {
    }

    public enum Method { NBD_CLIENT, NBDFUSE_LOOP }

    /** A kernel block device standing for an export, and what keeps it up. */
    public record Attachment(String exportName, Path device, Method method, Path mountPoint, long helperPid) {
    }

    private static final long READY_TIMEOUT_MILLIS = 20_000;

    /** Attaches the export served on the Unix socket and returns the device, e.g. /dev/loop3. */
    public static Attachment attach(String exportName, Path nbdUnixSocket, Path workDir) throws IOException {
        Files.createDirectories(workDir);
        if (Files.exists(stateFile(exportName, workDir))) {
            throw new IOException("export " + exportName + " is already attached (" + stateFile(exportName, workDir) + ")");
        }
        Attachment a = kernelNbdAvailable() ? attachNbdClient(exportName, nbdUnixSocket) : attachNbdfuse(exportName, nbdUnixSocket, workDir);
        save(a, workDir);
        return a;
    }

    /** The attachment of an export made earlier (by this or another process), if any. */
    public static Optional<Attachment> find(String exportName, Path workDir) throws IOException {
        Path state = stateFile(exportName, workDir);
        if (!Files.exists(state)) {
            return Optional.empty();
        }
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(state)) {
            p.load(r);
        }
        String mount = p.getProperty("mountPoint", "");
        return Optional.of(new Attachment(exportName, Path.of(p.getProperty("device")), Method.valueOf(p.getProperty("method")),
                mount.isEmpty() ? null : Path.of(mount), Long.parseLong(p.getProperty("helperPid", "-1"))));
    }

    /** Detaches the export by name; false if it was not attached. */
    public static boolean detach(String exportName, Path workDir) throws IOException {
        Optional<Attachment> a = find(exportName, workDir);
        if (a.isEmpty()) {
            return false;
        }
        detach(a.get(), workDir);
        return true;
    }

    /**
     * Undoes an attachment: the block device first (fails if it is still in use, e.g. mounted), then
     * its helper and the helper's files, so the work folder keeps nothing of it.
     */
    public static void detach(Attachment a, Path workDir) throws IOException {
        switch (a.method()) {
            case NBD_CLIENT -> run("nbd-client", "-d", a.device().toString());
            case NBDFUSE_LOOP -> {
                run("losetup", "-d", a.device().toString());
                run("fusermount3", "-u", a.mountPoint().toString());
                awaitExit(a.helperPid());
                Files.deleteIfExists(a.mountPoint());
                Files.deleteIfExists(nbdfusePidFile(a.exportName(), workDir));
                Files.deleteIfExists(nbdfuseLog(a.exportName(), workDir));
            }
        }
        Files.deleteIfExists(stateFile(a.exportName(), workDir));
    }

    private static boolean kernelNbdAvailable() {
        return Files.isDirectory(Path.of("/sys/module/nbd")) && onPath("nbd-client");
    }

    private static Attachment attachNbdClient(String exportName, Path socket) throws IOException {
        for (int n = 0; Files.exists(Path.of("/dev/nbd" + n)); n++) {
            // An nbd device without a pid file in sysfs has no client connected.
            if (!Files.exists(Path.of("/sys/block/nbd" + n + "/pid"))) {
                Path device = Path.of("/dev/nbd" + n);
                run("nbd-client", "-u", socket.toString(), device.toString(), "-N", exportName);
                return new Attachment(exportName, device, Method.NBD_CLIENT, null, -1);
            }
        }
        throw new IOException("no free /dev/nbdN device");
    }

    /**
     * nbdfuse's output stays in its log while it runs; a failed attach leaves the log behind next to
     * the error that quotes it, a detach removes it.
     */
    private static Attachment attachNbdfuse(String exportName, Path socket, Path workDir) throws IOException {
        Path mountPoint = workDir.resolve(exportName + ".fuse");
        Files.createDirectories(mountPoint);
        Path pidFile = nbdfusePidFile(exportName, workDir);
        Path log = nbdfuseLog(exportName, workDir);
        Files.deleteIfExists(pidFile);
        String uri = "nbd+unix:///" + URLEncoder.encode(exportName, StandardCharsets.UTF_8).replace("+", "%20")
                + "?socket=" + URLEncoder.encode(socket.toAbsolutePath().toString(), StandardCharsets.UTF_8);
        // nbdfuse stays in the foreground and serves the mount until it is unmounted; it writes its pid file once mounted.
        Process nbdfuse = new ProcessBuilder("nbdfuse", "-P", pidFile.toString(), mountPoint.resolve("nbd").toString(), uri)
                .redirectErrorStream(true).redirectOutput(log.toFile()).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .start();
        long deadline = System.currentTimeMillis() + READY_TIMEOUT_MILLIS;
        while (!Files.exists(pidFile) || Files.size(pidFile) == 0) {
            if (!nbdfuse.isAlive() || System.currentTimeMillis() > deadline) {
                nbdfuse.destroy();
                awaitExit(nbdfuse.pid());
                Files.deleteIfExists(pidFile);
                Files.deleteIfExists(mountPoint);
                throw new IOException("nbdfuse did not mount " + uri + ": " + Files.readString(log).strip());
            }
            sleep(10);
        }
        try {
            String loop = run("losetup", "--direct-io=off", "-f", "--show", mountPoint.resolve("nbd").toString()).strip();
            return new Attachment(exportName, Path.of(loop), Method.NBDFUSE_LOOP, mountPoint, nbdfuse.pid());
        } catch (IOException e) {
            runQuietly("fusermount3", "-u", mountPoint.toString());
            nbdfuse.destroy();
            awaitExit(nbdfuse.pid());
            Files.deleteIfExists(pidFile);
            Files.deleteIfExists(mountPoint);
            throw e;
        }
    }

    private static void save(Attachment a, Path workDir) throws IOException {
        Properties p = new Properties();
        p.setProperty("device", a.device().toString());
        p.setProperty("method", a.method().name());
        p.setProperty("mountPoint", a.mountPoint() == null ? "" : a.mountPoint().toString());
        p.setProperty("helperPid", Long.toString(a.helperPid()));
        try (Writer w = Files.newBufferedWriter(stateFile(a.exportName(), workDir))) {
            p.store(w, "jdm attachment of export " + a.exportName());
        }
    }

    private static Path stateFile(String exportName, Path workDir) {
        return workDir.resolve(exportName + ".attach");
    }

    private static Path nbdfusePidFile(String exportName, Path workDir) {
        return workDir.resolve(exportName + ".nbdfuse.pid");
    }

    private static Path nbdfuseLog(String exportName, Path workDir) {
        return workDir.resolve(exportName + ".nbdfuse.log");
    }

    private static void awaitExit(long pid) {
        if (pid <= 0) {
            return;
        }
        ProcessHandle.of(pid).ifPresent(h -> {
            try {
                h.onExit().get(10, TimeUnit.SECONDS);
            } catch (Exception e) {
                h.destroy(); // Unmounted but still running: it has nothing left to serve.
            }
        });
    }

    private static boolean onPath(String tool) {
        for (String dir : (System.getenv().getOrDefault("PATH", "") + ":/sbin:/usr/sbin").split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }

    /** Runs a tool and returns its standard output; a non-zero exit becomes an IOException with what it said. */
    private static String run(String... command) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(command));
        Process p = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        String out;
        String err;
        try {
            // Standard error is drained on its own thread so neither pipe can fill up and stall the tool.
            java.util.concurrent.CompletableFuture<String> errText = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try {
                    return new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
                } catch (IOException e) {
                    return "";
                }
            });
            out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            err = errText.join();
            if (p.waitFor() != 0) {
                throw new IOException(String.join(" ", cmd) + " failed (exit " + p.exitValue() + "): " + (err + out).strip());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroy();
            throw new IOException(String.join(" ", cmd) + " interrupted");
        }
        return out;
    }

    private static void runQuietly(String... command) {
        try {
            run(command);
        } catch (IOException ignored) {
            // Cleaning up after a failure that is already being reported.
        }
    }

    private static void sleep(long millis) throws IOException {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for nbdfuse");
        }
    }
}
