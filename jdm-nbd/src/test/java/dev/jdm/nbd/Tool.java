package dev.jdm.nbd;

import dev.jdm.core.testing.ExternalTools;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Runs an external program to completion and keeps what it printed. */
record Tool(int exit, String out, String err) {

    /** Runs {@code name args...}; the tool must be installed (failing under CI=true, skipping elsewhere). */
    static Tool run(String name, String debianPackage, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(ExternalTools.requireTool(name, debianPackage));
        cmd.addAll(List.of(args));
        return exec(cmd);
    }

    static Tool exec(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> slurp(p.getInputStream()));
        CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> slurp(p.getErrorStream()));
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", cmd) + " did not finish within 120 s");
        }
        return new Tool(p.exitValue(), out.join(), err.join());
    }

    private static String slurp(java.io.InputStream in) {
        try {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(unreadable: " + e.getMessage() + ")";
        }
    }

    /** Fails with everything the tool said unless it exited 0. */
    Tool ok() {
        if (exit != 0) {
            throw new AssertionError("exit " + exit + "\nstdout: " + out + "\nstderr: " + err);
        }
        return this;
    }
}
