package dev.jdm.targets;

import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.core.engine.RegistryState;
import dev.jdm.core.engine.RegistryState.Refusal;
import dev.jdm.core.spi.TargetType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static dev.jdm.targets.Images.pattern;
import static dev.jdm.targets.Images.read;
import static dev.jdm.targets.Images.write;
import static dev.jdm.targets.TargetTestSupport.status;
import static dev.jdm.targets.TargetTestSupport.table;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * switch against the test's own region table: which bytes of which backing file each region's I/O
 * lands on is computed here (path = table[sector / region size], file offset = path offset + target
 * offset) and compared with the files after random set_region_mappings messages.
 */
class SwitchTargetTest {
    /** 64 regions of 24 sectors (12 KiB, not a power of two) over three paths. */
    private static final int PATHS = 3;
    private static final int REGION_SECTORS = 24;
    private static final int REGIONS = 64;
    private static final int LENGTH_SECTORS = REGIONS * REGION_SECTORS;
    private static final int REGION = REGION_SECTORS * 512;
    private static final long[] OFFSET_SECTORS = {0, 16, 40};

    @TempDir
    Path dir;
    private DeviceMapper dm;
    private final List<Path> files = new ArrayList<>();
    /** What each backing file must hold, kept by the test as it writes. */
    private final List<byte[]> expectedFiles = new ArrayList<>();
    /** The test's region table. */
    private final int[] pathOf = new int[REGIONS];
    private String line;

    @BeforeEach
    void setUp() throws Exception {
        dm = DeviceMapper.create();
        StringBuilder t = new StringBuilder("0 " + LENGTH_SECTORS + " switch " + PATHS + " " + REGION_SECTORS + " 0");
        for (int p = 0; p < PATHS; p++) {
            byte[] initial = pattern((int) (OFFSET_SECTORS[p] + LENGTH_SECTORS) * 512, 100 + p);
            Path f = dir.resolve("path" + p + ".img");
            Files.write(f, initial);
            files.add(f);
            expectedFiles.add(initial);
            t.append(' ').append(f).append(' ').append(OFFSET_SECTORS[p]);
        }
        line = t.toString();
        dm.create("sw", null, line, false);
        for (int r = 0; r < REGIONS; r++) {
            pathOf[r] = r % PATHS;
        }
    }

    @AfterEach
    void tearDown() {
        dm.close();
    }

    private MappedDevice sw() throws DmException {
        return dm.device("sw");
    }

    private String msg(String... argv) throws DmException {
        return dm.message("sw", 0, List.of(argv));
    }

    /** Writes through the device and records, byte by byte, where the test's table says they land. */
    private void writeAndModel(long offset, byte[] data) throws Exception {
        write(sw(), offset, data);
        for (int i = 0; i < data.length; i++) {
            long at = offset + i;
            int path = pathOf[(int) (at / REGION)];
            expectedFiles.get(path)[(int) (OFFSET_SECTORS[path] * 512 + at)] = data[i];
        }
    }

    /** What a read of the device must return, from the test's table and the files' expected bytes. */
    private byte[] expectedRead(long offset, int length) {
        byte[] out = new byte[length];
        for (int i = 0; i < length; i++) {
            long at = offset + i;
            int path = pathOf[(int) (at / REGION)];
            out[i] = expectedFiles.get(path)[(int) (OFFSET_SECTORS[path] * 512 + at)];
        }
        return out;
    }

    private void assertFilesAsModelled() throws Exception {
        sw().flush();
        for (int p = 0; p < PATHS; p++) {
            assertArrayEquals(expectedFiles.get(p), Files.readAllBytes(files.get(p)), "path " + p);
        }
    }

    @Test
    void listedWithTheKernelsVersion() {
        assertEquals(List.of(new TargetType.Version(1, 1, 0)),
                dm.targets().stream().filter(t -> t.name().equals("switch")).map(TargetType::version).toList());
    }

    @Test
    void tableRoundTripsAndStatusIsEmpty() throws Exception {
        assertEquals(List.of(line), table(dm, "sw"));
        assertEquals(List.of("0 " + LENGTH_SECTORS + " switch "), status(dm, "sw"));
        dm.create("again", null, table(dm, "sw").getFirst(), false);
        assertEquals(List.of(line), table(dm, "again"));
        // kstrtoull takes a '+' in the offsets; the table prints the number.
        dm.create("plus", null, "0 48 switch 1 24 0 " + files.getFirst() + " +8", false);
        assertEquals(List.of("0 48 switch 1 24 0 " + files.getFirst() + " 8"), table(dm, "plus"));
        assertEquals(files.stream().map(Path::toString).toList(), dm.deps("sw", false));
    }

    @Test
    void startsRoundRobinAndCutsIoAtRegionBoundaries() throws Exception {
        // From the middle of region 0 across regions 1..3 into region 4: four cuts, paths 0,1,2,0,1.
        writeAndModel(REGION / 2 + 512, pattern(4 * REGION - 1024, 7));
        // One byte-unaligned write across a single boundary.
        writeAndModel(10L * REGION - 3, pattern(9, 8));
        assertFilesAsModelled();
        assertArrayEquals(expectedRead(0, 6 * REGION), read(sw(), 0, 6 * REGION));
        assertArrayEquals(expectedRead(10L * REGION - 700, 1400), read(sw(), 10L * REGION - 700, 1400));
    }

    @Test
    void theKernelDocsExampleMessage() throws Exception {
        // 1:1 sets region 1, :2 region 2, R2,a copies the two-entry cycle ten times: regions 3..12 = 1,2,1,2,...
        assertNull(msg("set_region_mappings", "1:1", ":2", "R2,a"));
        pathOf[1] = 1;
        pathOf[2] = 2;
        for (int r = 3; r <= 12; r++) {
            pathOf[r] = r % 2 == 1 ? 1 : 2;
        }
        byte[] data = pattern(REGIONS * REGION, 9);
        writeAndModel(0, data);
        assertFilesAsModelled();
        assertArrayEquals(data, read(sw(), 0, data.length));
    }

    @Test
    void messageNameAndRepeatLetterIgnoreCaseAndHexTakesBothCases() throws Exception {
        assertNull(msg("SET_REGION_MAPPINGS", "A:2", "r1,3", "3F:1"));
        pathOf[10] = 2;
        pathOf[11] = 2;
        pathOf[12] = 2;
        pathOf[13] = 2;
        pathOf[63] = 1;
        writeAndModel(0, pattern(REGIONS * REGION, 10));
        assertFilesAsModelled();
    }

    /** Random messages of the three forms, with now and then a bad word in the middle: what came before it stays. */
    @Test
    void randomMessagesMoveRegionsExactlyAsTheTestsOwnTableSays() throws Exception {
        SplittableRandom random = new SplittableRandom(18);
        for (int round = 0; round < 40; round++) {
            List<String> argv = new ArrayList<>(List.of("set_region_mappings"));
            String expectedError = null;
            long region = 0;
            int words = 1 + random.nextInt(8);
            for (int w = 0; w < words && expectedError == null; w++) {
                int kind = random.nextInt(10);
                if (kind < 4 || region + 1 >= REGIONS) {
                    region = random.nextInt(REGIONS);
                    int path = random.nextInt(PATHS);
                    argv.add(Long.toHexString(region) + ":" + Integer.toHexString(path));
                    pathOf[(int) region] = path;
                } else if (kind < 7) {
                    region++;
                    int path = random.nextInt(PATHS);
                    argv.add(":" + path);
                    pathOf[(int) region] = path;
                } else if (kind < 9) {
                    int cycle = 1 + random.nextInt((int) region + 1);
                    int count = random.nextInt((int) (REGIONS - 1 - region));
                    argv.add("R" + Integer.toHexString(cycle) + "," + Integer.toHexString(count));
                    for (int i = 0; i < count; i++) {
                        region++;
                        pathOf[(int) region] = pathOf[(int) region - cycle];
                    }
                } else {
                    String bad = List.of("1x:1", "2:", "R,1", "R3", ":1:1", "q").get(random.nextInt(6));
                    argv.add(bad);
                    argv.add("0:1"); // never applied
                    expectedError = "switch: invalid set_region_mappings argument: '" + bad + "'";
                }
            }
            if (expectedError == null) {
                assertNull(dm.message("sw", 0, argv), argv.toString());
            } else {
                DmException e = assertThrows(DmException.class, () -> dm.message("sw", 0, argv));
                assertEquals(Errno.EINVAL, e.errno());
                assertEquals(expectedError, e.getMessage());
            }
            int at = random.nextInt(LENGTH_SECTORS * 512 - 3 * REGION);
            writeAndModel(at, pattern(1 + random.nextInt(3 * REGION), round));
        }
        writeAndModel(0, pattern(REGIONS * REGION, 99));
        assertFilesAsModelled();
    }

    @Test
    void badMessagesGiveTheKernelsWarningTextAndKeepWhatCameBefore() throws Exception {
        String[][] cases = {
                {"switch: Unrecognised message received: set_region_mapping", "set_region_mapping", "0:1"},
                {"switch: invalid set_region_mappings argument: '1:'", "set_region_mappings", "1:"},
                {"switch: invalid set_region_mappings argument: '1'", "set_region_mappings", "1"},
                {"switch: invalid set_region_mappings argument: '1:1x'", "set_region_mappings", "1:1x"},
                {"switch: invalid set_region_mappings argument: '0x1:1'", "set_region_mappings", "0x1:1"},
                {"switch: invalid set_region_mappings argument: 'R,1'", "set_region_mappings", "5:0", "R,1"},
                {"switch: invalid set_region_mappings argument: 'R1'", "set_region_mappings", "5:0", "R1"},
                {"switch: invalid set_region_mappings argument: 'R1,'", "set_region_mappings", "5:0", "R1,"},
                {"switch: invalid set_region_mappings argument: 'R1,2z'", "set_region_mappings", "5:0", "R1,2z"},
                {"switch: invalid set_region_mappings cycle length: 2 > 1", "set_region_mappings", ":0", "R3,1"},
                {"switch: invalid set_region_mappings cycle length: 18446744073709551615 > 5", "set_region_mappings", "5:0", "R0,1"},
                {"switch: invalid set_region_mappings region number: 62 + 2 >= 64", "set_region_mappings", "3e:0", "R1,2"},
                {"switch: invalid set_region_mappings region number: 64 >= 64", "set_region_mappings", "40:0"},
                {"switch: invalid set_region_mappings region number: 64 >= 64", "set_region_mappings", "3f:0", ":0"},
                {"switch: invalid set_region_mappings device: 3 >= 3", "set_region_mappings", "0:3"},
                // Hex wraps past 64 bits as the kernel's unsigned long: 1 followed by 16 zeroes is region 0.
                {"switch: invalid set_region_mappings device: 16 >= 3", "set_region_mappings", "10000000000000000:10"},
        };
        for (String[] c : cases) {
            List<String> argv = List.of(c).subList(1, c.length);
            DmException e = assertThrows(DmException.class, () -> dm.message("sw", 0, argv), argv.toString());
            assertEquals(Errno.EINVAL, e.errno());
            assertEquals(c[0], e.getMessage(), argv.toString());
        }
        // The words before each bad one stayed: regions 5, 0 and 62 and 63 went to path 0 (62 and 63 were 2 and 0).
        pathOf[5] = 0;
        pathOf[62] = 0;
        pathOf[1] = 0; // ":0" as the first word is region 0 + 1
        writeAndModel(0, pattern(REGIONS * REGION, 11));
        assertFilesAsModelled();
        assertNull(msg("set_region_mappings"), "no words: nothing to do");
    }

    /**
     * Two threads send at the same moment a message that moves every region to its own path, one from
     * the first region up, the other from the last down, round after round: run one at a time, the later
     * one leaves every region on one path; interleaved, they cross and leave each half on another path.
     */
    @Test
    void messagesRunOneAtATime() throws Exception {
        int regions = 4096;
        List<Path> paths = new ArrayList<>();
        for (int p = 0; p < PATHS; p++) {
            byte[] marked = new byte[regions * 512];
            Arrays.fill(marked, (byte) p);
            paths.add(Files.write(dir.resolve("marked" + p + ".img"), marked));
        }
        dm.create("many", null, "0 " + regions + " switch 3 1 0 " + paths.get(0) + " 0 " + paths.get(1) + " 0 " + paths.get(2) + " 0", false);
        int rounds = 40;
        CyclicBarrier together = new CyclicBarrier(3);
        List<Thread> senders = new ArrayList<>();
        for (int p = 1; p <= 2; p++) {
            List<String> argv = new ArrayList<>(List.of("set_region_mappings"));
            for (int r = 0; r < regions; r++) {
                argv.add(Integer.toHexString(p == 1 ? r : regions - 1 - r) + ":" + p);
            }
            senders.add(Thread.ofPlatform().start(() -> {
                try {
                    for (int i = 0; i < rounds; i++) {
                        together.await();
                        dm.message("many", 0, argv);
                        together.await();
                    }
                } catch (Exception e) {
                    together.reset(); // the checker's await fails instead of waiting out its timeout
                }
            }));
        }
        try {
            for (int i = 0; i < rounds; i++) {
                together.await(10, TimeUnit.SECONDS);
                together.await(10, TimeUnit.SECONDS);
                byte[] all = read(dm.device("many"), 0, regions * 512);
                byte[] uniform = new byte[all.length];
                Arrays.fill(uniform, all[0]);
                assertArrayEquals(uniform, all, "round " + i + ": every region on path " + all[0]);
            }
        } finally {
            together.reset(); // a failed round releases the senders
            for (Thread t : senders) {
                t.join();
            }
        }
    }

    @Test
    void aDiscardGoesWholeToThePathOfItsFirstSector() throws Exception {
        // Regions 1 (path 1) and 2 (path 2): the kernel sends the one discard bio down path 1.
        long offset = REGION + 4096;
        sw().discard(offset, 2 * REGION - 4096);
        sw().flush();
        byte[] path1 = Files.readAllBytes(files.get(1));
        int at = (int) (OFFSET_SECTORS[1] * 512 + offset);
        assertArrayEquals(new byte[2 * REGION - 4096], Arrays.copyOfRange(path1, at, at + 2 * REGION - 4096));
        assertArrayEquals(expectedFiles.get(2), Files.readAllBytes(files.get(2)), "path 2 untouched");
        assertArrayEquals(expectedFiles.get(0), Files.readAllBytes(files.get(0)), "path 0 untouched");
    }

    /** How big the packed table is: the smallest width that holds a path number, as many per 64-bit slot as fit. */
    @Test
    void regionTablePacksEntriesAsTheKernel() throws Exception {
        assertEquals(1, SwitchTarget.RegionTable.bitsFor(1));
        assertEquals(1, SwitchTarget.RegionTable.bitsFor(2));
        assertEquals(2, SwitchTarget.RegionTable.bitsFor(3));
        assertEquals(2, SwitchTarget.RegionTable.bitsFor(4));
        assertEquals(3, SwitchTarget.RegionTable.bitsFor(5));
        assertEquals(18, SwitchTarget.RegionTable.bitsFor(SwitchTarget.MAX_PATHS));
        // 1 TiB in 64 KiB regions: 16 Mi regions; 64 per slot over 2 paths, 32 over 3 (2 bits), 21 over 5 (3 bits).
        long tib = 1L << 31;
        assertEquals(1L << 18, SwitchTarget.RegionTable.create(tib, 128, 2).slotCount());
        assertEquals(1L << 19, SwitchTarget.RegionTable.create(tib, 128, 3).slotCount());
        assertEquals((16L << 20) / 21 + 1, SwitchTarget.RegionTable.create(tib, 128, 5).slotCount());
        // 21 entries of 3 bits per slot: entries 20 and 21 sit on either side of a slot boundary.
        SwitchTarget.RegionTable t = SwitchTarget.RegionTable.create(22 * 8, 8, 5);
        assertEquals(List.of(0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1), regions(t));
        t.set(20, 4);
        t.set(21, 3);
        t.set(0, 4);
        assertEquals(List.of(4, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 4, 3), regions(t));
    }

    private static List<Integer> regions(SwitchTarget.RegionTable t) {
        List<Integer> out = new ArrayList<>();
        for (long r = 0; r < t.size(); r++) {
            out.add(t.get(r));
        }
        return out;
    }

    @TestFactory
    Stream<DynamicTest> everyBadArgumentHasTheKernelsText() throws Exception {
        Path a = files.get(0);
        Path b = files.get(1);
        Path missing = dir.resolve("missing.img");
        dm.create("huge", null, "0 274877906944 zero", false);
        String l = "table line 1: switch: ";
        List<Refusal> cases = List.of(
                new Refusal("no arguments", Errno.EINVAL, l + "argument 1 is missing: Invalid number of paths",
                        () -> dm.load("sw", "0 48 switch", false)),
                new Refusal("no paths", Errno.EINVAL, l + "argument 1 (\"0\"): Invalid number of paths",
                        () -> dm.load("sw", "0 48 switch 0 8 0", false)),
                new Refusal("more paths than the kernel's kmalloc holds", Errno.EINVAL, l + "argument 1 (\"262142\"): Invalid number of paths",
                        () -> dm.load("sw", "0 48 switch 262142 8 0", false)),
                new Refusal("path count not a number", Errno.EINVAL, l + "argument 1 (\"+2\"): Invalid number of paths",
                        () -> dm.load("sw", "0 48 switch +2 8 0 " + a + " 0 " + b + " 0", false)),
                new Refusal("region size 0", Errno.EINVAL, l + "argument 2 (\"0\"): Invalid region size",
                        () -> dm.load("sw", "0 48 switch 2 0 0 " + a + " 0 " + b + " 0", false)),
                new Refusal("no optional count", Errno.EINVAL, l + "argument 3 is missing: Invalid number of optional args",
                        () -> dm.load("sw", "0 48 switch 2 8", false)),
                new Refusal("an optional argument", Errno.EINVAL, l + "argument 3 (\"1\"): Invalid number of optional args",
                        () -> dm.load("sw", "0 48 switch 2 8 1 x " + a + " 0 " + b + " 0", false)),
                new Refusal("a path short", Errno.EINVAL, l + "Incorrect number of path arguments: expected a <dev> <offset> pair for "
                        + "each of the 2 paths (4 arguments), got 3",
                        () -> dm.load("sw", "0 48 switch 2 8 0 " + a + " 0 " + b, false)),
                new Refusal("offset not a number", Errno.EINVAL, l + "argument 7 (\"8x\"): Invalid device starting offset",
                        () -> dm.load("sw", "0 48 switch 2 8 0 " + a + " 0 " + b + " 8x", false)),
                new Refusal("device missing (read before its bad offset)", Errno.ENXIO,
                        l + "argument 6 (\"" + missing + "\"): no such file or device: " + missing,
                        () -> dm.load("sw", "0 48 switch 2 8 0 " + a + " 0 " + missing + " 8x", false)),
                new Refusal("path too small", Errno.EINVAL, l + "argument 6 (\"" + b + "\"): device too small for target: it has 1552 "
                        + "sectors, the target needs sectors 1510 to 1558",
                        () -> dm.load("sw", "0 48 switch 2 8 0 " + a + " 0 " + b + " 1510", false)),
                new Refusal("offset past any device", Errno.EINVAL, l + "argument 4 (\"" + a + "\"): device too small for target: it has "
                        + "1536 sectors, the target needs sectors 18014398509481983 to 18014398509482031",
                        () -> dm.load("sw", "0 48 switch 1 8 0 " + a + " 18446744073709551615", false)),
                new Refusal("2^38 regions of 1 bit", Errno.EINVAL, l + "Region table too large: 274877906944 regions need "
                        + "4294967296 slots of 64 bits, a table holds at most 2147483639",
                        () -> dm.load("sw", "0 274877906944 switch 2 1 0 /dev/mapper/huge 0 /dev/mapper/huge 0", false)));
        return RegistryState.refusals(dm, cases);
    }
}
