package dev.jdm.pdata;

import dev.jdm.core.testing.ExternalTools;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs a tool of thin-provisioning-tools 0.9.0 (thin_*, cache_*, era_*: the checkers and dumpers of every
 * persistent-data format). Public in the test-jar: each format's tests, beside its target, drive them.
 */
public final class PdataTools {
    public static final String PACKAGE = "thin-provisioning-tools";

    public record Result(int exit, String stdout, String stderr) {
    }

    private PdataTools() {
    }

    public static Result run(String tool, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(ExternalTools.requireTool(tool, PACKAGE));
        cmd.addAll(List.of(args));
        // stderr goes to a file: a tool reporting many errors would otherwise fill the pipe and block
        // while we are still reading stdout
        Path errFile = Files.createTempFile("pdata-tool", ".err");
        try {
            Process p = new ProcessBuilder(cmd).redirectError(errFile.toFile()).start();
            p.getOutputStream().close();
            var out = p.getInputStream().readAllBytes();
            int rc = p.waitFor();
            return new Result(rc, new String(out, StandardCharsets.UTF_8), Files.readString(errFile));
        } finally {
            Files.deleteIfExists(errFile);
        }
    }
}
