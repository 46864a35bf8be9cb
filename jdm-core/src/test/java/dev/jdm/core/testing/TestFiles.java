package dev.jdm.core.testing;

import dev.jdm.core.io.FileBlockDevice;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

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
}
