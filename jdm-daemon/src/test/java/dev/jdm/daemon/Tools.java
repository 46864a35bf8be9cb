package dev.jdm.daemon;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

import java.io.File;

/** External tools the tests call: with CI=true a missing one fails the test, elsewhere it skips it. */
final class Tools {
    private Tools() {
    }

    static void require(String tool, String debianPackage) {
        if (onPath(tool)) {
            return;
        }
        String why = tool + " is not installed (Debian package " + debianPackage + ")";
        if ("true".equals(System.getenv("CI"))) {
            Assertions.fail(why);
        }
        Assumptions.abort(why);
    }

    private static boolean onPath(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (new File(dir, tool).canExecute()) {
                return true;
            }
        }
        return false;
    }
}
