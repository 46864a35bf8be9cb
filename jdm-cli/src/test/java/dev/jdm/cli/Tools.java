package dev.jdm.cli;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

import java.io.File;

/** What the tests need from the machine: with CI=true anything missing fails the test, elsewhere it skips it. */
final class Tools {
    private Tools() {
    }

    static void require(String tool, String debianPackage) {
        require(onPath(tool), tool + " is not installed (Debian package " + debianPackage + ")");
    }

    static void require(boolean present, String whyNot) {
        if (present) {
            return;
        }
        if ("true".equals(System.getenv("CI"))) {
            Assertions.fail(whyNot);
        }
        Assumptions.abort(whyNot);
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
