package dev.jdm.targets.thin;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.DmException;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.testing.TestFiles;
import dev.jdm.targets.thin.metadata.ThinTools;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.zip.CRC32C;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Damaged pool metadata (written by thin_restore, then broken on purpose): what the kernel finds when it
 * opens the pool makes the table load fail with a message naming the damage; what it finds only on I/O
 * fails that I/O. Either way nothing in the metadata is overwritten, except that a failed metadata
 * update flags the superblock NEEDS_CHECK, as dm-thin does before it turns the pool read-only.
 */
class ThinPoolBadMetadataTest {
    private static final int BLOCK_SECTORS = 128;
    private static final int BLOCK_BYTES = BLOCK_SECTORS * 512;
    private static final long NR_DATA = 256;
    private static final int MB = PoolFiles.METADATA_BLOCK;
    // block types' checksum salts (persistent-data: superblock, btree node, bitmap, metadata space-map index)
    private static final int SUPERBLOCK_XOR = 160774;
    private static final int NODE_XOR = 121107;

    @TempDir
    Path dir;
    final DeviceMapper dm = DeviceMapper.create();
    Path meta;
    Path data;

    @BeforeEach
    void restorePool() throws Exception {
        StringBuilder xml = new StringBuilder("<superblock uuid=\"\" time=\"1\" transaction=\"4\" data_block_size=\"" + BLOCK_SECTORS
                + "\" nr_data_blocks=\"" + NR_DATA + "\">\n");
        xml.append("  <device dev_id=\"1\" mapped_blocks=\"20\" transaction=\"0\" creation_time=\"0\" snap_time=\"0\">\n");
        xml.append("    <range_mapping origin_begin=\"0\" data_begin=\"10\" length=\"20\" time=\"0\"/>\n  </device>\n</superblock>\n");
        Path x = dir.resolve("pool.xml");
        Files.writeString(x, xml);
        meta = TestFiles.sparse(dir, "meta", 4L << 20);
        ThinTools.restore(x, meta);
        data = PoolFiles.patterned(dir, "data", NR_DATA, BLOCK_BYTES);
    }

    @AfterEach
    void close() {
        dm.close();
    }

    private String poolTable() {
        return PoolFiles.poolTable(NR_DATA * BLOCK_SECTORS, meta, data, BLOCK_SECTORS, 0);
    }

    /** The pool and a thin device over its device 1 (20 mapped blocks from virtual block 0). */
    private void activate() throws DmException {
        dm.create("pool", null, poolTable(), false);
        dm.create("thin", null, "0 " + 64 * BLOCK_SECTORS + " thin /dev/mapper/pool 1", false);
    }

    private ByteBuffer block(long nr) throws Exception {
        byte[] all = Files.readAllBytes(meta);
        return ByteBuffer.wrap(Arrays.copyOfRange(all, (int) (nr * MB), (int) ((nr + 1) * MB))).order(ByteOrder.LITTLE_ENDIAN);
    }

    private void writeBlock(long nr, ByteBuffer b) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(meta.toFile(), "rw")) {
            f.seek(nr * MB);
            f.write(b.array());
        }
    }

    /** The persistent-data checksum: CRC-32C of bytes 4..4095, without the final inversion, salted per block type. */
    private static int checksum(ByteBuffer b, int xor) {
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 4, MB - 4);
        return (int) crc.getValue() ^ 0xFFFFFFFF ^ xor;
    }

    private static void reseal(ByteBuffer b, int xor) {
        b.putInt(0, checksum(b, xor));
    }

    /** A byte in the unused tail of a block changes: the block's checksum no longer matches. */
    private void flipByte(long nr) throws Exception {
        ByteBuffer b = block(nr);
        b.put(MB - 1, (byte) (b.get(MB - 1) ^ 0x5a));
        writeBlock(nr, b);
    }

    /** The block where the single device's mapping tree (a single leaf for 20 mappings) lives. */
    private long deviceLeaf() throws Exception {
        long top = block(0).getLong(320);
        ByteBuffer node = block(top);
        assertEquals(2, node.getInt(4), "the top-level tree is one leaf");
        int max = node.getInt(20);
        return node.getLong(32 + 8 * max);
    }

    /** The first bitmap block of the data space map (the index tree is one leaf for this small pool). */
    private long dataBitmap() throws Exception {
        ByteBuffer node = block(block(0).getLong(64 + 16));
        int max = node.getInt(20);
        return node.getLong(32 + 8 * max);
    }

    private void assertLoadFails(String why, String... words) throws Exception {
        byte[] before = Files.readAllBytes(meta);
        DmException e = assertThrows(DmException.class, () -> dm.create("pool", null, poolTable(), false), why);
        String text = e.getMessage().toLowerCase(Locale.ROOT);
        for (String w : words) {
            assertTrue(text.contains(w), "\"" + e.getMessage() + "\" should name " + w + " (" + why + ")");
        }
        assertEquals(java.util.List.of(), dm.names(), "no device is left behind");
        assertArrayEquals(before, Files.readAllBytes(meta), "the metadata is untouched (" + why + ")");
    }

    @Test
    void ourChecksumsAreTheOnesThinRestoreWrote() throws Exception {
        // guards the corruptions below: a resealed block must be valid but for the field we changed
        ByteBuffer sb = block(0);
        assertEquals(sb.getInt(0), checksum(sb, SUPERBLOCK_XOR));
        ByteBuffer leaf = block(deviceLeaf());
        assertEquals(leaf.getInt(0), checksum(leaf, NODE_XOR));
    }

    @Test
    void superblockWithABadChecksumIsRefused() throws Exception {
        flipByte(0);
        assertLoadFails("superblock checksum", "superblock", "checksum");
    }

    @Test
    void superblockWithABadMagicIsRefused() throws Exception {
        ByteBuffer sb = block(0);
        sb.putLong(32, 27022011L);
        reseal(sb, SUPERBLOCK_XOR);
        writeBlock(0, sb);
        assertLoadFails("superblock magic", "magic");
    }

    @Test
    void metadataSpaceMapIndexWithABadChecksumIsRefused() throws Exception {
        flipByte(block(0).getLong(192 + 16));
        assertLoadFails("metadata space map index checksum", "checksum");
    }

    @Test
    void metadataDeviceSmallerThanItsSpaceMapIsRefused() throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(meta.toFile(), "rw")) {
            f.setLength(256 * MB);
        }
        assertLoadFails("truncated metadata device", "metadata", "too small");
    }

    @Test
    void dataDeviceSmallerThanTheMetadataSaysIsRefused() throws Exception {
        byte[] before = Files.readAllBytes(meta);
        String table = PoolFiles.poolTable((NR_DATA - 16) * BLOCK_SECTORS, meta, data, BLOCK_SECTORS, 0);
        DmException e = assertThrows(DmException.class, () -> dm.create("pool", null, table, false));
        assertTrue(e.getMessage().contains("too small"), e.getMessage());
        assertArrayEquals(before, Files.readAllBytes(meta), "the metadata is untouched");
    }

    @Test
    void mappingLeafWithABadChecksumFailsItsReadsAndThinStatus() throws Exception {
        flipByte(deviceLeaf());
        byte[] before = Files.readAllBytes(meta);
        activate();
        assertThrows(BlockIoException.class, () -> dm.device("thin").read(0, ByteBuffer.allocate(4096)));
        // dm-thin prints Error when it cannot find the highest mapped block
        assertEquals("Error", dm.status("thin", false).getFirst().params());
        dm.remove("thin", false, false);
        dm.remove("pool", false, false);
        assertArrayEquals(before, Files.readAllBytes(meta), "reads and removal wrote nothing");
    }

    /** The kernel reads device details when a thin table opens its device; jdm may already refuse the pool. */
    @Test
    void deviceDetailsWithABadChecksumKeepTheThinDeviceFromOpening() throws Exception {
        flipByte(block(0).getLong(328));
        byte[] before = Files.readAllBytes(meta);
        DmException e = assertThrows(DmException.class, () -> {
            activate();
        });
        assertTrue(e.getMessage().toLowerCase(Locale.ROOT).contains("checksum"), e.getMessage());
        assertTrue(!dm.names().contains("thin"), "no thin device is left behind");
        if (dm.names().contains("pool")) {
            dm.remove("pool", false, false);
        }
        assertArrayEquals(before, Files.readAllBytes(meta), "the metadata is untouched");
    }

    @Test
    void mappingToABlockBeyondTheDataDeviceFailsItsRead() throws Exception {
        long leafAt = deviceLeaf();
        ByteBuffer leaf = block(leafAt);
        int max = leaf.getInt(20);
        // virtual block 3 -> data block 100000 (block_time = data << 24 | time)
        leaf.putLong(32 + 8 * max + 8 * 3, 100_000L << 24);
        reseal(leaf, NODE_XOR);
        writeBlock(leafAt, leaf);
        byte[] before = Files.readAllBytes(meta);
        activate();
        ByteBuffer good = ByteBuffer.allocate(BLOCK_BYTES);
        dm.device("thin").read(2L * BLOCK_BYTES, good);
        assertArrayEquals(PoolFiles.blockPattern(12, BLOCK_BYTES), good.array(), "the mapping next to it still reads");
        assertThrows(BlockIoException.class, () -> dm.device("thin").read(3L * BLOCK_BYTES, ByteBuffer.allocate(4096)));
        dm.remove("thin", false, false);
        dm.remove("pool", false, false);
        assertArrayEquals(before, Files.readAllBytes(meta), "reads and removal wrote nothing");
    }

    @Test
    void dataBitmapWithABadChecksumFailsTheAllocationAndTurnsThePoolReadOnly() throws Exception {
        flipByte(dataBitmap());
        byte[] before = Files.readAllBytes(meta);
        activate();
        // block 40 is unmapped: the write needs a new data block, whose search reads the bad bitmap
        assertThrows(BlockIoException.class, () -> dm.device("thin").write(40L * BLOCK_BYTES, ByteBuffer.allocate(4096), false));
        String[] status = dm.status("pool", false).getFirst().params().split(" ");
        assertEquals("ro needs_check", status[4] + " " + status[7], "pool mode and needs_check");
        dm.remove("thin", false, false);
        dm.remove("pool", false, false);
        byte[] after = Files.readAllBytes(meta);
        assertArrayEquals(Arrays.copyOfRange(before, MB, before.length), Arrays.copyOfRange(after, MB, after.length),
                "only the superblock changed");
        ByteBuffer want = ByteBuffer.wrap(Arrays.copyOf(before, MB)).order(ByteOrder.LITTLE_ENDIAN);
        want.putInt(4, want.getInt(4) | 1);
        reseal(want, SUPERBLOCK_XOR);
        assertArrayEquals(want.array(), Arrays.copyOf(after, MB), "the superblock gained NEEDS_CHECK and nothing else");
    }
}
