package dev.jdm.pdata;

import dev.jdm.core.testing.MemoryDevice;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Block types declared by their users: the checksum and location checks the block manager runs with them. */
class BlockTypeTest {
    /** A type as a user of the library declares it, with its location where dm-array keeps its own. */
    private static final BlockType RECORD = new BlockType("test record", 424242, 16);

    private static MemoryDevice written(long location) throws Exception {
        MemoryDevice disk = new MemoryDevice(32 * Block.SIZE);
        BlockManager bm = new BlockManager(disk, 16);
        bm.create(location, RECORD).data().putLong(100, 0x0123_4567_89ab_cdefL);
        bm.flushDirty(-1);
        return disk;
    }

    private static String refused(MemoryDevice disk, long location, BlockType type) {
        byte[] before = disk.bytes().clone();
        MetadataException e = assertThrows(MetadataException.class, () -> new BlockManager(disk, 16).read(location, type));
        assertArrayEquals(before, disk.bytes(), "nothing is written");
        return e.getMessage();
    }

    @Test
    void aBlockIsSealedWithItsTypesChecksumAndLocation() throws Exception {
        MemoryDevice disk = written(5);
        ByteBuffer raw = ByteBuffer.wrap(disk.bytes(), 5 * Block.SIZE, Block.SIZE).slice().order(java.nio.ByteOrder.LITTLE_ENDIAN);
        assertEquals(5, raw.getLong(16), "the location where the type keeps it");
        assertEquals(0, raw.getLong(8));
        assertEquals(RECORD.checksum(raw), raw.getInt(0));
        assertEquals(0x0123_4567_89ab_cdefL, new BlockManager(disk, 16).read(5, RECORD).data().getLong(100));
    }

    @Test
    void aChangedByteFailsTheChecksum() throws Exception {
        MemoryDevice disk = written(5);
        int stored = ByteBuffer.wrap(disk.bytes(), 5 * Block.SIZE, 4).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt();
        disk.bytes()[5 * Block.SIZE + 200] ^= 1;
        int computed = RECORD.checksum(ByteBuffer.wrap(disk.bytes(), 5 * Block.SIZE, Block.SIZE).slice());
        assertEquals(String.format("bad checksum in test record (block 5): stored 0x%08x, computed 0x%08x", stored, computed),
                refused(disk, 5, RECORD));
    }

    @Test
    void anotherTypesChecksumIsRefused() throws Exception {
        assertEquals("bad checksum in btree node (block 5)", refused(written(5), 5, Node.BLOCK_TYPE).split(":")[0]);
    }

    @Test
    void aBlockFoundElsewhereIsRefusedAsMisdirected() throws Exception {
        MemoryDevice disk = written(5);
        System.arraycopy(disk.bytes(), 5 * Block.SIZE, disk.bytes(), 9 * Block.SIZE, Block.SIZE);
        assertEquals("test record at block 9 says it is block 5 (misdirected I/O?)", refused(disk, 9, RECORD));
    }

    @Test
    void aCachedBlockAskedForAsAnotherTypeIsRefused() throws Exception {
        BlockManager bm = new BlockManager(written(5), 16);
        bm.read(5, RECORD);
        assertEquals("block 5 is a test record, not a btree node",
                assertThrows(MetadataException.class, () -> bm.read(5, Node.BLOCK_TYPE)).getMessage());
    }

    @Test
    void theLocationMustLieInsideTheBlockAfterTheChecksum() {
        assertEquals("blocknr offset 0 is not within bytes 4..4088 of a block",
                assertThrows(IllegalArgumentException.class, () -> new BlockType("x", 1, 0)).getMessage());
        assertEquals("blocknr offset 4089 is not within bytes 4..4088 of a block",
                assertThrows(IllegalArgumentException.class, () -> new BlockType("x", 1, 4089)).getMessage());
    }
}
