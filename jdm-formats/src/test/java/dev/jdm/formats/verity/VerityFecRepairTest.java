package dev.jdm.formats.verity;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.Errno;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Images with FEC made by veritysetup, damaged on disk, read through the target: damage within what
 * RS(255, 253) corrects reads back as the original bytes, damage beyond it fails with EIO naming the block.
 * 600 data blocks + 6 hash blocks = 606 protected blocks in 3 rounds: blocks b, b+3, b+6… share codewords.
 */
class VerityFecRepairTest {
    private static final int BS = 4096;
    private static final int BLOCKS = 600;

    @TempDir
    Path dir;
    Path data;
    Path hash;
    Path fec;
    byte[] original;
    String root;

    @BeforeEach
    void image() throws Exception {
        original = new byte[BLOCKS * BS];
        new Random(11).nextBytes(original);
        data = dir.resolve("data.img");
        hash = dir.resolve("hash.img");
        fec = dir.resolve("fec.img");
        Files.write(data, original);
        Tool made = Tool.run(dir, "veritysetup", "format", "--fec-device", fec.toString(), "--fec-roots", "2",
                data.toString(), hash.toString());
        assertEquals(0, made.exitCode(), made.stderr());
        assertEquals("6", made.field("FEC blocks")); // 3 rounds of 2 parity blocks
        root = made.field("Root hash");
    }

    private void damageBlock(Path file, long block, Random random) throws Exception {
        byte[] junk = new byte[BS];
        random.nextBytes(junk);
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek(block * BS);
            f.write(junk);
        }
    }

    private MappedDevice open(DeviceMapper dm) throws Exception {
        String table = Veritysetup.open(data, hash, root, VerityOptions.defaults().withFecDevice(fec).withFecRoots(2));
        dm.create("v", null, table, true);
        return dm.device("v");
    }

    private byte[] read(MappedDevice md, long block, int count) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(count * BS);
        md.read(block * BS, b);
        return b.array();
    }

    private byte[] expected(long block, int count) {
        return Arrays.copyOfRange(original, (int) block * BS, (int) (block + count) * BS);
    }

    @Test
    void aWhollyOverwrittenBlockIsRepaired() throws Exception {
        damageBlock(data, 100, new Random(1));
        try (DeviceMapper dm = DeviceMapper.create()) {
            MappedDevice md = open(dm);
            assertArrayEquals(expected(0, BLOCKS), read(md, 0, BLOCKS));
            assertEquals("0 4800 verity V 1", dm.status("v", false).get(0).format());
        }
    }

    @Test
    void twoBlocksOfOneRoundAreRepairedAsErasures() throws Exception {
        damageBlock(data, 1, new Random(2));
        damageBlock(data, 4, new Random(3));
        try (DeviceMapper dm = DeviceMapper.create()) {
            MappedDevice md = open(dm);
            assertArrayEquals(expected(1, 1), read(md, 1, 1));
            assertArrayEquals(expected(4, 1), read(md, 4, 1));
            assertEquals("0 4800 verity V 2", dm.status("v", false).get(0).format());
        }
    }

    @Test
    void aDamagedHashBlockIsRepaired() throws Exception {
        damageBlock(hash, 2, new Random(4)); // the first level-0 block (block 0 is the superblock, 1 the root level)
        try (DeviceMapper dm = DeviceMapper.create()) {
            MappedDevice md = open(dm);
            assertArrayEquals(expected(0, 128), read(md, 0, 128));
            assertEquals("0 4800 verity V 1", dm.status("v", false).get(0).format());
        }
    }

    @Test
    void damageBeyondTheCodeFailsWithEioNamingTheBlock() throws Exception {
        for (long b : new long[]{7, 10, 13}) {
            damageBlock(data, b, new Random(b));
        }
        try (DeviceMapper dm = DeviceMapper.create()) {
            MappedDevice md = open(dm);
            BlockIoException e = assertThrows(BlockIoException.class, () -> read(md, 7, 1));
            assertEquals(Errno.EIO, e.errno());
            assertEquals("verity: data block 7 is corrupted", e.getMessage());
            assertEquals("0 4800 verity C 0", dm.status("v", false).get(0).format());
            assertArrayEquals(expected(8, 2), read(md, 8, 2));
        }
    }

    @Test
    void verifyAcceptsRepairableDamageAndRefusesTheRestLikeVeritysetup() throws Exception {
        damageBlock(data, 100, new Random(1));
        VerityOptions withFec = VerityOptions.defaults().withFecDevice(fec).withFecRoots(2);
        Tool theirs = Tool.run(dir, "veritysetup", "verify", "--fec-device", fec.toString(), data.toString(), hash.toString(), root);
        assertEquals(0, theirs.exitCode(), theirs.stderr());
        Veritysetup.Result ours = Veritysetup.verify(data, hash, root, withFec);
        assertEquals(theirs.stderr().strip(), ours.messages());
        assertTrue(ours.messages().startsWith("Verification failed at position 409600.\nVerification of data area failed.\nFound 40"),
                ours.messages());

        damageBlock(data, 103, new Random(5)); // a second damaged block in round 1: beyond RS(255, 253) without erasures
        Tool refused = Tool.run(dir, "veritysetup", "verify", "--fec-device", fec.toString(), data.toString(), hash.toString(), root);
        assertNotEquals(0, refused.exitCode());
        VerityException e = assertThrows(VerityException.class, () -> Veritysetup.verify(data, hash, root, withFec));
        assertEquals("Verification failed at position 409600.\nVerification of data area failed.\n"
                + "Failed to repair parity for block 1.\nErrors cannot be repaired with FEC device.", e.getMessage());
        assertEquals(refused.stderr().strip(), e.getMessage());
    }
}
