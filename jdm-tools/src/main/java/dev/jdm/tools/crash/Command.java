package dev.jdm.tools.crash;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * An external program run to completion, with what it printed kept as bytes (debugfs {@code cat}
 * prints file contents, which must be compared exactly).
 */
public record Command(List<String> argv, int exit, byte[] stdout, byte[] stderr) {
    private static final long TIMEOUT_SECONDS = 600;

    public Command {
        argv = List.copyOf(argv);
    }

    public static Command run(List<String> argv) throws IOException {
        return run(argv, Map.of());
    }

    /** Runs {@code argv} with extra environment variables; standard input is /dev/null. */
    public static Command run(List<String> argv, Map<String, String> environment) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(argv).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().putAll(environment);
        Process p = pb.start();
        // Both pipes are drained at once so neither can fill up and stall the program.
        CompletableFuture<byte[]> out = CompletableFuture.supplyAsync(() -> slurp(p.getInputStream()));
        CompletableFuture<byte[]> err = CompletableFuture.supplyAsync(() -> slurp(p.getErrorStream()));
        try {
            if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", argv) + " did not finish within " + TIMEOUT_SECONDS + " s");
            }
            return new Command(argv, p.exitValue(), out.join(), err.join());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new IOException(String.join(" ", argv) + " interrupted");
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    private static byte[] slurp(InputStream in) {
        try {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public boolean succeeded() {
        return exit == 0;
    }

    /** Standard output then standard error, as text, trimmed: what a failure report shows. */
    public String output() {
        return (new String(stdout, StandardCharsets.UTF_8) + new String(stderr, StandardCharsets.UTF_8)).strip();
    }

    /** Throws with everything the program said unless it exited 0. */
    public Command orThrow() throws IOException {
        if (!succeeded()) {
            throw new IOException(String.join(" ", argv) + " failed (exit " + exit + "): " + output());
        }
        return this;
    }
}
