package dev.jdm.formats.verity;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.targets.verity.VerityTarget;
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
 * Reads through the verity target of images jdm formats itself: which block fails, with which error,
 * that nothing else is affected, and what each corruption mode does.
 */
class VerityTargetReadTest {
    private static final int BS = 4096;
    private static final int BLOCKS = 300; // two level-0 hash blocks with sha256

    @TempDir
    Path dir;
    Path data;
    Path hash;
    byte[] original;
    String root;

    @BeforeEach
    void image() throws Exception {
        original = new byte[BLOCKS * BS];
        new Random(7).nextBytes(original);
        Arrays.fill(original, 10 * BS, 11 * BS, (byte) 0); // block 10 is all zeroes
        data = dir.resolve("data.img");
        hash = dir.resolve("hash.img");
        Files.write(data, original);
        root = Veritysetup.format(data, hash, VerityOptions.defaults().withSalt("1234")).rootHashHex();
    }

    private String table(String options) throws Exception {
        String t = Veritysetup.open(data, hash, root, VerityOptions.defaults());
        return options.isEmpty() ? t : t + " " + options;
    }

    private static void scribble(Path file, long offset, byte... bytes) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek(offset);
            f.write(bytes);
        }
    }

    private static byte[] read(MappedDevice md, long block, int count) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(count * BS);
        md.read(block * BS, b);
        return b.array();
    }

    private byte[] expected(long block, int count) {
        return Arrays.copyOfRange(original, (int) block * BS, (int) (block + count) * BS);
    }

    private static String status(DeviceMapper dm) throws DmException {
        return dm.status("v", false).get(0).format();
    }

    @Test
    void corruptedDataBlockFailsWithEioNamingItAndNothingElse() throws Exception {
        scribble(data, 42L * BS + 100, (byte) 0x5a);
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("v", null, table(""), true);
            MappedDevice md = dm.device("v");
            assertEquals("0 2400 verity V -", status(dm));
            BlockIoException e = assertThrows(BlockIoException.class, () -> read(md, 40, 4));
            assertEquals(Errno.EIO, e.errno());
            assertEquals("verity: data block 42 is corrupted", e.getMessage());
            assertEquals("0 2400 verity C -", status(dm));
            assertArrayEquals(expected(0, 42), read(md, 0, 42));
            assertArrayEquals(expected(43, BLOCKS - 43), read(md, 43, BLOCKS - 43));
            assertEquals(1, dm.info("v").eventNumber());
        }
    }

    @Test
    void largeReadsAreCheckedInSlicesAndReportTheLowestCorruptedBlock() throws Exception {
        scribble(data, 250L * BS + 1, (byte) 0x5a);
        scribble(data, 130L * BS + 2, (byte) 0x5a);
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("v", null, table(""), true);
            MappedDevice md = dm.device("v");
            assertArrayEquals(expected(0, 130), read(md, 0, 130));
            BlockIoException e = assertThrows(BlockIoException.class, () -> read(md, 0, BLOCKS));
            assertEquals("verity: data block 130 is corrupted", e.getMessage());
            assertEquals(2, dm.info("v").eventNumber(), "both corrupted blocks were found, each raised its event");
            assertArrayEquals(expected(131, 119), read(md, 131, 119));
        }
    }

    @Test
    void corruptedHashBlockFailsOnlyTheBlocksItCovers() throws Exception {
        // tree: block 0 superblock, block 1 the root level, blocks 2..4 level 0 (128 digests each)
        scribble(hash, 3L * BS + 7, (byte) 1);
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("v", null, table(""), true);
            MappedDevice md = dm.device("v");
            assertArrayEquals(expected(0, 128), read(md, 0, 128));
            BlockIoException e = assertThrows(BlockIoException.class, () -> read(md, 128, 1));
            assertEquals("verity: metadata block 3 is corrupted", e.getMessage());
            assertEquals(Errno.EIO, e.errno());
            assertThrows(BlockIoException.class, () -> read(md, 255, 1));
            assertArrayEquals(expected(256, BLOCKS - 256), read(md, 256, BLOCKS - 256));
            assertEquals("0 2400 verity C -", status(dm));
        }
    }

    @Test
    void ignoreCorruptionReturnsTheDataAndReportsC() throws Exception {
        scribble(data, 5L * BS, (byte) 0x77);
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("v", null, table("1 ignore_corruption"), true);
            MappedDevice md = dm.device("v");
            byte[] got = read(md, 5, 1);
            byte[] want = expected(5, 1);
            want[0] = 0x77;
            assertArrayEquals(want, got);
            assertEquals("0 2400 verity C -", status(dm));
            assertTrue(dm.table("v", false).get(0).format().endsWith(" 1234 1 ignore_corruption"));
        }
    }

    @Test
    void panicOnCorruptionStopsTheDevice() throws Exception {
        scribble(data, 5L * BS, (byte) 0x77);
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("v", null, table("1 panic_on_corruption"), true);
            MappedDevice md = dm.device("v");
            assertArrayEquals(expected(0, 5), read(md, 0, 5));
            assertEquals("verity: data block 5 is corrupted", assertThrows(BlockIoException.class, () -> read(md, 5, 1)).getMessage());
            BlockIoException after = assertThrows(BlockIoException.class, () -> read(md, 0, 1));
            assertEquals("verity: device stopped after corruption (panic mode)", after.getMessage());
            assertEquals("0 2400 verity C -", status(dm));
        }
    }

    @Test
    void restartOnCorruptionFailsTheReadAndRaisesAnEvent() throws Exception {
        scribble(data, 5L * BS, (byte) 0x77);
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("v", null, table("1 restart_on_corruption"), true);
            MappedDevice md = dm.device("v");
            assertThrows(BlockIoException.class, () -> read(md, 5, 1));
            assertEquals(1, dm.info("v").eventNumber());
            assertArrayEquals(expected(6, 1), read(md, 6, 1));
        }
    }

    @Test
    void checkAtMostOnceTrustsABlockOnceVerified() throws Exception {
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("v", null, table("1 check_at_most_once"), true);
            MappedDevice md = dm.device("v");
            assertArrayEquals(expected(7, 1), read(md, 7, 1));
            scribble(data, 7L * BS, (byte) 0x11);
            scribble(data, 8L * BS, (byte) 0x11);
            byte[] again = read(md, 7, 1);
            assertEquals(0x11, again[0]);
            assertEquals("verity: data block 8 is corrupted", assertThrows(BlockIoException.class, () -> read(md, 8, 1)).getMessage());
        }
    }

    @Test
    void dataCacheServesBlocksVerifiedOnTheirReadAndVerifiesAgainAfterEvictionOrSuspend() throws Exception {
        System.setProperty(VerityTarget.DATA_CACHE_PROPERTY, "1"); // 256 blocks: 7 and 263 share a slot
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("v", null, table(""), true);
            MappedDevice md = dm.device("v");
            scribble(data, 8L * BS, (byte) 0x11);
            assertEquals("verity: data block 8 is corrupted", assertThrows(BlockIoException.class, () -> read(md, 8, 1)).getMessage());
            assertEquals("verity: data block 8 is corrupted", assertThrows(BlockIoException.class, () -> read(md, 8, 1)).getMessage(),
                    "a block that failed is not cached");

            assertArrayEquals(expected(7, 1), read(md, 7, 1));
            scribble(data, 7L * BS, (byte) 0x11);
            assertArrayEquals(expected(7, 1), read(md, 7, 1), "the bytes verified when block 7 was read, not the device's");
            assertArrayEquals(expected(263, 1), read(md, 263, 1));
            assertEquals("verity: data block 7 is corrupted", assertThrows(BlockIoException.class, () -> read(md, 7, 1)).getMessage(),
                    "evicted by block 263, block 7 is read and verified again");

            assertArrayEquals(expected(20, 4), read(md, 20, 4));
            scribble(data, 21L * BS, (byte) 0x11);
            assertArrayEquals(expected(20, 4), read(md, 20, 4));
            dm.suspend("v", false);
            dm.resume("v");
            assertEquals("verity: data block 21 is corrupted", assertThrows(BlockIoException.class, () -> read(md, 20, 4)).getMessage(),
                    "suspend forgets the cache");

            assertArrayEquals(expected(100, 150), read(md, 100, 150));
            scribble(data, 110L * BS, (byte) 0x11);
            assertEquals("verity: data block 110 is corrupted", assertThrows(BlockIoException.class, () -> read(md, 110, 1)).getMessage(),
                    "large reads do not fill the cache");
        } finally {
            System.clearProperty(VerityTarget.DATA_CACHE_PROPERTY);
        }
    }

    @Test
    void ignoreZeroBlocksReturnsZeroesWithoutReading() throws Exception {
        scribble(data, 10L * BS + 9, (byte) 0x33);
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("v", null, table("1 ignore_zero_blocks"), true);
            assertArrayEquals(new byte[BS], read(dm.device("v"), 10, 1));
            assertEquals("0 2400 verity V -", status(dm));
        }
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("v", null, table(""), true);
            assertThrows(BlockIoException.class, () -> read(dm.device("v"), 10, 1));
        }
    }

    @Test
    void writesUnalignedReadsAndWritableTablesAreRefused() throws Exception {
        try (DeviceMapper dm = DeviceMapper.create()) {
            DmException rw = assertThrows(DmException.class, () -> dm.create("w", null, table(""), false));
            assertEquals("table line 1: verity: Device must be readonly (load the table read-only)", rw.getMessage());
            dm.create("v", null, table(""), true);
            MappedDevice md = dm.device("v");
            BlockIoException unaligned = assertThrows(BlockIoException.class, () -> md.read(512, ByteBuffer.allocate(BS)));
            assertEquals(Errno.EIO, unaligned.errno());
            assertThrows(java.io.IOException.class, () -> md.write(0, ByteBuffer.allocate(BS), false));
            assertEquals("0 2400 verity V -", status(dm));
        }
    }

    @Test
    void ioErrorsOfTheDataDeviceFollowTheErrorMode() throws Exception {
        String onErrorTarget = "0 2400 verity 1 /dev/mapper/bad " + hash + " 4096 4096 300 1 sha256 " + root + " 1234";
        for (String mode : new String[]{"", " 1 restart_on_error", " 1 panic_on_error"}) {
            try (DeviceMapper dm = DeviceMapper.create()) {
                dm.create("bad", null, "0 2400 error", true);
                dm.create("v", null, onErrorTarget + mode, true);
                MappedDevice md = dm.device("v");
                BlockIoException e = assertThrows(BlockIoException.class, () -> read(md, 0, 1));
                assertEquals(Errno.EIO, e.errno());
                assertEquals(mode.isEmpty() ? 0 : 1, dm.info("v").eventNumber(), mode);
                BlockIoException again = assertThrows(BlockIoException.class, () -> read(md, 1, BLOCKS - 1));
                assertEquals(mode.isEmpty() ? 0 : mode.contains("panic") ? 1 : 2, dm.info("v").eventNumber(),
                        "one event per failed read, however many slices failed; none once stopped");
                assertEquals(mode.contains("panic") ? "verity: device stopped after an I/O error (panic mode)" : e.getMessage(),
                        again.getMessage(), mode);
                assertEquals("0 2400 verity V -", status(dm), "an I/O error is not a corruption");
            }
        }
    }
}
