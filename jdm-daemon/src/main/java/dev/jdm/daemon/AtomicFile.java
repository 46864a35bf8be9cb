package dev.jdm.daemon;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Replaces a file so that a crash at any moment leaves either the old or the new content, never a
 * mix: write a temporary file beside it, fsync it, rename it over the target, fsync the directory
 * (the rename itself is only durable once the directory is).
 */
final class AtomicFile {
    /** Temporary files start with this, so a reader of the folder can tell them from real ones. */
    static final String TEMP_PREFIX = ".";
    static final String TEMP_SUFFIX = ".tmp";

    private AtomicFile() {
    }

    static void write(Path target, byte[] content) throws IOException {
        Path temp = writeTemp(target, content);
        Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        syncDirectory(target.toAbsolutePath().getParent());
    }

    /** The first half of {@link #write}: what a crash before the rename leaves behind. */
    static Path writeTemp(Path target, byte[] content) throws IOException {
        Path temp = tempOf(target);
        try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer buf = ByteBuffer.wrap(content);
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
            ch.force(true);
        }
        return temp;
    }

    static void delete(Path target) throws IOException {
        if (Files.deleteIfExists(target)) {
            syncDirectory(target.toAbsolutePath().getParent());
        }
    }

    static Path tempOf(Path target) {
        return target.resolveSibling(TEMP_PREFIX + target.getFileName() + TEMP_SUFFIX);
    }

    static boolean isTemp(Path p) {
        String n = p.getFileName().toString();
        return n.startsWith(TEMP_PREFIX) && n.endsWith(TEMP_SUFFIX);
    }

    private static void syncDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }
}
