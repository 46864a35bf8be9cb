package dev.jdm.core.testing;

import dev.jdm.core.io.FileBlockDevice;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.stream.Stream;

/** Backing files for tests. */
public final class TestFiles {
    private TestFiles() {
    }

    /** A new file of {@code size} bytes that is one hole from start to end. */
    public static Path sparse(Path dir, String name, long size) throws IOException {
        Path file = dir.resolve(name);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(1), size - 1);
        }
        // Writing the last byte allocated its block: punch it again.
        try (FileBlockDevice d = FileBlockDevice.open(file, FileBlockDevice.Options.READ_WRITE)) {
            d.discard(0, size);
        }
        return file;
    }

    /** Work that needs a folder of its own. */
    @FunctionalInterface
    public interface InFolder {
        void run(Path dir) throws Exception;
    }

    /**
     * Runs {@code work} in a new temporary folder and deletes the folder after, whatever happened: for property
     * tests, whose tries each need a fresh folder that JUnit's @TempDir (one per test method) cannot give.
     */
    public static void inTemporaryFolder(String prefix, InFolder work) throws Exception {
        Path dir = Files.createTempDirectory(prefix);
        try {
            work.run(dir);
        } finally {
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
