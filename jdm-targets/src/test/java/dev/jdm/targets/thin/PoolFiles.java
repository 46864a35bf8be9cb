package dev.jdm.targets.thin;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Backing files for thin-pool tests: a data file whose every 8-byte word says which data block and which
 * word it is, so a read through a thin device shows exactly which data block it reached; the kernel's
 * table syntax and the numbers its pool status derives from the metadata device's size.
 */
final class PoolFiles {
    static final int METADATA_BLOCK = 4096;

    private PoolFiles() {
    }

    /** The content data block {@code dataBlock} holds in a {@link #patterned} file. */
    static byte[] blockPattern(long dataBlock, int blockBytes) {
        ByteBuffer b = ByteBuffer.allocate(blockBytes).order(ByteOrder.LITTLE_ENDIAN);
        long base = (dataBlock + 1) * 0x9E3779B97F4A7C15L;
        for (int w = 0; w < blockBytes / 8; w++) {
            b.putLong(base + w);
        }
        return b.array();
    }

    /** A data file of {@code nrBlocks} blocks of {@code blockBytes}, each holding its {@link #blockPattern}. */
    static Path patterned(Path dir, String name, long nrBlocks, int blockBytes) throws IOException {
        Path p = dir.resolve(name);
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (long b = 0; b < nrBlocks; b++) {
                ch.write(ByteBuffer.wrap(blockPattern(b, blockBytes)), b * blockBytes);
            }
        }
        return p;
    }

    /** {@code thin-pool} table text over two files, in the kernel's syntax. */
    static String poolTable(long dataSectors, Path metadata, Path data, int blockSectors, long lowWater, String... features) {
        StringBuilder t = new StringBuilder("0 " + dataSectors + " thin-pool " + metadata + " " + data + " " + blockSectors + " " + lowWater);
        if (features.length > 0) {
            t.append(' ').append(features.length);
            for (String f : features) {
                t.append(' ').append(f);
            }
        }
        return t.toString();
    }

    /** Metadata reserve the kernel keeps out of the free count: min(4096 blocks, a tenth of the device). */
    static long metadataReserve(long metadataBlocks) {
        return Math.min(4096, metadataBlocks / 10);
    }

    /** The metadata low-water mark the kernel prints last in pool status: min(1024, a quarter of the device). */
    static long metadataLowWater(long metadataBlocks) {
        return Math.min(1024, metadataBlocks / 4);
    }
}
