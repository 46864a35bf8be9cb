package dev.jdm.cli;

import dev.jdm.core.testing.ExternalTools;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;

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

    /** What {@code jdm attach} needs: root, FUSE, loop devices and nbdfuse. */
    static void requireAttach() {
        require("root".equals(System.getProperty("user.name")), "attach needs root (loop devices, FUSE mounts)");
        require(Files.exists(Path.of("/dev/fuse")), "attach needs /dev/fuse");
        require(Files.exists(Path.of("/dev/loop-control")), "attach needs loop devices (/dev/loop-control)");
        require("nbdfuse", "nbdfuse");
        require("fusermount3", "fuse3");
        require("losetup", "mount");
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
