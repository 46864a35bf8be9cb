package dev.jdm.targets.thin.metadata;

import dev.jdm.core.io.FileBlockDevice;
import dev.jdm.pdata.PdataTools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Both directions against thin-provisioning-tools 0.9.0, with metadata generated at test time. */
class ThinToolsConformanceTest {
    private static final long METADATA_BYTES = 16L << 20;

    @TempDir
    Path dir;

    private Path sparse(String name) throws Exception {
        Path p = dir.resolve(name);
        try (var ch = java.nio.channels.FileChannel.open(p, java.nio.file.StandardOpenOption.CREATE_NEW,
                java.nio.file.StandardOpenOption.WRITE)) {
            ch.truncate(0);
            ch.position(METADATA_BYTES - 1).write(java.nio.ByteBuffer.wrap(new byte[1]));
        }
        return p;
    }

    /** Devices that share data blocks the way snapshots do, ranges long enough for multi-level trees. */
    private static ThinTools.Dump randomPool(Random rnd, int devices, long nrDataBlocks) {
        TreeMap<Long, ThinTools.Device> out = new TreeMap<>();
        long nextData = 0;
        List<TreeMap<Long, ThinMetadata.Mapping>> earlier = new ArrayList<>();
        for (int i = 0; i < devices; i++) {
            long id = i * 3L + rnd.nextInt(3);
            TreeMap<Long, ThinMetadata.Mapping> maps = new TreeMap<>();
            if (!earlier.isEmpty() && rnd.nextBoolean()) {
                // a "snapshot": most of an earlier device's mappings, some rewritten at a later time
                for (var e : earlier.get(rnd.nextInt(earlier.size())).entrySet()) {
                    if (rnd.nextInt(10) > 0) {
                        maps.put(e.getKey(), e.getValue());
                    }
                }
                for (int k = 0; k < 50 && nextData < nrDataBlocks; k++) {
                    maps.put((long) rnd.nextInt(30000), new ThinMetadata.Mapping(nextData++, 1 + rnd.nextInt(5)));
                }
            } else {
                long v = rnd.nextInt(1000);
                int runs = 1 + rnd.nextInt(8);
                for (int r = 0; r < runs && nextData < nrDataBlocks; r++) {
                    int len = rnd.nextInt(4) == 0 ? 5000 + rnd.nextInt(8000) : 1 + rnd.nextInt(40);
                    int time = rnd.nextInt(6);
                    for (int k = 0; k < len && nextData < nrDataBlocks; k++) {
                        maps.put(v++, new ThinMetadata.Mapping(nextData++, time));
                    }
                    v += rnd.nextInt(100);
                    nextData += rnd.nextInt(3);
                }
            }
            earlier.add(maps);
            out.put(id, new ThinTools.Device(id, maps.size(), rnd.nextInt(4), rnd.nextInt(3), 3 + rnd.nextInt(3), maps));
        }
        return new ThinTools.Dump(7, 6, 128, nrDataBlocks, out);
    }

    @Test
    void metadataWrittenByThinRestoreReadsBackExactly() throws Exception {
        for (int seed = 1; seed <= 3; seed++) {
            ThinTools.Dump pool = randomPool(new Random(seed), 6 + 4 * seed, 200_000);
            Path xml = dir.resolve("pool" + seed + ".xml");
            Files.writeString(xml, ThinTools.toXml(pool));
            Path meta = sparse("restored" + seed);
            ThinTools.restore(xml, meta);
            try (var dev = FileBlockDevice.open(meta, FileBlockDevice.Options.READ_ONLY);
                 var md = ThinMetadata.open(dev, 64)) {
                assertEquals(1, md.version(), "0.9.0 thin_restore writes version 1");
                assertEquals(pool, ThinView.of(md));
                ThinView.assertDataRefcounts(md);
            }
        }
    }

    @Test
    void randomOperationsInJdmPassThinCheckAndDumpIdentically() throws Exception {
        Path meta = sparse("jdm");
        Random rnd = new Random(42);
        try (var dev = FileBlockDevice.open(meta, FileBlockDevice.Options.READ_WRITE);
             var md = ThinMetadata.format(dev, 128, 400_000, 256)) {
            for (int round = 0; round < 6; round++) {
                randomOperations(md, rnd, 2000);
                md.setTransactionId(md.transactionId(), md.transactionId() + 1);
                md.commit();
                assertToolsAgree(meta, md);
            }
        }
        try (var dev = FileBlockDevice.open(meta, FileBlockDevice.Options.READ_ONLY);
             var md = ThinMetadata.open(dev, 64)) {
            assertEquals(ThinTools.dump(meta), ThinView.of(md), "reopened metadata");
            ThinView.assertDataRefcounts(md);
        }
    }

    @Test
    void jdmChangesMetadataThatThinRestoreWrote() throws Exception {
        ThinTools.Dump pool = randomPool(new Random(7), 8, 400_000);
        Path xml = dir.resolve("pool.xml");
        Files.writeString(xml, ThinTools.toXml(pool));
        Path meta = sparse("restored");
        ThinTools.restore(xml, meta);
        try (var dev = FileBlockDevice.open(meta, FileBlockDevice.Options.READ_WRITE);
             var md = ThinMetadata.open(dev, 128)) {
            randomOperations(md, new Random(8), 4000);
            md.commit();
            assertToolsAgree(meta, md);
        }
    }

    private static void assertToolsAgree(Path meta, ThinMetadata md) throws Exception {
        PdataTools.Result check = ThinTools.check(meta);
        assertEquals(0, check.exit(), "thin_check: " + check.stderr());
        assertEquals("examining superblock\nexamining devices tree\nexamining mapping tree\nchecking space map counts\n",
                check.stderr());
        assertEquals(ThinTools.dump(meta), ThinView.of(md));
        ThinView.assertDataRefcounts(md);
    }

    /** Creates, snapshots, deletes devices and maps, remaps and unmaps blocks at random. */
    static void randomOperations(ThinMetadata md, Random rnd, int count) throws Exception {
        for (int i = 0; i < count; i++) {
            List<Long> ids = new ArrayList<>(md.devices().keySet());
            int op = rnd.nextInt(100);
            if (ids.isEmpty() || op < 2) {
                long id = rnd.nextInt(1000);
                if (!md.devices().containsKey(id)) {
                    md.createThin(id);
                }
            } else if (op < 4) {
                long id = rnd.nextInt(1000);
                if (!md.devices().containsKey(id)) {
                    md.createSnapshot(id, ids.get(rnd.nextInt(ids.size())));
                }
            } else if (op < 5 && ids.size() > 2) {
                md.deleteDevice(ids.get(rnd.nextInt(ids.size())));
            } else if (op < 80) {
                long id = ids.get(rnd.nextInt(ids.size()));
                long start = rnd.nextInt(20000);
                int len = rnd.nextInt(10) == 0 ? 100 : 1;
                for (long v = start; v < start + len; v++) {
                    md.insert(id, v, md.allocateDataBlock());
                }
            } else {
                long id = ids.get(rnd.nextInt(ids.size()));
                long start = rnd.nextInt(20000);
                List<Long> mapped = new ArrayList<>();
                md.mappings(id, start, start + 400, (v, m) -> mapped.add(v));
                for (long v : mapped) {
                    assertTrue(md.remove(id, v));
                }
            }
        }
    }
}
