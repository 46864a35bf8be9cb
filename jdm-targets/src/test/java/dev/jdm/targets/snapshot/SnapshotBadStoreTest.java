package dev.jdm.targets.snapshot;

import dev.jdm.core.DmException;
import dev.jdm.core.testing.TestFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** A COW whose store names one origin chunk twice is refused by the snapshot's exception map, and left as it was. */
class SnapshotBadStoreTest {
    @TempDir
    Path dir;

    @Test
    void aDuplicatedOldChunkRefusesTheTableAndLeavesTheCowByteIdentical() throws Exception {
        Path cow = TestFiles.sparse(dir, "cow.img", 1 << 20);
        ByteBuffer header = ByteBuffer.allocate(4096).order(ByteOrder.LITTLE_ENDIAN);
        header.putInt(0x70416e53).putInt(1).putInt(1).putInt(8).clear();
        ByteBuffer area = ByteBuffer.allocate(4096).order(ByteOrder.LITTLE_ENDIAN);
        area.putLong(5).putLong(2).putLong(6).putLong(3).putLong(5).putLong(4).clear();
        try (FileChannel ch = FileChannel.open(cow, StandardOpenOption.WRITE)) {
            ch.write(header, 0);
            ch.write(area, 4096);
        }
        byte[] before = Files.readAllBytes(cow);
        try (SnapshotFixture f = new SnapshotFixture(dir, 2048)) {
            DmException e = assertThrows(DmException.class,
                    () -> f.dm.create("s", null, "0 2048 snapshot /dev/mapper/base-real " + cow + " P 8", false));
            assertEquals("table line 1: snapshot: Failed to read snapshot metadata: origin chunk 5 has two exceptions,"
                    + " in COW chunks 2 and 4", e.getMessage());
        }
        assertArrayEquals(before, Files.readAllBytes(cow));
    }
}
