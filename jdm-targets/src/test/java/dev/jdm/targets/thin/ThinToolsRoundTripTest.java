package dev.jdm.targets.thin;

import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.core.io.FileBlockDevice;
import dev.jdm.core.testing.TestFiles;
import dev.jdm.pdata.PdataTools;
import dev.jdm.targets.thin.metadata.ThinMetadata;
import dev.jdm.targets.thin.metadata.ThinTools;
import dev.jdm.targets.thin.metadata.ThinView;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * thin-pool and thin against thin-provisioning-tools 0.9.0, both ways: a pool over metadata that
 * thin_restore wrote reads every mapping from the right data block; metadata that the pool wrote after
 * random messages and I/O passes thin_check and thin_dump shows exactly the mappings a reference model
 * of the kernel's semantics predicts (and the ones jdm's own metadata reader sees).
 */
class ThinToolsRoundTripTest {
    private static final int BLOCK_SECTORS = 128;
    private static final int BLOCK_BYTES = BLOCK_SECTORS * 512;
    private static final long METADATA_BYTES = 8L << 20;
    /** Data blocks of the pools restored by thin_restore. */
    private static final long DATA_BLOCKS = 3000;
    private static final long METADATA_BLOCKS = METADATA_BYTES / PoolFiles.METADATA_BLOCK;
    private static final String CLEAN_CHECK = "examining superblock\nexamining devices tree\nexamining mapping tree\nchecking space map counts\n";

    @TempDir
    Path dir;
    final DeviceMapper dm = DeviceMapper.create();

    @AfterEach
    void close() {
        dm.close();
    }

    // ---------------------------------------------------------------- thin_restore -> jdm

    /**
     * Devices as thin_restore takes them: long runs (bottom trees of several levels), short runs, snapshot-like
     * devices sharing most of an earlier device's data blocks, an empty device, and the largest device id.
     */
    private static ThinTools.Dump restorablePool(Random rnd, int devices, long mappableBlocks) {
        TreeMap<Long, ThinTools.Device> out = new TreeMap<>();
        List<TreeMap<Long, ThinMetadata.Mapping>> earlier = new ArrayList<>();
        long nextData = rnd.nextInt(5);
        for (int i = 0; i < devices; i++) {
            long id = i == devices - 1 ? ThinMetadata.MAX_DEVICE_ID : i * 7L + rnd.nextInt(7);
            TreeMap<Long, ThinMetadata.Mapping> maps = new TreeMap<>();
            if (i == 1) {
                // an empty device
            } else if (!earlier.isEmpty() && rnd.nextBoolean()) {
                for (var e : earlier.get(rnd.nextInt(earlier.size())).entrySet()) {
                    if (rnd.nextInt(8) > 0) {
                        maps.put(e.getKey(), e.getValue());
                    }
                }
                for (int k = 0; k < 30 && nextData < mappableBlocks; k++) {
                    maps.put((long) rnd.nextInt(3000), new ThinMetadata.Mapping(nextData++, 2 + rnd.nextInt(3)));
                }
            } else {
                long v = rnd.nextInt(500);
                for (int r = 0; r < 1 + rnd.nextInt(6) && nextData < mappableBlocks; r++) {
                    int len = rnd.nextInt(3) == 0 ? 300 + rnd.nextInt(300) : 1 + rnd.nextInt(20);
                    int time = rnd.nextInt(3);
                    for (int k = 0; k < len && nextData < mappableBlocks; k++) {
                        maps.put(v++, new ThinMetadata.Mapping(nextData++, time));
                    }
                    v += rnd.nextInt(200);
                    nextData += rnd.nextInt(3);
                }
            }
            earlier.add(maps);
            out.put(id, new ThinTools.Device(id, maps.size(), rnd.nextInt(5), rnd.nextInt(2), 2 + rnd.nextInt(3), maps));
        }
        return new ThinTools.Dump(5 + rnd.nextInt(100), 4, BLOCK_SECTORS, DATA_BLOCKS, out);
    }

    @Test
    void everyMappingThinRestoreWroteReadsItsDataBlockThroughTheThinDevices() throws Exception {
        long nrData = DATA_BLOCKS;
        for (int seed = 1; seed <= 3; seed++) {
            // a fresh file each time: the second half of each round writes and discards through the pool
            Path data = PoolFiles.patterned(dir, "data" + seed, nrData, BLOCK_BYTES);
            // the restored mappings leave 600 blocks free for the writes of the second half
            ThinTools.Dump pool = restorablePool(new Random(seed), 4 + 2 * seed, nrData - 600);
            Path xml = dir.resolve("pool" + seed + ".xml");
            Files.writeString(xml, ThinTools.toXml(pool));
            Path meta = TestFiles.sparse(dir, "meta" + seed, METADATA_BYTES);
            ThinTools.restore(xml, meta);
            long metaAllocated;
            try (var dev = FileBlockDevice.open(meta, FileBlockDevice.Options.READ_ONLY); var md = ThinMetadata.open(dev, 64)) {
                metaAllocated = md.metadataSpaceMap().nrAllocated();
            }
            Set<Long> usedData = new HashSet<>();
            pool.devices().values().forEach(d -> d.mappings().values().forEach(m -> usedData.add(m.dataBlock())));

            dm.create("pool", null, PoolFiles.poolTable(nrData * BLOCK_SECTORS, meta, data, BLOCK_SECTORS, 0), false);
            assertEquals(pool.transaction() + " " + (metaAllocated + PoolFiles.metadataReserve(METADATA_BLOCKS)) + "/" + METADATA_BLOCKS
                            + " " + usedData.size() + "/" + nrData + " - rw discard_passdown queue_if_no_space - "
                            + PoolFiles.metadataLowWater(METADATA_BLOCKS) + " ",
                    dm.status("pool", false).getFirst().params(), "pool status, seed " + seed);
            String poolDev = dm.info("pool").major() + ":" + dm.info("pool").minor();
            for (ThinTools.Device d : pool.devices().values()) {
                long virtualBlocks = (d.mappings().isEmpty() ? 0 : d.mappings().lastKey()) + 3;
                String name = "thin" + d.id();
                dm.create(name, null, "0 " + virtualBlocks * BLOCK_SECTORS + " thin /dev/mapper/pool " + d.id(), false);
                assertEquals(poolDev + " " + d.id(), dm.table(name, false).getFirst().params());
                assertEquals(d.mappings().isEmpty() ? "0 -"
                                : d.mappings().size() * BLOCK_SECTORS + " " + ((d.mappings().lastKey() + 1) * BLOCK_SECTORS - 1),
                        dm.status(name, false).getFirst().params(), name + " status, seed " + seed);
                assertReadsMatch(dm.device(name), d.mappings(), virtualBlocks, new Random(seed * 1000L + d.id()), name + ", seed " + seed);
                dm.remove(name, false, false);
            }
            dm.remove("pool", false, false);
            assertCheckClean(meta);
            assertEquals(pool, ThinTools.dump(meta), "the pool left the restored mappings as they were, seed " + seed);

            // then jdm changes what thin_restore wrote: messages and I/O, checked against the model of the restored pool
            dm.create("pool", null, PoolFiles.poolTable(nrData * BLOCK_SECTORS, meta, data, BLOCK_SECTORS, 0), false);
            long virtualBlocks = pool.devices().values().stream().filter(d -> !d.mappings().isEmpty())
                    .mapToLong(d -> d.mappings().lastKey() + 2).max().orElse(8);
            ThinPoolDriver driver = new ThinPoolDriver(dm, BLOCK_SECTORS, virtualBlocks, nrData,
                    ThinPoolModel.restored(pool, BLOCK_BYTES, b -> PoolFiles.blockPattern(b, BLOCK_BYTES)));
            Random rnd = new Random(seed);
            for (int i = 0; i < 80; i++) {
                driver.apply(ThinPoolDriver.randomOp(rnd, virtualBlocks, BLOCK_SECTORS));
            }
            driver.deactivateAll();
            dm.remove("pool", false, false);
            assertToolsAgreeWithModel(meta, data, driver.model, "restored pool changed by jdm, seed " + seed);
        }
    }

    /**
     * Reads the whole neighbourhood of every mapping in 16-block windows, then unaligned ranges across block
     * edges: a mapped block shows its data block's pattern, an unmapped one zeroes.
     */
    private static void assertReadsMatch(MappedDevice thin, TreeMap<Long, ThinMetadata.Mapping> maps, long virtualBlocks, Random rnd, String where)
            throws Exception {
        int window = 16;
        Set<Long> windows = new TreeSet<>();
        maps.keySet().forEach(v -> windows.add(v / window));
        windows.add((virtualBlocks - 1) / window);
        for (long w : windows) {
            long first = w * window;
            int blocks = (int) Math.min(window, virtualBlocks - first);
            ByteBuffer got = ByteBuffer.allocate(blocks * BLOCK_BYTES);
            thin.read(first * BLOCK_BYTES, got);
            for (int i = 0; i < blocks; i++) {
                assertArrayEquals(expectedBlock(maps, first + i), Arrays.copyOfRange(got.array(), i * BLOCK_BYTES, (i + 1) * BLOCK_BYTES),
                        "virtual block " + (first + i) + " of " + where);
            }
        }
        for (int i = 0; i < 40; i++) {
            long offset = (long) rnd.nextInt((int) (virtualBlocks * BLOCK_SECTORS - 1)) * 512;
            int length = (int) Math.min(512L * (1 + rnd.nextInt(3 * BLOCK_SECTORS)), virtualBlocks * BLOCK_BYTES - offset);
            ByteBuffer got = ByteBuffer.allocate(length);
            thin.read(offset, got);
            byte[] want = new byte[length];
            for (int done = 0; done < length; ) {
                long v = (offset + done) / BLOCK_BYTES;
                int in = (int) ((offset + done) % BLOCK_BYTES);
                int n = Math.min(length - done, BLOCK_BYTES - in);
                System.arraycopy(expectedBlock(maps, v), in, want, done, n);
                done += n;
            }
            assertArrayEquals(want, got.array(), "read of " + length + " bytes at " + offset + " of " + where);
        }
    }

    private static byte[] expectedBlock(TreeMap<Long, ThinMetadata.Mapping> maps, long virtualBlock) {
        ThinMetadata.Mapping m = maps.get(virtualBlock);
        return m == null ? new byte[BLOCK_BYTES] : PoolFiles.blockPattern(m.dataBlock(), BLOCK_BYTES);
    }

    static void assertCheckClean(Path meta) throws Exception {
        PdataTools.Result check = ThinTools.check(meta);
        assertEquals(new PdataTools.Result(0, check.stdout(), CLEAN_CHECK), check, "thin_check");
    }

    // ---------------------------------------------------------------- jdm -> thin_check / thin_dump

    @Test
    void randomMessagesAndIoLeaveMetadataThatThinCheckPassesAndThinDumpShowsExactly() throws Exception {
        for (int seed = 1; seed <= 2; seed++) {
            runRandomPool(seed, 160);
        }
    }

    /**
     * The smallest case the random runs found: a block that only the time test calls shared (its snapshot
     * origin is gone) is copied on write; the held metadata snapshot still refers to the old block, which
     * stays allocated (the kernel increments the data blocks of a leaf it shadows away from the held tree).
     */
    @Test
    void aCopiedBlockTheHeldMetadataSnapshotStillReferencesStaysAllocated() throws Exception {
        Path meta = TestFiles.sparse(dir, "meta", METADATA_BYTES);
        Path data = TestFiles.sparse(dir, "data", 64L * BLOCK_BYTES);
        dm.create("pool", null, PoolFiles.poolTable(64L * BLOCK_SECTORS, meta, data, BLOCK_SECTORS, 0), false);
        msg("create_thin", 1);
        dm.create("thin1", null, "0 " + 4 * BLOCK_SECTORS + " thin /dev/mapper/pool 1", false);
        dm.device("thin1").write(0, ByteBuffer.wrap(new byte[BLOCK_BYTES]), false);
        dm.remove("thin1", false, false);
        msg("create_snap", 2, 1);
        msg("delete", 1);
        msg("reserve_metadata_snap");
        dm.create("thin2", null, "0 " + 4 * BLOCK_SECTORS + " thin /dev/mapper/pool 2", false);
        dm.device("thin2").write(0, ByteBuffer.wrap(new byte[BLOCK_BYTES]), false);
        assertEquals("2/64", dm.status("pool", false).getFirst().params().split(" ")[2], "used data blocks");
        dm.remove("thin2", false, false);
        dm.remove("pool", false, false);
        assertCheckClean(meta);
        try (var dev = FileBlockDevice.open(meta, FileBlockDevice.Options.READ_ONLY); var md = ThinMetadata.open(dev, 64)) {
            ThinView.assertDataRefcounts(md);
        }
    }

    private void runRandomPool(int seed, int operations) throws Exception {
        long nrData = 1024;
        long virtualBlocks = 40;
        Path meta = TestFiles.sparse(dir, "jdm-meta" + seed, METADATA_BYTES);
        Path data = TestFiles.sparse(dir, "jdm-data" + seed, nrData * BLOCK_BYTES);
        Random rnd = new Random(seed);
        dm.create("pool", null, PoolFiles.poolTable(nrData * BLOCK_SECTORS, meta, data, BLOCK_SECTORS, 0), false);
        ThinPoolDriver driver = new ThinPoolDriver(dm, BLOCK_SECTORS, virtualBlocks, nrData);
        for (int i = 0; i < operations; i++) {
            driver.apply(ThinPoolDriver.randomOp(rnd, virtualBlocks, BLOCK_SECTORS));
        }
        driver.deactivateAll();
        dm.remove("pool", false, false);

        assertToolsAgreeWithModel(meta, data, driver.model, "seed " + seed);
    }

    /**
     * thin_check passes; thin_dump shows what jdm's metadata reader shows and what the model says; the data space
     * map's counts are right (thin_check 0.9.0 skips them); a held metadata snapshot shows the devices of its time.
     */
    private static void assertToolsAgreeWithModel(Path meta, Path data, ThinPoolModel model, String where) throws Exception {
        assertCheckClean(meta);
        ThinTools.Dump dump = ThinTools.dump(meta);
        try (var dev = FileBlockDevice.open(meta, FileBlockDevice.Options.READ_ONLY); var md = ThinMetadata.open(dev, 64)) {
            assertEquals(dump, ThinView.of(md), "thin_dump and jdm's metadata reader agree, " + where);
            ThinView.assertDataRefcounts(md);
        }
        assertDumpMatchesModel(dump, model, data, where);
        if (model.held != null) {
            PdataTools.Result heldDump = PdataTools.run("thin_dump", "-m", meta.toString());
            assertEquals(0, heldDump.exit(), heldDump.stderr());
            TreeMap<Long, Set<Long>> want = new TreeMap<>();
            model.held.forEach((id, maps) -> want.put(id, maps.keySet()));
            TreeMap<Long, Set<Long>> got = new TreeMap<>();
            ThinTools.parse(heldDump.stdout()).devices().forEach((id, d) -> got.put(id, d.mappings().keySet()));
            assertEquals(want, got, "the held metadata snapshot, " + where);
        }
    }

    /**
     * Device by device, thin_dump's details and mapped blocks are the model's, the same model block is the
     * same data block everywhere (and different ones differ), and the data file holds the model's bytes there.
     */
    private static void assertDumpMatchesModel(ThinTools.Dump dump, ThinPoolModel model, Path data, String where) throws Exception {
        assertEquals(model.transaction, dump.transaction(), "transaction id, " + where);
        assertEquals(model.time, dump.time(), "pool time, " + where);
        assertEquals(model.devices.keySet(), dump.devices().keySet(), "devices, " + where);
        Map<ThinPoolModel.Block, Long> dataBlockOf = new IdentityHashMap<>();
        Map<Long, ThinPoolModel.Block> blockAt = new HashMap<>();
        try (var file = FileBlockDevice.open(data, FileBlockDevice.Options.READ_ONLY)) {
            for (var e : model.devices.entrySet()) {
                ThinPoolModel.Device want = e.getValue();
                ThinTools.Device got = dump.devices().get(e.getKey());
                String dev = "device " + e.getKey() + ", " + where;
                assertEquals(List.of(want.maps.size(), want.transaction, want.creationTime, want.snapTime),
                        List.of((int) got.mappedBlocks(), got.transaction(), got.creationTime(), got.snapTime()), "details of " + dev);
                assertEquals(want.maps.keySet(), got.mappings().keySet(), "mapped blocks of " + dev);
                for (var m : want.maps.entrySet()) {
                    ThinMetadata.Mapping actual = got.mappings().get(m.getKey());
                    assertEquals(m.getValue().time(), actual.time(), "time of block " + m.getKey() + " of " + dev);
                    Long before = dataBlockOf.putIfAbsent(m.getValue().block(), actual.dataBlock());
                    assertEquals(before == null ? actual.dataBlock() : before, actual.dataBlock(), "sharing of block " + m.getKey() + " of " + dev);
                    ThinPoolModel.Block other = blockAt.putIfAbsent(actual.dataBlock(), m.getValue().block());
                    assertTrue(other == null || other == m.getValue().block(), "data block " + actual.dataBlock() + " mapped twice, " + dev);
                    assertArrayEquals(m.getValue().block().bytes, read(file, actual.dataBlock() * BLOCK_BYTES, BLOCK_BYTES),
                            "data of block " + m.getKey() + " of " + dev);
                }
            }
        }
    }

    private void msg(Object... argv) throws Exception {
        dm.message("pool", 0, Arrays.stream(argv).map(String::valueOf).toList());
    }

    private static byte[] read(dev.jdm.core.io.BlockDevice d, long offset, int length) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(length);
        d.read(offset, b);
        return b.array();
    }
}
