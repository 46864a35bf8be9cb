package dev.jdm.targets.snapshot.format;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Little-endian field patches into a COW image, for the bad-input cases the kernel never writes itself. */
final class FormatPatches {
    private FormatPatches() {
    }

    /** The image the bad-input cases patch: chunk 8 on 10 chunks (80 sectors) with exceptions 3->2, 4->3, 5->4. */
    static Path smallStore(Path dir) throws IOException {
        Path cow = dir.resolve("cow");
        try (KernelCowImage image = KernelCowImage.create(cow, 80, 8)) {
            for (long old = 3; old < 6; old++) {
                image.addException(old, StoreFormatTest.chunkData(8, old));
            }
        }
        return cow;
    }

    static void putInt(Path file, long offset, int value) throws IOException {
        put(file, offset, ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(0, value));
    }

    static void putLong(Path file, long offset, long value) throws IOException {
        put(file, offset, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, value));
    }

    /** Byte offset of entry {@code index} of metadata area {@code area}: 16 bytes, old chunk then new chunk. */
    static long entryOffset(int chunkSectors, long area, int index) {
        return KernelCowImage.areaLocation(chunkSectors, area) * KernelCowImage.chunkBytes(chunkSectors)
                + (long) index * KernelCowImage.EXCEPTION_BYTES;
    }

    private static void put(Path file, long offset, ByteBuffer bytes) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            while (bytes.hasRemaining()) {
                ch.write(bytes, offset + bytes.position());
            }
        }
    }
}
