package dev.jdm.targets;

import dev.jdm.core.io.BlockDevice;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

/** Small helpers for target tests: sparse image files and byte patterns. */
public final class Images {
    private Images() {
    }

    /** A sparse file of {@code bytes} bytes (zeroes). */
    public static Path create(Path dir, String name, long bytes) throws IOException {
        Path p = dir.resolve(name);
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(bytes);
        }
        return p;
    }

    public static byte[] pattern(int length, int seed) {
        byte[] b = new byte[length];
        new Random(seed).nextBytes(b);
        return b;
    }

    public static byte[] filled(int length, int value) {
        byte[] b = new byte[length];
        Arrays.fill(b, (byte) value);
        return b;
    }

    public static byte[] read(BlockDevice dev, long offset, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        dev.read(offset, b);
        return b.array();
    }

    public static void write(BlockDevice dev, long offset, byte[] data) throws IOException {
        dev.write(offset, ByteBuffer.wrap(data), false);
    }

    public static byte[] slice(Path file, long offset, int length) throws IOException {
        return Arrays.copyOfRange(Files.readAllBytes(file), (int) offset, (int) offset + length);
    }
}
