package dev.jdm.formats.luks;

import dev.jdm.core.testing.ExternalTools;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Runs the real cryptsetup (Debian package cryptsetup-bin) as the oracle. Under CI=true a missing
 * cryptsetup fails the test; elsewhere the test is skipped with the reason.
 */
final class Cryptsetup {

    private static final Path BINARY = locate();

    private Cryptsetup() {
    }

    private static Path locate() {
        for (String dir : List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin")) {
            Path candidate = Path.of(dir, "cryptsetup");
            if (Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        return null;
    }

    static void require() {
        ExternalTools.require(BINARY != null, "cryptsetup not found (install the Debian package cryptsetup-bin)");
    }

    record Result(int exitCode, String stdout, String stderr) {
        Result ok() {
            assertEquals(0, exitCode, "cryptsetup failed: " + stderr + stdout);
            return this;
        }
    }

    /** Runs cryptsetup with the given arguments, feeding {@code stdin} (may be null). */
    static Result run(byte[] stdin, String... args) throws IOException, InterruptedException {
        require();
        List<String> command = new ArrayList<>();
        command.add(BINARY.toString());
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).start();
        try (var in = process.getOutputStream()) {
            if (stdin != null) {
                in.write(stdin);
            }
        }
        byte[] out = process.getInputStream().readAllBytes();
        byte[] err = process.getErrorStream().readAllBytes();
        if (!process.waitFor(120, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            fail("cryptsetup " + String.join(" ", args) + " did not finish");
        }
        return new Result(process.exitValue(), new String(out, StandardCharsets.UTF_8),
                new String(err, StandardCharsets.UTF_8));
    }

    /** The volume key cryptsetup recovers with {@code luksDump --dump-volume-key}. */
    static byte[] dumpVolumeKey(Path header, byte[] passphrase) throws IOException, InterruptedException {
        String out = run(passphrase, "luksDump", "--dump-volume-key", "--batch-mode", "--key-file", "-",
                header.toString()).ok().stdout();
        int start = out.indexOf("MK dump:");
        if (start < 0) {
            fail("no MK dump in: " + out);
        }
        String hex = out.substring(start + "MK dump:".length()).replaceAll("\\s", "");
        return HexFormat.of().parseHex(hex);
    }

    /** The value after "label:" on the first line that has it, trimmed. */
    static String field(String dump, String label) {
        for (String line : dump.split("\n")) {
            String trimmed = line.strip();
            if (trimmed.startsWith(label)) {
                return trimmed.substring(label.length()).strip();
            }
        }
        return fail("no '" + label + "' in:\n" + dump);
    }
}
