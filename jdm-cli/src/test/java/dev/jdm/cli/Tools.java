package dev.jdm.cli;

import dev.jdm.core.testing.ExternalTools;

import java.io.File;

/** What the tests need from the machine: with CI=true anything missing fails the test, elsewhere it skips it. */
final class Tools {
    private Tools() {
    }

    static void require(String tool, String debianPackage) {
        require(onPath(tool), tool + " is not installed (Debian package " + debianPackage + ")");
    }

    static void require(boolean present, String whyNot) {
        ExternalTools.require(present, whyNot);
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
