package dev.jdm.pdata;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The disk space map's transaction rules, through its on-disk form (committed counts are read back from it). */
class SpaceMapTest {
    private static final long BLOCKS = 40_000; // three bitmaps, the last one partial

    private final TransactionManager tm = BTreePropertiesTest.memoryTm();

    private SpaceMap reread(byte[] root) throws Exception {
        return SpaceMap.readDisk(tm, ByteBuffer.wrap(root).order(ByteOrder.LITTLE_ENDIAN));
    }

    @Test
    void aBlockFreedInTheTransactionIsNotReusedBeforeTheCommit() throws Exception {
        SpaceMap sm = new SpaceMap(BLOCKS);
        assertEquals(0, sm.allocate());
        assertEquals(1, sm.allocate());
        sm.writeDisk(tm);
        assertEquals(0, sm.dec(0));
        assertEquals(2, sm.allocate(), "block 0 is still part of the committed transaction");
        assertEquals(0, sm.dec(2));
        assertEquals(3, sm.allocate(), "block 2 was free at the commit: the cursor has already passed it");
        sm.writeDisk(tm);
        assertEquals(0, sm.allocate(), "after the commit block 0 is free again");
        assertEquals(2, sm.allocate());
    }

    @Test
    void countsOfThreeOrMoreMoveInAndOutOfTheOverflowTree() throws Exception {
        SpaceMap sm = new SpaceMap(BLOCKS);
        sm.set(16_320, 5); // first block of the second bitmap
        sm.set(39_999, 3); // last block of the partial one
        sm.set(7, 2);
        SpaceMap first = reread(sm.writeDisk(tm));
        assertEquals(5, first.count(16_320));
        assertEquals(3, first.count(39_999));
        assertEquals(2, first.count(7));
        assertEquals(3, first.nrAllocated());

        first.dec(16_320);
        first.set(39_999, 2);
        first.set(7, 300);
        SpaceMap second = reread(first.writeDisk(tm));
        assertEquals(4, second.count(16_320));
        assertEquals(2, second.count(39_999));
        assertEquals(300, second.count(7));
        second.set(16_320, 0);
        second.set(7, 0);
        second.set(39_999, 0);
        SpaceMap third = reread(second.writeDisk(tm));
        assertEquals(0, third.nrAllocated());
        for (long b : new long[] {7, 16_320, 39_999}) {
            assertEquals(0, third.count(b));
        }
    }

    @Test
    void fullBitmapsAreSkippedAndGrowthAddsFreeBlocks() throws Exception {
        SpaceMap sm = new SpaceMap(20_000);
        for (long b = 0; b < 20_000; b++) {
            assertEquals(b, sm.allocate());
        }
        assertEquals("no free block in a space map of 20000 blocks",
                assertThrows(MetadataException.class, sm::allocate).getMessage());
        SpaceMap full = reread(sm.writeDisk(tm));
        full.dec(19_000);
        assertThrows(MetadataException.class, full::allocate, "freed in this transaction");
        full.extend(40_000);
        assertEquals(20_000, full.allocate(), "the partial bitmap's new entries");
        SpaceMap grown = reread(full.writeDisk(tm));
        assertEquals(40_000, grown.nrBlocks());
        assertEquals(20_000, grown.nrAllocated());
        assertEquals(19_000, grown.allocate(), "the first free block: bitmap 0 is skipped by its index entry");
        assertEquals(20_001, grown.allocate());
        assertNotEquals(0, grown.count(20_000));
    }
}
