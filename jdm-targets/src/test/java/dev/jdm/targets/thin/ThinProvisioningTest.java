package dev.jdm.targets.thin;

import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.core.io.ExtentSink;
import dev.jdm.core.io.FileBlockDevice;
import dev.jdm.targets.lib.Prison;
import dev.jdm.targets.thin.metadata.ThinMetadata;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static dev.jdm.targets.thin.ThinFixture.BLOCK;
import static dev.jdm.core.testing.TestPattern.pattern;
import static dev.jdm.targets.thin.ThinFixture.read;
import static dev.jdm.targets.thin.ThinFixture.write;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ThinProvisioningTest {
    @TempDir
    Path dir;

    private static byte[] filled(int length, int value) {
        byte[] b = new byte[length];
        Arrays.fill(b, (byte) value);
        return b;
    }

    private static byte[] concat(byte[]... parts) {
        ByteBuffer b = ByteBuffer.allocate(Arrays.stream(parts).mapToInt(p -> p.length).sum());
        for (byte[] p : parts) {
            b.put(p);
        }
        return b.array();
    }

    private static String used(ThinFixture f) throws DmException {
        return f.status("pool").split(" ")[2];
    }

    /** The data file's bytes for one data block. */
    private static byte[] dataBlock(ThinFixture f, long block) throws Exception {
        byte[] all = Files.readAllBytes(f.data);
        return Arrays.copyOfRange(all, (int) (block * BLOCK), (int) ((block + 1) * BLOCK));
    }

    @Test
    void freshPoolAndThinReportTheKernelsStatusAndTable() throws Exception {
        try (ThinFixture f = new ThinFixture(dir, 64)) {
            f.createPool("pool", 10);
            assertEquals(f.metadata + " " + f.data + " 128 10 0 ", f.table("pool"));
            assertEquals("0 111/1024 0/64 - rw discard_passdown queue_if_no_space - 256 ", f.status("pool"));
            f.message("pool", "create_thin", "0");
            MappedDevice thin = f.createThin("pool", "thin", 0, 2048);
            assertEquals("253:0 0", f.table("thin"));
            assertEquals("0 -", f.status("thin"));
            byte[] data = pattern(4096, 1);
            write(thin, BLOCK + 512, data);
            assertArrayEquals(data, read(thin, BLOCK + 512, 4096));
            assertEquals("128 255", f.status("thin"));
            assertEquals("1/64", used(f));
        }
    }

    @Test
    void newBlocksAreZeroedAroundAPartialWriteUnlessSkipped() throws Exception {
        for (boolean skip : new boolean[] {false, true}) {
            Path sub = Files.createDirectory(dir.resolve("skip-" + skip));
            try (ThinFixture f = new ThinFixture(sub, 16)) {
                Files.write(f.data, filled(16 * BLOCK, 0xAA));
                if (skip) {
                    f.createPool("pool", 0, "skip_block_zeroing");
                } else {
                    f.createPool("pool", 0);
                }
                f.message("pool", "create_thin", "0");
                MappedDevice thin = f.createThin("pool", "thin", 0, 1024);
                byte[] data = pattern(1024, 2);
                write(thin, 2 * BLOCK + 4096, data);
                byte[] rest = filled(BLOCK - 4096 - 1024, skip ? 0xAA : 0);
                byte[] expected = concat(filled(4096, skip ? 0xAA : 0), data, rest);
                assertArrayEquals(expected, read(thin, 2 * BLOCK, BLOCK));
                assertArrayEquals(expected, dataBlock(f, 0), "the first allocated data block holds the write");
                assertTrue(ThinFixture.allZero(read(thin, 0, 2 * BLOCK)), "unprovisioned blocks read as zeroes");
                byte[] whole = pattern(BLOCK, 3);
                write(thin, 0, whole);
                assertArrayEquals(whole, dataBlock(f, 1));
            }
        }
    }

    @Test
    void writesToSharedBlocksBreakSharingThroughSnapshotsOfSnapshots() throws Exception {
        try (ThinFixture f = new ThinFixture(dir, 64)) {
            f.createPool("pool", 0);
            f.message("pool", "create_thin", "1");
            MappedDevice origin = f.createThin("pool", "origin", 1, 1024);
            byte[] v1 = pattern(2 * BLOCK, 10);
            write(origin, 0, v1);
            f.dm.suspend("origin", false);
            f.message("pool", "create_snap", "2", "1");
            f.dm.resume("origin");
            MappedDevice snap = f.createThin("pool", "snap", 2, 1024);
            assertEquals("2/64", used(f));
            assertEquals("256 255", f.status("snap"));

            byte[] patch = pattern(512, 11);
            write(origin, 1024, patch);
            byte[] v2 = v1.clone();
            System.arraycopy(patch, 0, v2, 1024, 512);
            assertArrayEquals(v2, read(origin, 0, 2 * BLOCK));
            assertArrayEquals(v1, read(snap, 0, 2 * BLOCK));
            assertEquals("3/64", used(f));
            write(origin, 2048, patch);
            System.arraycopy(patch, 0, v2, 2048, 512);
            assertEquals("3/64", used(f), "a block broken away from the snapshot is written in place after");

            f.message("pool", "create_snap", "3", "2");
            MappedDevice snapOfSnap = f.createThin("pool", "snap3", 3, 1024);
            byte[] other = pattern(BLOCK, 12);
            write(snapOfSnap, BLOCK, other);
            assertArrayEquals(concat(Arrays.copyOf(v1, BLOCK), other), read(snapOfSnap, 0, 2 * BLOCK));
            assertArrayEquals(v1, read(snap, 0, 2 * BLOCK));
            assertArrayEquals(v2, read(origin, 0, 2 * BLOCK));
            assertEquals("4/64", used(f), "a whole-block write to a shared block allocates without copying");
            write(snap, 0, other);
            assertArrayEquals(concat(other, Arrays.copyOfRange(v1, BLOCK, 2 * BLOCK)), read(snap, 0, 2 * BLOCK));
            assertArrayEquals(Arrays.copyOf(v1, BLOCK), read(snapOfSnap, 0, BLOCK));
            assertEquals("5/64", used(f));
        }
    }

    /**
     * An external origin that is a thin device of the same pool: the origin is read while the written
     * block's cell is held exclusively, and the origin's block may share that cell's lock stripe (for a
     * pair of device ids whose stripes coincide, every block does).
     */
    @Test
    void anExternalOriginInTheSamePoolIsReadUnderTheWrittenBlocksCell() throws Exception {
        Prison stripes = new Prison();
        long dev = 1;
        while (stripes.cell(dev, 0) != stripes.cell(0, 0)) {
            dev++;
        }
        long vb = 3;
        try (ThinFixture f = new ThinFixture(dir, 16)) {
            f.createPool("pool", 0);
            f.message("pool", "create_thin", "0");
            long sectors = (vb + 1) * 128;
            MappedDevice origin = f.createThin("pool", "origin", 0, sectors);
            byte[] originBlock = pattern(BLOCK, 50);
            write(origin, vb * BLOCK, originBlock);
            f.message("pool", "create_thin", Long.toString(dev));
            f.dm.create("ext", null, "0 " + sectors + " thin /dev/mapper/pool " + dev + " /dev/mapper/origin", false);
            byte[] patch = pattern(4096, 51);
            long at = vb * BLOCK;
            assertTimeoutPreemptively(Duration.ofSeconds(20), () -> write(f.dm.device("ext"), at + 4096, patch));
            byte[] expected = originBlock.clone();
            System.arraycopy(patch, 0, expected, 4096, patch.length);
            assertArrayEquals(expected, read(f.dm.device("ext"), at, BLOCK));
            assertArrayEquals(originBlock, read(origin, at, BLOCK));
        }
    }

    /** 2 MiB blocks are filled in 1 MiB chunks: zeroes, the shared block's bytes or the origin's around the write. */
    @Test
    void blocksLargerThanAChunkAreZeroedAndCopiedWhole() throws Exception {
        int big = 4096 * 512;
        Path originFile = dir.resolve("origin");
        byte[] originData = pattern(big + big / 4 + 512, 40);
        Files.write(originFile, originData);
        Path meta = dev.jdm.core.testing.TestFiles.sparse(dir, "bigmeta", ThinFixture.METADATA_BYTES);
        Path dataFile = dir.resolve("bigdata");
        Files.write(dataFile, filled(8 * big, 0xAA));
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("pool", null, "0 " + 8 * 4096 + " thin-pool " + meta + " " + dataFile + " 4096 0", false);
            dm.message("pool", 0, "create_thin 0"); // one string, as dmsetup sends it
            dm.create("thin", null, "0 " + 4 * 4096 + " thin /dev/mapper/pool 0", false);
            MappedDevice thin = dm.device("thin");
            byte[] patch = pattern(4096, 41);
            write(thin, big + big / 2 - 1024, patch);
            byte[] expected = new byte[2 * big];
            System.arraycopy(patch, 0, expected, big + big / 2 - 1024, 4096);
            assertArrayEquals(expected, read(thin, 0, 2 * big));

            dm.message("pool", 0, List.of("create_snap", "1", "0"));
            dm.create("snap", null, "0 " + 4 * 4096 + " thin /dev/mapper/pool 1", false);
            byte[] other = pattern(512, 42);
            write(dm.device("snap"), big + 100 * 512, other);
            byte[] snapExpected = expected.clone();
            System.arraycopy(other, 0, snapExpected, big + 100 * 512, 512);
            assertArrayEquals(snapExpected, read(dm.device("snap"), 0, 2 * big));
            assertArrayEquals(expected, read(thin, 0, 2 * big));

            dm.message("pool", 0, List.of("create_thin", "2"));
            dm.create("ext", null, "0 " + 4 * 4096 + " thin /dev/mapper/pool 2 " + originFile, false);
            write(dm.device("ext"), big + 512, other);
            byte[] extExpected = new byte[2 * big];
            System.arraycopy(originData, 0, extExpected, 0, originData.length);
            System.arraycopy(other, 0, extExpected, big + 512, 512);
            assertArrayEquals(extExpected, read(dm.device("ext"), 0, 2 * big));
            dm.removeAll(true);
        }
    }

    @Test
    void externalOriginFillsUnprovisionedBlocksWithinItsSize() throws Exception {
        try (ThinFixture f = new ThinFixture(dir, 16)) {
            Path originFile = dir.resolve("origin");
            byte[] originData = pattern(BLOCK + BLOCK / 2, 20);
            Files.write(originFile, originData);
            f.createPool("pool", 0);
            f.message("pool", "create_thin", "0");
            f.dm.create("thin", null, "0 1024 thin /dev/mapper/pool 0 " + originFile, false);
            MappedDevice thin = f.dm.device("thin");
            assertEquals("253:0 0 " + originFile, f.table("thin"));
            byte[] expected = concat(originData, new byte[BLOCK / 2]);
            assertArrayEquals(expected, read(thin, 0, 2 * BLOCK));
            byte[] patch = pattern(512, 21);
            write(thin, BLOCK + 1024, patch);
            System.arraycopy(patch, 0, expected, BLOCK + 1024, 512);
            assertArrayEquals(expected, read(thin, 0, 2 * BLOCK));
            assertArrayEquals(Arrays.copyOfRange(expected, BLOCK, 2 * BLOCK), dataBlock(f, 0), "copied from the origin, zero beyond it");
            assertArrayEquals(originData, Files.readAllBytes(originFile), "the origin is never written");

            List<String> extents = new ArrayList<>();
            thin.allocation(0, 4 * BLOCK, (length, flags) -> extents.add(length + ":" + flags));
            assertEquals(List.of(2 * BLOCK + ":0", 2 * BLOCK + ":" + (ExtentSink.HOLE | ExtentSink.ZERO)), extents);
            DmException same = assertThrows(DmException.class, () -> f.dm.create("bad", null,
                    "0 8 thin /dev/mapper/pool 0 /dev/mapper/pool", false));
            assertEquals("table line 1: thin: argument 3 (\"/dev/mapper/pool\"): Error setting origin device: "
                    + "the origin must not be the pool", same.getMessage());
        }
    }

    @Test
    void allocationReportsProvisionedBlocksAsDataAndTheRestAsZeroHoles() throws Exception {
        try (ThinFixture f = new ThinFixture(dir, 16)) {
            f.createPool("pool", 0);
            f.message("pool", "create_thin", "0");
            MappedDevice thin = f.createThin("pool", "thin", 0, 1024);
            write(thin, BLOCK, pattern(512, 1));
            write(thin, 2 * BLOCK, pattern(512, 2));
            List<String> extents = new ArrayList<>();
            thin.allocation(4096, 4 * BLOCK, (length, flags) -> extents.add(length + ":" + flags));
            int hole = ExtentSink.HOLE | ExtentSink.ZERO;
            assertEquals(List.of((BLOCK - 4096) + ":" + hole, 2 * BLOCK + ":0", (BLOCK + 4096) + ":" + hole), extents);
        }
    }

    @Test
    void discardsUnmapWholeBlocksAndPassFreedBlocksDown() throws Exception {
        try (ThinFixture f = new ThinFixture(dir, 16)) {
            f.createPool("pool", 0);
            f.message("pool", "create_thin", "0");
            MappedDevice thin = f.createThin("pool", "thin", 0, 1024);
            write(thin, 0, pattern(3 * BLOCK, 5));
            thin.discard(512, 2 * BLOCK);
            assertEquals("2/16", used(f));
            assertEquals("256 383", f.status("thin"));
            assertTrue(ThinFixture.allZero(read(thin, BLOCK, BLOCK)));
            assertTrue(ThinFixture.allZero(dataBlock(f, 1)), "the freed data block was discarded on the data file");
            assertArrayEquals(Arrays.copyOf(pattern(3 * BLOCK, 5), BLOCK), read(thin, 0, BLOCK));

            f.message("pool", "create_snap", "1", "0");
            thin.discard(0, 3 * BLOCK);
            assertEquals("0 -", f.status("thin"));
            assertEquals("2/16", used(f), "blocks the snapshot still maps stay allocated");
            assertArrayEquals(Arrays.copyOf(pattern(3 * BLOCK, 5), BLOCK), dataBlock(f, 0), "and are not passed down");
        }
    }

    @Test
    void noDiscardPassdownUnmapsButLeavesTheDataAndIgnoreDiscardRefuses() throws Exception {
        try (ThinFixture f = new ThinFixture(dir, 16)) {
            f.createPool("pool", 0, "no_discard_passdown");
            f.message("pool", "create_thin", "0");
            MappedDevice thin = f.createThin("pool", "thin", 0, 1024);
            byte[] data = pattern(BLOCK, 6);
            write(thin, 0, data);
            thin.discard(0, BLOCK);
            assertEquals("0/16", used(f));
            assertArrayEquals(data, dataBlock(f, 0));
            assertEquals("0 112/1024 0/16 - rw no_discard_passdown queue_if_no_space - 256 ", f.status("pool"));
        }
        Path sub = Files.createDirectory(dir.resolve("ignore"));
        try (ThinFixture f = new ThinFixture(sub, 16)) {
            f.createPool("pool", 0, "ignore_discard");
            f.message("pool", "create_thin", "0");
            MappedDevice thin = f.createThin("pool", "thin", 0, 1024);
            write(thin, 0, pattern(BLOCK, 6));
            assertEquals(Errno.EOPNOTSUPP, assertThrows(dev.jdm.core.BlockIoException.class,
                    () -> thin.discard(0, BLOCK)).errno());
            assertEquals("1/16", used(f));
            assertEquals("0 112/1024 1/16 - rw ignore_discard queue_if_no_space - 256 ", f.status("pool"));
        }
    }

    /** A freed block whose data stayed (no passdown) is zeroed when it is handed out again; a hole need not be. */
    @Test
    void aReusedBlockIsZeroedAgain() throws Exception {
        try (ThinFixture f = new ThinFixture(dir, 1)) {
            f.createPool("pool", 0, "no_discard_passdown");
            f.message("pool", "create_thin", "0");
            MappedDevice thin = f.createThin("pool", "thin", 0, 1024);
            write(thin, 0, pattern(BLOCK, 8));
            thin.discard(0, BLOCK);
            thin.flush();
            byte[] patch = pattern(512, 9);
            write(thin, 3L * BLOCK + 1024, patch);
            assertEquals("1/1", used(f));
            assertArrayEquals(concat(new byte[1024], patch, new byte[BLOCK - 1536]), read(thin, 3L * BLOCK, BLOCK));
            assertArrayEquals(concat(new byte[1024], patch, new byte[BLOCK - 1536]), dataBlock(f, 0));
        }
    }

    /** A hole found before a block was written, freed and committed says nothing of it when it comes back. */
    @Test
    void aBlockReusedAfterACommitIsZeroedThoughItLayInAHoleFoundBefore() throws Exception {
        try (ThinFixture f = new ThinFixture(dir, 2)) {
            f.createPool("pool", 0, "no_discard_passdown");
            f.message("pool", "create_thin", "0");
            MappedDevice thin = f.createThin("pool", "thin", 0, 1024);
            byte[] patch = pattern(512, 6);
            write(thin, 1024, patch); // data block 0: the probe finds blocks 0 and 1 in a hole
            write(thin, BLOCK + 1024, patch); // data block 1, from the hole found
            write(thin, BLOCK, pattern(BLOCK, 7));
            thin.discard(BLOCK, BLOCK);
            thin.flush();
            write(thin, 5L * BLOCK + 1024, patch); // data block 1 again
            assertEquals("2/2", used(f));
            byte[] zeroedAround = concat(new byte[1024], patch, new byte[BLOCK - 1536]);
            assertArrayEquals(zeroedAround, read(thin, 5L * BLOCK, BLOCK));
            assertArrayEquals(zeroedAround, dataBlock(f, 1));
        }
    }

    /**
     * New blocks in a hole of the data file skip zeroing without a probe each (one SEEK_DATA covers the hole);
     * a block written through the pool device since, behind the allocator's back, is zeroed all the same.
     */
    @Test
    void aHoleFoundOnceIsNotTrustedAfterAWriteThroughThePoolDevice() throws Exception {
        try (ThinFixture f = new ThinFixture(dir, 4)) {
            f.createPool("pool", 0);
            f.message("pool", "create_thin", "0");
            MappedDevice thin = f.createThin("pool", "thin", 0, 1024);
            byte[] patch = pattern(512, 4);
            write(thin, 1024, patch);
            write(f.dm.device("pool"), BLOCK, pattern(BLOCK, 5)); // data block 1, still free
            write(thin, BLOCK + 1024, patch);
            byte[] zeroedAround = concat(new byte[1024], patch, new byte[BLOCK - 1536]);
            assertArrayEquals(zeroedAround, read(thin, 0, BLOCK));
            assertArrayEquals(zeroedAround, read(thin, BLOCK, BLOCK), "block 1 was zeroed around the write");
            assertArrayEquals(zeroedAround, dataBlock(f, 1));
        }
    }

    @Test
    void concurrentWritesToOneUnprovisionedBlockAllocateItOnce() throws Exception {
        try (ThinFixture f = new ThinFixture(dir, 64)) {
            f.createPool("pool", 0);
            f.message("pool", "create_thin", "0");
            MappedDevice thin = f.createThin("pool", "thin", 0, 8 * 128);
            int threads = 8;
            CountDownLatch start = new CountDownLatch(1);
            try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
                List<Future<?>> done = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    int id = t;
                    done.add(pool.submit(() -> {
                        start.await();
                        for (int b = 0; b < 8; b++) {
                            write(thin, b * (long) BLOCK + id * 512L, filled(512, id + 1));
                        }
                        return null;
                    }));
                }
                start.countDown();
                for (Future<?> d : done) {
                    d.get();
                }
            }
            assertEquals("8/64", used(f));
            for (int b = 0; b < 8; b++) {
                byte[] block = read(thin, b * (long) BLOCK, BLOCK);
                for (int t = 0; t < threads; t++) {
                    assertArrayEquals(filled(512, t + 1), Arrays.copyOfRange(block, t * 512, t * 512 + 512));
                }
                assertTrue(ThinFixture.allZero(Arrays.copyOfRange(block, threads * 512, BLOCK)));
            }
        }
    }

    @Test
    void aFlushCommitsAndThePoolReopensFromItsMetadata() throws Exception {
        byte[] data = pattern(BLOCK + 4096, 30);
        Path meta;
        Path dataFile;
        try (ThinFixture f = new ThinFixture(dir, 16)) {
            meta = f.metadata;
            dataFile = f.data;
            f.createPool("pool", 0);
            f.message("pool", "create_thin", "5");
            MappedDevice thin = f.createThin("pool", "thin", 5, 2048);
            write(thin, 3 * BLOCK, data);
            thin.flush();
            Path copy = dir.resolve("meta-copy");
            Files.copy(meta, copy);
            try (ThinMetadata md = ThinMetadata.open(FileBlockDevice.open(copy, FileBlockDevice.Options.READ_ONLY), 64)) {
                assertEquals(2, md.details(5).mappedBlocks(), "the flush committed both new mappings");
            }
            write(thin, 12 * BLOCK, Arrays.copyOf(data, 512));
            f.dm.suspend("pool", false);
            Files.copy(meta, copy, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            try (ThinMetadata md = ThinMetadata.open(FileBlockDevice.open(copy, FileBlockDevice.Options.READ_ONLY), 64)) {
                assertEquals(3, md.details(5).mappedBlocks(), "suspending the pool committed");
            }
            f.dm.resume("pool");
            thin.write(9 * BLOCK, ByteBuffer.wrap(data, 0, 512), true);
            Files.copy(meta, copy, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            try (ThinMetadata md = ThinMetadata.open(FileBlockDevice.open(copy, FileBlockDevice.Options.READ_ONLY), 64)) {
                assertEquals(4, md.details(5).mappedBlocks(), "a FUA write is committed before it returns");
            }
        }
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("pool", null, "0 " + (16 * 128) + " thin-pool " + meta + " " + dataFile + " 128 0", false);
            dm.create("thin", null, "0 2048 thin /dev/mapper/pool 5", false);
            MappedDevice thin = dm.device("thin");
            assertArrayEquals(data, read(thin, 3 * BLOCK, data.length));
            assertArrayEquals(Arrays.copyOf(data, 512), read(thin, 9 * BLOCK, 512));
            assertArrayEquals(Arrays.copyOf(data, 512), read(thin, 12 * BLOCK, 512));
            dm.removeAll(true);
        }
    }

    @Test
    void thinTablesAreRefusedWithTheKernelsReasons() throws Exception {
        try (ThinFixture f = new ThinFixture(dir, 16)) {
            f.createPool("pool", 0);
            f.message("pool", "create_thin", "0");
            f.dm.create("lin", null, "0 128 linear " + f.data + " 0", false);
            String[] cases = {
                "0 8 thin /dev/mapper/pool", "table line 1: thin: Invalid argument count: expected <pool dev> <dev id> "
                    + "[<external origin dev>], got 1",
                "0 8 thin /dev/mapper/pool 16777216", "table line 1: thin: argument 2 (\"16777216\"): Invalid device id",
                "0 8 thin /dev/mapper/lin 0", "table line 1: thin: argument 1 (\"/dev/mapper/lin\"): Couldn't find pool object: "
                    + "no thin-pool table is bound to this device",
                "0 8 thin " + f.data + " 0", "table line 1: thin: argument 1 (\"" + f.data + "\"): Couldn't get pool mapped "
                    + "device: the pool must be a mapped device",
                "0 8 thin /dev/mapper/pool 7", "table line 1: thin: Couldn't open thin internal device: thin device 7 "
                    + "does not exist in the pool",
            };
            for (int i = 0; i < cases.length; i += 2) {
                String table = cases[i];
                DmException e = assertThrows(DmException.class, () -> f.dm.create("thin", null, table, false));
                assertEquals(cases[i + 1], e.getMessage());
            }
            f.dm.suspend("pool", false);
            DmException suspended = assertThrows(DmException.class, () -> f.dm.create("thin", null,
                    "0 8 thin 253:0 0", false));
            assertEquals("table line 1: thin: Unable to activate thin device while pool is suspended", suspended.getMessage());
            f.dm.resume("pool");
            f.dm.create("thin", null, "0 8 thin 253:0 0", false);
            assertEquals("253:0 0", f.table("thin"));
        }
    }
}
