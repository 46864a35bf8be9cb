package dev.jdm.core.testing;

import org.junit.jupiter.api.Assumptions;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The house rule for tests that need something from the machine (a tool, root, a device node): under
 * {@code CI=true} a missing prerequisite fails the test; elsewhere the test is skipped and says why.
 */
public final class ExternalTools {
    private ExternalTools() {
    }

    public static boolean inCi() {
        return "true".equals(System.getenv("CI"));
    }

    /** Requires a condition; {@code why} says what is missing and how to get it. */
    public static void require(boolean present, String why) {
        if (present) {
            return;
        }
        if (inCi()) {
            throw new AssertionError("CI=true and " + why);
        }
        Assumptions.abort("skipped: " + why);
    }

    /** Requires an executable on the PATH (or in /sbin, /usr/sbin, which root's tools live in). */
    public static String requireTool(String name, String debianPackage) {
        String path = find(name);
        require(path != null, name + " is not installed (Debian package " + debianPackage + ")");
        return path;
    }

    public static String find(String name) {
        String path = System.getenv().getOrDefault("PATH", "") + ":/sbin:/usr/sbin";
        for (String dir : path.split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, name))) {
                return Path.of(dir, name).toString();
            }
        }
        return null;
    }

    public static boolean isRoot() {
        return "root".equals(System.getProperty("user.name"));
    }
}
