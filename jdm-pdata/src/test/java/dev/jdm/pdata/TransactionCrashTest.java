package dev.jdm.pdata;

import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.testing.MemoryDevice;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The commit protocol through the generic API alone, as a new metadata format would use it: a format declared
 * here (its own superblock type; a btree whose values own blocks of a disk space map; the metadata space map),
 * with the power cut at every write of a commit. Reopened, it holds exactly the old or the new transaction.
 */
class TransactionCrashTest {
    private static final BlockType SUPERBLOCK = new BlockType("test superblock", 0x7e57, 8);
    private static final long DATA_BLOCKS = 30_000;
    private static final int TREE_ROOT = 16;
    private static final int METADATA_SM_ROOT = 64;
    private static final int DATA_SM_ROOT = 128;

    /** What the format holds: key → data block, and how many data blocks its space map counts in use. */
    record State(TreeMap<Long, Long> mappings, long dataAllocated) {
    }

    /** One open instance of the format. */
    private static final class Store implements AutoCloseable {
        final BlockManager bm;
        final SpaceMap metadataSm;
        final TransactionManager tm;
        final SpaceMap dataSm;
        final BTree tree;
        long root;

        private Store(BlockManager bm, SpaceMap metadataSm, SpaceMap dataSm) {
            this.bm = bm;
            this.metadataSm = metadataSm;
            this.tm = new TransactionManager(bm, metadataSm);
            this.dataSm = dataSm;
            this.tree = new BTree(tm, new ValueType() {
                @Override
                public int size() {
                    return 8;
                }

                @Override
                public void inc(byte[] v) {
                    dataSm.inc(BTree.le64(v));
                }

                @Override
                public void dec(byte[] v) {
                    dataSm.dec(BTree.le64(v));
                }
            });
        }

        static Store format(BlockDevice device) throws IOException {
            BlockManager bm = new BlockManager(device, 64);
            SpaceMap metadataSm = new SpaceMap(bm.nrBlocks());
            metadataSm.set(0, 1); // the superblock
            Store s = new Store(bm, metadataSm, new SpaceMap(DATA_BLOCKS));
            s.root = s.tree.create();
            return s;
        }

        static Store open(BlockDevice device) throws IOException {
            BlockManager bm = new BlockManager(device, 64);
            ByteBuffer sb = bm.read(0, SUPERBLOCK).data();
            SpaceMap metadataSm = SpaceMap.readMetadata(bm, sb.slice(METADATA_SM_ROOT, 32).order(ByteOrder.LITTLE_ENDIAN));
            SpaceMap dataSm = SpaceMap.readDisk(new TransactionManager(bm, metadataSm),
                    sb.slice(DATA_SM_ROOT, 32).order(ByteOrder.LITTLE_ENDIAN));
            Store s = new Store(bm, metadataSm, dataSm);
            s.root = sb.getLong(TREE_ROOT);
            return s;
        }

        /** Maps or unmaps random keys: a mapped key owns a newly allocated data block. */
        void randomChanges(Random rnd, int count) throws IOException {
            for (int i = 0; i < count; i++) {
                long key = rnd.nextInt(20_000);
                if (rnd.nextInt(4) == 0) {
                    root = tree.remove(root, key);
                } else {
                    root = tree.insert(root, key, BTree.le64(dataSm.allocate()));
                }
            }
        }

        /** Space maps first, then every other block, then the superblock that points at them all. */
        void commit() throws IOException {
            byte[] dataRoot = dataSm.writeDisk(tm);
            byte[] metadataRoot = metadataSm.writeMetadata(tm);
            Block sb = bm.create(0, SUPERBLOCK);
            sb.data().putLong(TREE_ROOT, root).put(METADATA_SM_ROOT, metadataRoot).put(DATA_SM_ROOT, dataRoot);
            tm.commit(sb);
        }

        State state() throws IOException {
            TreeMap<Long, Long> mappings = new TreeMap<>();
            tree.walk(root, (k, v) -> mappings.put(k, BTree.le64(v)));
            for (long dataBlock : mappings.values()) {
                assertEquals(1, dataSm.count(dataBlock), "data block " + dataBlock + " has one owner");
            }
            assertEquals(mappings.size(), dataSm.nrAllocated(), "no data block leaked or lost");
            return new State(mappings, dataSm.nrAllocated());
        }

        @Override
        public void close() throws IOException {
            bm.close();
        }
    }

    @ParameterizedTest(name = "lose unflushed writes: {0}")
    @ValueSource(booleans = {false, true})
    void everyCutLeavesTheOldOrTheNewTransaction(boolean loseUnflushed) throws Exception {
        MemoryDevice base = new MemoryDevice(4L << 20);
        try (Store s = Store.format(base)) {
            s.randomChanges(new Random(7), 4000);
            s.commit();
        }
        int writes = CommitCrashCheck.everyCut(base.bytes(), loseUnflushed, device -> {
            try (Store s = Store.open(device)) {
                s.randomChanges(new Random(8), 600); // the same changes from the same state, so the same writes
                s.commit();
            }
        }, (disk, when) -> {
            try (Store s = Store.open(disk)) {
                return s.state();
            }
        });
        assertTrue(writes > 10, "the transaction writes " + writes + " blocks");
    }
}
