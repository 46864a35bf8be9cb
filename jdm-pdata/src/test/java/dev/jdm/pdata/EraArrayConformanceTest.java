package dev.jdm.pdata;

import dev.jdm.core.testing.MemoryDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

import javax.xml.parsers.DocumentBuilderFactory;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * dm-array and dm-bitset checked through era metadata (a superblock, a writeset tree of bitsets and an era
 * array of u32), against era_restore, era_check and era_dump 0.9.0.
 */
class EraArrayConformanceTest {
    private static final long MAGIC = 2126579579L;
    /** dm-era-target.c's sb_validator: era metadata declares its superblock, as every pdata user does. */
    private static final BlockType SUPERBLOCK = new BlockType("era superblock", 146538381, 8);
    private static final int NR_BLOCKS = 40_000; // bitsets span two array blocks, the era array 40

    @TempDir
    Path dir;

    /** What era metadata holds: archived writesets (era → set bits) and the era of every block. */
    record Era(int currentEra, TreeMap<Integer, TreeSet<Long>> writesets, int[] eras) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Era e && currentEra == e.currentEra && writesets.equals(e.writesets)
                    && java.util.Arrays.equals(eras, e.eras);
        }

        @Override
        public int hashCode() {
            return currentEra;
        }

        @Override
        public String toString() {
            return "Era[current=" + currentEra + ", writesets=" + writesets.keySet() + "]";
        }
    }

    private static Era randomEra(Random rnd) {
        TreeMap<Integer, TreeSet<Long>> ws = new TreeMap<>();
        int[] eras = new int[NR_BLOCKS];
        for (int era = 1; era <= 4; era++) {
            TreeSet<Long> bits = new TreeSet<>();
            for (int i = 0; i < 300; i++) {
                bits.add((long) rnd.nextInt(NR_BLOCKS));
            }
            bits.add(NR_BLOCKS - 1L);
            ws.put(era, bits);
        }
        for (int i = 0; i < NR_BLOCKS; i += 1 + rnd.nextInt(30)) {
            eras[i] = 1 + rnd.nextInt(4);
        }
        return new Era(5, ws, eras);
    }

    private static String toXml(Era e) {
        StringBuilder sb = new StringBuilder("<superblock uuid=\"\" block_size=\"128\" nr_blocks=\"" + NR_BLOCKS
                + "\" current_era=\"" + e.currentEra() + "\">\n");
        e.writesets().forEach((era, bits) -> {
            sb.append("  <writeset era=\"").append(era).append("\" nr_bits=\"").append(NR_BLOCKS).append("\">\n");
            bits.forEach(b -> sb.append("    <bit block=\"").append(b).append("\" value=\"true\"/>\n"));
            sb.append("  </writeset>\n");
        });
        sb.append("  <era_array>\n");
        for (int i = 0; i < NR_BLOCKS; i++) {
            sb.append("    <era block=\"").append(i).append("\" era=\"").append(e.eras()[i]).append("\"/>\n");
        }
        return sb.append("  </era_array>\n</superblock>\n").toString();
    }

    private static Era parseDump(String xml) throws Exception {
        Element root = DocumentBuilderFactory.newInstance().newDocumentBuilder()
                .parse(new ByteArrayInputStream(xml.getBytes(StandardCharsets.UTF_8))).getDocumentElement();
        TreeMap<Integer, TreeSet<Long>> ws = new TreeMap<>();
        NodeList sets = root.getElementsByTagName("writeset");
        for (int i = 0; i < sets.getLength(); i++) {
            Element w = (Element) sets.item(i);
            TreeSet<Long> bits = new TreeSet<>();
            NodeList bl = w.getElementsByTagName("bit");
            for (int j = 0; j < bl.getLength(); j++) {
                Element b = (Element) bl.item(j);
                if (b.getAttribute("value").equals("true")) {
                    bits.add(Long.parseLong(b.getAttribute("block")));
                }
            }
            ws.put(Integer.parseInt(w.getAttribute("era")), bits);
        }
        int[] eras = new int[NR_BLOCKS];
        NodeList el = root.getElementsByTagName("era");
        for (int i = 0; i < el.getLength(); i++) {
            Element e = (Element) el.item(i);
            eras[Integer.parseInt(e.getAttribute("block"))] = Integer.parseInt(e.getAttribute("era"));
        }
        return new Era(Integer.parseInt(root.getAttribute("current_era")), ws, eras);
    }

    private static ValueType u32() {
        return () -> 4;
    }

    private static byte[] u32(int v) {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array();
    }

    /** Writeset tree values: {@code nr_bits u32 | bitset root u64}; the root is counted like a subtree. */
    private static BTree writesetTree(TransactionManager tm, DmBitset bitset) {
        return new BTree(tm, new ValueType() {
            @Override
            public int size() {
                return 12;
            }

            @Override
            public void inc(byte[] v) {
                tm.inc(ByteBuffer.wrap(v).order(ByteOrder.LITTLE_ENDIAN).getLong(4));
            }

            @Override
            public void dec(byte[] v) throws IOException {
                bitset.delete(ByteBuffer.wrap(v).order(ByteOrder.LITTLE_ENDIAN).getLong(4));
            }
        });
    }

    private static Era read(MemoryDevice disk) throws IOException {
        BlockManager bm = new BlockManager(disk, 64);
        ByteBuffer sb = bm.read(0, SUPERBLOCK).data();
        assertEquals(MAGIC, sb.getLong(32));
        assertEquals(1, sb.getInt(40));
        assertEquals(NR_BLOCKS, sb.getInt(180));
        SpaceMap msm = SpaceMap.readMetadata(bm, sb.slice(44, 32).order(ByteOrder.LITTLE_ENDIAN));
        TransactionManager tm = new TransactionManager(bm, msm);
        DmBitset bitset = new DmBitset(tm);
        TreeMap<Integer, TreeSet<Long>> ws = new TreeMap<>();
        writesetTree(tm, bitset).walk(sb.getLong(200), (era, v) -> {
            ByteBuffer b = ByteBuffer.wrap(v).order(ByteOrder.LITTLE_ENDIAN);
            TreeSet<Long> bits = new TreeSet<>();
            bitset.setBits(b.getLong(4), b.getInt(0), bits::add);
            ws.put((int) era, bits);
        });
        int[] eras = new int[NR_BLOCKS];
        new DmArray(tm, u32()).walk(sb.getLong(208), (i, v) ->
                eras[(int) i] = ByteBuffer.wrap(v).order(ByteOrder.LITTLE_ENDIAN).getInt());
        return new Era(sb.getInt(184), ws, eras);
    }

    /** Builds era metadata the way the era target would over time: arrays and bitsets changed entry by entry. */
    private static void write(MemoryDevice disk, Era e) throws IOException {
        BlockManager bm = new BlockManager(disk, 64);
        SpaceMap msm = new SpaceMap(disk.size() / Block.SIZE);
        msm.set(0, 1);
        TransactionManager tm = new TransactionManager(bm, msm);
        DmBitset bitset = new DmBitset(tm);
        DmArray array = new DmArray(tm, u32());
        long arrayRoot = array.create(NR_BLOCKS, u32(0));
        for (int i = 0; i < NR_BLOCKS; i++) {
            if (e.eras()[i] != 0) {
                arrayRoot = array.set(arrayRoot, i, u32(e.eras()[i]));
            }
        }
        BTree tree = writesetTree(tm, bitset);
        long treeRoot = tree.create();
        for (var w : e.writesets().entrySet()) {
            long bits = bitset.create(NR_BLOCKS, false);
            for (long b : w.getValue()) {
                bits = bitset.set(bits, b, true);
            }
            treeRoot = tree.insert(treeRoot, w.getKey(), ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN)
                    .putInt(NR_BLOCKS).putLong(bits).array());
        }
        // an extra writeset inserted and removed again exercises release of a bitset
        long scratch = bitset.create(NR_BLOCKS, true);
        treeRoot = tree.insert(treeRoot, 99, ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN)
                .putInt(NR_BLOCKS).putLong(scratch).array());
        treeRoot = tree.remove(treeRoot, 99);
        byte[] smRoot = msm.writeMetadata(tm);
        Block sb = bm.create(0, SUPERBLOCK);
        sb.data().putLong(32, MAGIC).putInt(40, 1).put(44, smRoot).putInt(172, 128).putInt(176, 8)
                .putInt(180, NR_BLOCKS).putInt(184, e.currentEra()).putLong(200, treeRoot).putLong(208, arrayRoot);
        tm.commit(sb);
    }

    @Test
    void arraysAndBitsetsWrittenByEraRestoreReadBack() throws Exception {
        Era era = randomEra(new Random(11));
        Path xml = dir.resolve("era.xml");
        Files.writeString(xml, toXml(era));
        Path meta = dir.resolve("meta");
        Files.write(meta, new byte[4 << 20]);
        PdataTools.Result r = PdataTools.run("era_restore", "-i", xml.toString(), "-o", meta.toString());
        assertEquals(0, r.exit(), r.stderr());
        MemoryDevice disk = new MemoryDevice(4 << 20);
        System.arraycopy(Files.readAllBytes(meta), 0, disk.bytes(), 0, disk.bytes().length);
        assertEquals(era, read(disk));
    }

    @Test
    void arraysAndBitsetsWrittenByJdmPassEraCheckAndDump() throws Exception {
        Era era = randomEra(new Random(12));
        MemoryDevice disk = new MemoryDevice(4 << 20);
        write(disk, era);
        assertEquals(era, read(disk));
        Path meta = dir.resolve("meta");
        Files.write(meta, disk.bytes());
        PdataTools.Result check = PdataTools.run("era_check", meta.toString());
        assertEquals(0, check.exit(), check.stderr() + check.stdout());
        PdataTools.Result dump = PdataTools.run("era_dump", meta.toString());
        assertEquals(0, dump.exit(), dump.stderr());
        assertEquals(era, parseDump(dump.stdout()));
    }

    @Test
    void sharedArrayBlocksAreCopiedOnWrite() throws Exception {
        TransactionManager tm = BTreePropertiesTest.memoryTm();
        DmArray array = new DmArray(tm, u32());
        long a = array.create(5000, u32(7));
        tm.inc(a); // a second owner of the same array (as a metadata snapshot would be)
        long b = array.set(a, 4321, u32(9));
        assertEquals(7, ByteBuffer.wrap(array.get(a, 4321)).order(ByteOrder.LITTLE_ENDIAN).getInt());
        assertEquals(9, ByteBuffer.wrap(array.get(b, 4321)).order(ByteOrder.LITTLE_ENDIAN).getInt());
        List<Integer> seen = new ArrayList<>();
        array.walk(b, (i, v) -> seen.add(ByteBuffer.wrap(v).order(ByteOrder.LITTLE_ENDIAN).getInt()));
        assertEquals(5000, seen.size());
        assertEquals(4999, seen.stream().filter(v -> v == 7).count());
        array.delete(a);
        array.delete(b);
        assertEquals(1, tm.metadataSpaceMap().nrAllocated(), "both arrays released: only block 0 remains");
    }
}
