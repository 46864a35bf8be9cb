package dev.jdm.daemon;

import dev.jdm.core.testing.ExternalTools;

import java.io.File;

/** External tools the tests call: with CI=true a missing one fails the test, elsewhere it skips it. */
final class Tools {
    private Tools() {
    }

    static void require(String tool, String debianPackage) {
        ExternalTools.require(onPath(tool), tool + " is not installed (Debian package " + debianPackage + ")");
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
