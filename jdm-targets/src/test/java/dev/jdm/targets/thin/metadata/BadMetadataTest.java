package dev.jdm.targets.thin.metadata;

import dev.jdm.core.testing.MemoryDevice;
import dev.jdm.pdata.Block;
import dev.jdm.pdata.BlockType;
import dev.jdm.pdata.MetadataException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Damaged metadata is refused with a message naming what is wrong, and opening it writes nothing. */
class BadMetadataTest {
    private byte[] good;
    private long mappingRoot;
    private long detailsRoot;

    @BeforeEach
    void makeMetadata() throws Exception {
        MemoryDevice d = new MemoryDevice(4L << 20);
        try (ThinMetadata md = ThinMetadata.format(d, 128, 10_000, 64)) {
            ThinToolsConformanceTest.randomOperations(md, new Random(5), 300);
            md.commit();
        }
        good = d.bytes().clone();
        ByteBuffer sb = ByteBuffer.wrap(good).order(ByteOrder.LITTLE_ENDIAN);
        mappingRoot = sb.getLong(320);
        detailsRoot = sb.getLong(328);
    }

    private String refused(byte[] image) {
        MemoryDevice d = new MemoryDevice(image.length);
        System.arraycopy(image, 0, d.bytes(), 0, image.length);
        MetadataException e = assertThrows(MetadataException.class, () -> ThinMetadata.open(d, 64).close());
        assertEquals(0, d.writes(), "nothing is written");
        assertArrayEquals(image, d.bytes());
        return e.getMessage();
    }

    /** Rewrites a block's checksum after a deliberate change, so only the intended check can fail. */
    private static void reseal(byte[] image, long block, BlockType type) {
        ByteBuffer b = ByteBuffer.wrap(image, (int) (block * Block.SIZE), Block.SIZE).slice().order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, type.checksum(b));
    }

    @Test
    void goodMetadataOpens() throws Exception {
        MemoryDevice d = new MemoryDevice(good.length);
        System.arraycopy(good, 0, d.bytes(), 0, good.length);
        try (ThinMetadata md = ThinMetadata.open(d, 64)) {
            assertEquals(128, md.dataBlockSize());
        }
        assertEquals(0, d.writes());
    }

    @Test
    void badSuperblockChecksum() {
        byte[] image = good.clone();
        image[200] ^= 1;
        String message = refused(image);
        assertEquals("bad checksum in superblock (block 0): stored 0x"
                + String.format("%08x", ByteBuffer.wrap(good).order(ByteOrder.LITTLE_ENDIAN).getInt(0))
                + ", computed 0x" + String.format("%08x", ThinMetadata.SUPERBLOCK.checksum(
                        ByteBuffer.wrap(image, 0, Block.SIZE).slice().order(ByteOrder.LITTLE_ENDIAN))),
                message);
    }

    @Test
    void badBtreeNodeChecksum() {
        byte[] image = good.clone();
        image[(int) (detailsRoot * Block.SIZE) + 100] ^= 0x40;
        String message = refused(image);
        assertEquals("bad checksum in btree node (block " + detailsRoot + ")", message.substring(0, message.indexOf(':')));
    }

    @Test
    void badMagic() {
        byte[] image = good.clone();
        ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN).putLong(32, 12345);
        reseal(image, 0, ThinMetadata.SUPERBLOCK);
        assertEquals("bad magic in thin superblock: 12345, expected 27022010", refused(image));
    }

    @Test
    void truncatedDevice() {
        byte[] image = Arrays.copyOf(good, good.length / 2);
        assertEquals("metadata device is truncated: 512 blocks, the metadata space map covers 1024", refused(image));
        assertEquals("metadata device of 100 bytes is smaller than one 4096-byte block",
                refused(Arrays.copyOf(good, 100)));
    }

    @Test
    void blockAtTheWrongLocation() {
        byte[] image = good.clone();
        long elsewhere = 1000; // free in this small pool
        System.arraycopy(image, (int) (detailsRoot * Block.SIZE), image, (int) (elsewhere * Block.SIZE), Block.SIZE);
        ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN).putLong(328, elsewhere);
        reseal(image, 0, ThinMetadata.SUPERBLOCK);
        assertEquals("btree node at block 1000 says it is block " + detailsRoot + " (misdirected I/O?)", refused(image));
    }

    @Test
    void mappingRootOfTheWrongType() {
        byte[] image = good.clone();
        ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN).putLong(320, 0);
        reseal(image, 0, ThinMetadata.SUPERBLOCK);
        MemoryDevice d = new MemoryDevice(image.length);
        System.arraycopy(image, 0, d.bytes(), 0, image.length);
        // the mapping tree is read lazily: the first lookup names the problem
        MetadataException e = assertThrows(MetadataException.class, () -> {
            try (ThinMetadata md = ThinMetadata.open(d, 64)) {
                md.deviceRoot(md.devices().firstKey());
            }
        });
        assertEquals("block 0 is a superblock, not a btree node", e.getMessage());
        assertEquals(0, d.writes());
    }
}
