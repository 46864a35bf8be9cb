package dev.jdm.pdata;

import dev.jdm.core.testing.MemoryDevice;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The cache's bound and what it must never drop. */
class BlockManagerTest {

    /**
     * A btree insert keeps the parent it shadowed while it shadows the child, which may evict blocks: a dirty
     * block evicted then would lose what its holder writes into it afterwards.
     */
    @Test
    void aDirtyBlockStaysCachedUnderPressureUntilTheCommitWritesIt() throws Exception {
        MemoryDevice disk = new MemoryDevice(256 * Block.SIZE);
        BlockManager bm = new BlockManager(disk, 16);
        Block parent = bm.create(1, Node.BLOCK_TYPE);
        for (long b = 2; b < 100; b++) {
            bm.read(bm.create(b, Node.BLOCK_TYPE).location(), Node.BLOCK_TYPE); // over the bound
        }
        parent.data().putLong(64, 0x1234_5678_9abcL); // what the holder changes after all that
        bm.flushDirty(0);
        bm.dropAll();
        assertEquals(0x1234_5678_9abcL, bm.read(1, Node.BLOCK_TYPE).data().getLong(64));
    }

    @Test
    void cleanBlocksStayWithinTheBoundOnceTheTransactionIsWritten() throws Exception {
        MemoryDevice disk = new MemoryDevice(256 * Block.SIZE);
        BlockManager bm = new BlockManager(disk, 16);
        for (long b = 1; b < 200; b++) {
            bm.create(b, Node.BLOCK_TYPE);
        }
        assertEquals(199, bm.cachedBlocks(), "the open transaction's blocks are all held");
        bm.flushDirty(0);
        assertTrue(bm.cachedBlocks() <= 16, bm.cachedBlocks() + " cached after the commit");
        for (long b = 1; b < 200; b++) {
            bm.read(b, Node.BLOCK_TYPE);
        }
        assertTrue(bm.cachedBlocks() <= 16, bm.cachedBlocks() + " cached after reading them all");
    }
}
