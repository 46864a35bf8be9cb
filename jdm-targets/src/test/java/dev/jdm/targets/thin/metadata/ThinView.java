package dev.jdm.targets.thin.metadata;

import dev.jdm.pdata.BTree;
import dev.jdm.pdata.SpaceMap;
import dev.jdm.pdata.ValueType;

import java.io.IOException;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** What jdm's metadata says, in thin_dump's terms, and an independent recount of data references. */
public final class ThinView {
    private ThinView() {
    }

    public static ThinTools.Dump of(ThinMetadata md) throws IOException {
        TreeMap<Long, ThinTools.Device> devices = new TreeMap<>();
        for (var e : md.devices().entrySet()) {
            TreeMap<Long, ThinMetadata.Mapping> maps = new TreeMap<>();
            md.mappings(e.getKey(), maps::put);
            var d = e.getValue();
            devices.put(e.getKey(), new ThinTools.Device(e.getKey(), d.mappedBlocks(), d.transactionId(),
                    d.creationTime(), d.snapshottedTime(), maps));
        }
        return new ThinTools.Dump(md.transactionId(), md.time(), md.dataBlockSize(), md.nrDataBlocks(), devices);
    }

    /**
     * thin_check 0.9.0 does not look at the data space map, so recount it: a data block's count is the number
     * of distinct leaves that reference it (a leaf shared by snapshots counts once), the held metadata
     * snapshot's trees included.
     */
    public static void assertDataRefcounts(ThinMetadata md) throws IOException {
        Set<Long> seenLeaves = new HashSet<>();
        Map<Long, Integer> expected = new HashMap<>();
        for (long id : md.devices().keySet()) {
            md.deviceTrees().leaves(md.deviceRoot(id), (location, keys, values) -> {
                if (seenLeaves.add(location)) {
                    for (byte[] v : values) {
                        expected.merge(ThinMetadata.Mapping.decode(BTree.le64(v)).dataBlock(), 1, Integer::sum);
                    }
                }
            });
        }
        if (md.metadataSnapshot() != 0) {
            long heldMappings = md.blockManager().read(md.metadataSnapshot(), ThinMetadata.SUPERBLOCK).data().getLong(320);
            new BTree(md.transactionManager(), ValueType.LE64).walk(heldMappings, (id, root) ->
                    md.deviceTrees().leaves(BTree.le64(root), (location, keys, values) -> {
                        if (seenLeaves.add(location)) {
                            for (byte[] v : values) {
                                expected.merge(ThinMetadata.Mapping.decode(BTree.le64(v)).dataBlock(), 1, Integer::sum);
                            }
                        }
                    }));
        }
        SpaceMap sm = md.dataSpaceMap();
        long allocated = 0;
        for (long b = 0; b < sm.nrBlocks(); b++) {
            assertEquals(expected.getOrDefault(b, 0), sm.count(b), "data block " + b + " reference count");
            if (sm.count(b) > 0) {
                allocated++;
            }
        }
        assertEquals(allocated, sm.nrAllocated(), "data space map nr_allocated");
    }
}
