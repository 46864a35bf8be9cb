package dev.jdm.targets;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.TreeMap;

import static dev.jdm.targets.Images.*;
import static dev.jdm.targets.TargetTestSupport.assertIoError;
import static org.junit.jupiter.api.Assertions.*;

class DustTargetTest {
    @TempDir
    Path dir;
    Path a;
    DeviceMapper dm;
    MappedDevice md;

    @BeforeEach
    void setUp() throws Exception {
        a = create(dir, "a.img", 64 * 4096);
        Files.write(a, pattern(64 * 4096, 5));
        dm = DeviceMapper.create();
        // Offset 8 sectors = one 4 KiB block: device block n is target block n-1.
        dm.create("d", null, "0 496 dust " + a + " 8 4096", false);
        md = dm.device("d");
    }

    @AfterEach
    void tearDown() {
        dm.close();
    }

    private String msg(String... argv) throws DmException {
        return dm.message("d", 0, List.of(argv));
    }

    private String status() throws DmException {
        return dm.status("d", false).getFirst().format();
    }


    @Test
    void tableStatusAndTheKernelsMessageTexts() throws Exception {
        assertEquals("0 496 dust " + a + " 8 4096", dm.table("d", false).getFirst().format());
        assertEquals("0 496 dust " + a + " bypass verbose", status());
        assertEquals("No blocks in badblocklist", msg("listbadblocks"));
        assertEquals("countbadblocks: 0 badblock(s) found", msg("countbadblocks"));
        assertEquals("dust_clear_badblocks: no badblocks found", msg("clearbadblocks"));
        assertNull(msg("addbadblock", "60"));
        assertNull(msg("AddBadBlock", "3", "2"));
        assertNull(msg("addbadblock", "64"), "the kernel accepts block == number of blocks");
        assertEquals("3\n60\n64\n", msg("listbadblocks"));
        assertEquals("countbadblocks: 3 badblock(s) found", msg("countbadblocks"));
        assertEquals("dust_query_block: block 60 found in badblocklist", msg("queryblock", "60"));
        assertEquals("dust_query_block: block 61 not found in badblocklist", msg("queryblock", "61"));
        assertNull(msg("removebadblock", "64"));
        assertNull(msg("enable"));
        assertNull(msg("quiet"));
        assertEquals("0 496 dust " + a + " fail_read_on_bad_block quiet", status());
        assertNull(msg("quiet"));
        assertNull(msg("disable"));
        assertEquals("0 496 dust " + a + " bypass verbose", status());
        assertEquals("dust_clear_badblocks: badblocks cleared", msg("clearbadblocks"));
        assertEquals("No blocks in badblocklist", msg("listbadblocks"));
    }

    @Test
    void zeroCopyReadsOnlyWhileNoBadBlockIsArmed() throws Exception {
        byte[] expected = new byte[4097];
        expected[0] = 42;
        System.arraycopy(Files.readAllBytes(a), 8 * 512, expected, 1, 4096);
        assertNull(msg("addbadblock", "1"), "device block 1 is target block 0");
        assertArrayEquals(expected, FlakeyTargetTest.sentZeroCopy(md, 0, 4096), "disabled: straight from the file");
        assertNull(msg("enable"));
        assertTrue(FlakeyTargetTest.sentZeroCopy(md, 0, 4096) == null, "enabled with a bad block: the read must be judged");
        assertIoError(Errno.EIO, () -> read(md, 0, 4096));
        assertEquals("dust_clear_badblocks: badblocks cleared", msg("clearbadblocks"));
        assertArrayEquals(expected, FlakeyTargetTest.sentZeroCopy(md, 0, 4096), "enabled, empty list: straight from the file");
    }

    @Test
    void malformedMessagesAreRefusedAndChangeNothing() throws Exception {
        msg("addbadblock", "7");
        String[][] cases = {
                {"dust: addbadblock requires an additional argument", "addbadblock"},
                {"dust: queryblock requires an additional argument", "queryblock"},
                {"dust: unrecognized message 'frobnicate' received", "frobnicate"},
                {"dust: invalid block number \"x\"", "addbadblock", "x"},
                {"dust: invalid block number \"-1\"", "removebadblock", "-1"},
                {"dust: selected block value 65 out of range (device has 64 blocks)", "addbadblock", "65"},
                {"dust: block 7 already in badblocklist", "addbadblock", "7"},
                {"dust: block 8 not found in badblocklist", "removebadblock", "8"},
                {"dust: selected write fail count 256 out of range (0..255)", "addbadblock", "9", "256"},
                {"dust: invalid write fail count \"1x\"", "addbadblock", "9", "1x"},
                {"dust: unrecognized message 'queryblock' received", "queryblock", "9", "1"},
                {"dust: unrecognized message 'enable' received", "enable", "1"},
                {"dust: invalid number of arguments '4'", "addbadblock", "1", "2", "3"},
        };
        for (String[] c : cases) {
            List<String> argv = List.of(c).subList(1, c.length);
            DmException e = assertThrows(DmException.class, () -> dm.message("d", 0, argv), argv.toString());
            assertEquals(Errno.EINVAL, e.errno());
            assertEquals(c[0], e.getMessage());
        }
        assertEquals("7\n", msg("listbadblocks"));
        assertEquals("0 496 dust " + a + " bypass verbose", status());
    }

    @Test
    void badBlocksFailReadsOnlyWhenEnabledAndIoIsSplitAtBlocks() throws Exception {
        msg("addbadblock", "3"); // device block 3 = target bytes [8192, 12288)
        byte[] before = slice(a, 4096, 3 * 4096);
        assertArrayEquals(before, read(md, 0, 3 * 4096), "bypass: the list is ignored");
        msg("enable");
        assertArrayEquals(slice(a, 4096, 8192), read(md, 0, 8192), "blocks 1 and 2 are good");
        assertIoError(Errno.EIO, () -> read(md, 8192 + 512, 512));
        assertIoError(Errno.EIO, () -> read(md, 4096, 8192));
        assertArrayEquals(slice(a, 16384, 4096), read(md, 12288, 4096));
    }

    @Test
    void writeFailsWhileItsCountLastsThenRepairsTheBlock() throws Exception {
        msg("addbadblock", "5", "2");
        msg("enable");
        byte[] data = filled(4096, 0x42);
        long target = (5 - 1) * 4096L;
        assertIoError(Errno.EIO, () -> write(md, target, data));
        assertIoError(Errno.EIO, () -> write(md, target, data));
        assertEquals("dust_query_block: block 5 found in badblocklist", msg("queryblock", "5"));
        assertIoError(Errno.EIO, () -> read(md, target, 4096));
        write(md, target, data);
        assertEquals("dust_query_block: block 5 not found in badblocklist", msg("queryblock", "5"));
        assertArrayEquals(data, read(md, target, 4096));
        assertArrayEquals(data, slice(a, 5 * 4096L, 4096));
    }

    @Test
    void bypassedWritesLeaveTheListAlone() throws Exception {
        msg("addbadblock", "2");
        write(md, 4096, filled(4096, 1));
        assertEquals("2\n", msg("listbadblocks"));
        msg("enable");
        md.discard(4096, 4096);
        assertEquals("No blocks in badblocklist", msg("listbadblocks"), "a discard is a write and repairs the block");
    }

    @Test
    void constructorErrorsNameTheArgument() throws Exception {
        String[][] cases = {
                {a + " 0", "expected 3 arguments (<dev> <offset> <blksz>), got 2"},
                {a + " 0 0", "argument 3 (\"0\"): block size out of range (1..4294967295)"},
                {a + " 0 256", "argument 3 (\"256\"): block size must be at least 512"},
                {a + " 0 1536", "argument 3 (\"1536\"): block size must be a power of 2"},
                {a + " 0 524288", "argument 3 (\"524288\"): block size is too large (at most the target length and 1 GiB)"},
                {a + " y 512", "argument 2 (\"y\"): invalid device offset sector"},
        };
        for (String[] c : cases) {
            DmException e = assertThrows(DmException.class, () -> dm.load("d", "0 496 dust " + c[0], false));
            assertEquals("table line 1: dust: " + c[1], e.getMessage());
        }
        assertEquals("0 496 dust " + a + " 8 4096", dm.table("d", false).getFirst().format());
    }

    /** One step of a random workload against the bad-block list. */
    record Op(String kind, int block, int count) {
    }

    @Provide
    Arbitrary<List<Op>> workloads() {
        Arbitrary<Op> op = Arbitraries.of("add", "remove", "read", "write", "enable", "disable").flatMap(kind ->
                Arbitraries.integers().between(0, 7).flatMap(block ->
                        Arbitraries.integers().between(0, 2).map(count -> new Op(kind, block, count))));
        return op.list().ofMaxSize(40);
    }

    /** The target agrees with a map-based model of the kernel's rules on every step. */
    @Property(tries = 60, seed = "4242")
    void behavesLikeTheReferenceModel(@ForAll("workloads") List<Op> ops) throws Exception {
        Path img = Files.createTempFile("dust", ".img");
        try (DeviceMapper engine = DeviceMapper.create()) {
            Files.write(img, new byte[8 * 1024]);
            engine.create("p", null, "0 16 dust " + img + " 0 1024", false);
            MappedDevice dev = engine.device("p");
            TreeMap<Integer, Integer> model = new TreeMap<>();
            boolean enabled = false;
            for (Op op : ops) {
                List<String> argv = switch (op.kind) {
                    case "add" -> List.of("addbadblock", "" + op.block, "" + op.count);
                    case "remove" -> List.of("removebadblock", "" + op.block);
                    case "enable", "disable" -> List.of(op.kind);
                    default -> null;
                };
                if (argv != null) {
                    boolean ok = switch (op.kind) {
                        case "add" -> model.putIfAbsent(op.block, op.count) == null;
                        case "remove" -> model.remove(op.block) != null;
                        default -> true;
                    };
                    if (op.kind.equals("enable")) enabled = true;
                    if (op.kind.equals("disable")) enabled = false;
                    if (ok) {
                        engine.message("p", 0, argv);
                    } else {
                        assertThrows(DmException.class, () -> engine.message("p", 0, argv));
                    }
                } else if (op.kind.equals("read")) {
                    boolean fails = enabled && model.containsKey(op.block);
                    if (fails) {
                        assertThrows(BlockIoException.class, () -> read(dev, op.block * 1024L, 1024));
                    } else {
                        read(dev, op.block * 1024L, 1024);
                    }
                } else {
                    Integer left = enabled ? model.get(op.block) : null;
                    if (left != null && left > 0) {
                        model.put(op.block, left - 1);
                        assertThrows(BlockIoException.class, () -> write(dev, op.block * 1024L, new byte[1024]));
                    } else {
                        if (left != null) model.remove(op.block);
                        write(dev, op.block * 1024L, new byte[1024]);
                    }
                }
                String expected = model.isEmpty() ? "No blocks in badblocklist"
                        : model.keySet().stream().map(b -> b + "\n").reduce("", String::concat);
                assertEquals(expected, engine.message("p", 0, List.of("listbadblocks")));
            }
        } finally {
            Files.deleteIfExists(img);
        }
    }
}
