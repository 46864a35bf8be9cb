package dev.jdm.formats.verity;

import dev.jdm.core.testing.ExternalTools;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;


/** Runs an external tool; under CI=true a missing tool fails the test, elsewhere it skips it. */
record Tool(int exitCode, String stdout, String stderr) {

    static void require(String name) {
        boolean present = List.of("/usr/sbin", "/usr/bin", "/sbin", "/bin").stream()
                .anyMatch(dir -> Files.isExecutable(Path.of(dir, name)));
        ExternalTools.require(present, name + " is not installed (Debian package cryptsetup-bin)");
    }

    static Tool run(Path dir, String... command) throws IOException, InterruptedException {
        require(command[0]);
        List<String> cmd = new ArrayList<>(List.of(command));
        Path out = Files.createTempFile(dir, "out", ".txt");
        Path err = Files.createTempFile(dir, "err", ".txt");
        Process p = new ProcessBuilder(cmd).directory(dir.toFile())
                .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        int rc = p.waitFor();
        return new Tool(rc, Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
    }

    /** The value of a "Name:   \tvalue" line of veritysetup's report. */
    String field(String name) {
        for (String line : stdout.split("\n")) {
            if (line.startsWith(name + ":")) {
                return line.substring(line.indexOf('\t') + 1);
            }
        }
        throw new AssertionError("no " + name + " in:\n" + stdout + stderr);
    }
}
