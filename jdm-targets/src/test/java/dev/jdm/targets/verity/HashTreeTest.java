package dev.jdm.targets.verity;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** The tree geometry, checked against layouts veritysetup produced (its "Hash blocks" and the kernel's formulas). */
class HashTreeTest {

    @Test
    void sha256With4kBlocks() {
        // 256 data blocks, 128 digests per block: level 0 has 2 blocks, level 1 (root) 1; after a 1-block superblock
        HashTree t = new HashTree(1, 256, 4096, 32, 1);
        assertEquals(2, t.levels());
        assertEquals(128, t.digestsPerBlock());
        assertEquals(32, t.digestStride());
        assertEquals(1, t.levelStart(1));
        assertEquals(1, t.levelBlocks(1));
        assertEquals(2, t.levelStart(0));
        assertEquals(2, t.levelBlocks(0));
        assertEquals(3, t.hashBlocks());
        assertEquals(4, t.hashEnd());
        assertEquals(3, t.hashBlockFor(200, 0));
        assertEquals((200 - 128) * 32, t.offsetFor(200, 0));
        assertEquals(1, t.hashBlockFor(200, 1));
        assertEquals(32, t.offsetFor(200, 1));
    }

    @Test
    void sha1SlotsArePowersOfTwoInVersion1AndPackedInVersion0() {
        HashTree v1 = new HashTree(1, 1000, 4096, 20, 0);
        HashTree v0 = new HashTree(0, 1000, 4096, 20, 0);
        assertEquals(32, v1.digestStride());
        assertEquals(20, v0.digestStride());
        assertEquals(128, v0.digestsPerBlock());
        assertEquals(5 * 32, v1.offsetFor(5, 0));
        assertEquals(5 * 20, v0.offsetFor(5, 0));
        assertEquals(8 + 1, v1.hashBlocks());
    }

    @Test
    void oneDataBlockNeedsNoTreeAndTheRootIsItsDigest() {
        HashTree t = new HashTree(1, 1, 4096, 32, 1);
        assertEquals(0, t.levels());
        assertEquals(0, t.hashBlocks());
    }

    @Test
    void digestTooBigForTheBlockIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> new HashTree(1, 10, 512, 512, 0));
        assertThrows(IllegalArgumentException.class, () -> new HashTree(2, 10, 4096, 32, 0));
    }
}
