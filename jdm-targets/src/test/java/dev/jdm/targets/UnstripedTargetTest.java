package dev.jdm.targets;

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
import java.util.stream.Stream;

import static dev.jdm.targets.Images.pattern;
import static dev.jdm.targets.Images.read;
import static dev.jdm.targets.Images.write;
import static dev.jdm.targets.TargetTestSupport.status;
import static dev.jdm.targets.TargetTestSupport.table;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * unstriped over the legs of a jdm {@code striped} device: each stripe number gives back exactly that
 * leg file's bytes, and writes through it land there.
 */
class UnstripedTargetTest {
    private static final int STRIPES = 3;
    /** 24 sectors: the current kernel's chunk need not be a power of two. */
    private static final int CHUNK_SECTORS = 24;
    private static final int ROWS = 10;
    private static final int LEG_SECTORS = CHUNK_SECTORS * ROWS;
    private static final long[] LEG_OFFSETS = {0, 8, 100};

    @TempDir
    Path dir;
    private DeviceMapper dm;
    private final List<Path> legs = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        dm = DeviceMapper.create();
        StringBuilder striped = new StringBuilder("0 " + STRIPES * LEG_SECTORS + " striped " + STRIPES + " " + CHUNK_SECTORS);
        for (int k = 0; k < STRIPES; k++) {
            Path leg = dir.resolve("leg" + k + ".img");
            Files.write(leg, pattern((int) (LEG_OFFSETS[k] + LEG_SECTORS) * 512, 50 + k));
            legs.add(leg);
            striped.append(' ').append(leg).append(' ').append(LEG_OFFSETS[k]);
        }
        dm.create("str", null, striped.toString(), false);
        // Random data through the striped device, so the legs hold what striped put there.
        MappedDevice str = dm.device("str");
        write(str, 0, pattern(STRIPES * LEG_SECTORS * 512, 60));
        str.flush();
    }

    @AfterEach
    void tearDown() {
        dm.close();
    }

    private byte[] legBytes(int k) throws Exception {
        int from = (int) LEG_OFFSETS[k] * 512;
        return Arrays.copyOfRange(Files.readAllBytes(legs.get(k)), from, from + LEG_SECTORS * 512);
    }

    @Test
    void eachStripeNumberReadsBackExactlyItsLeg() throws Exception {
        for (int k = 0; k < STRIPES; k++) {
            dm.create("u" + k, null, "0 " + LEG_SECTORS + " unstriped " + STRIPES + " " + CHUNK_SECTORS + " " + k + " /dev/mapper/str 0", false);
            assertArrayEquals(legBytes(k), read(dm.device("u" + k), 0, LEG_SECTORS * 512), "stripe " + k);
            // A read across chunk boundaries from the middle of a chunk.
            int from = CHUNK_SECTORS * 512 / 2 + 1000;
            assertArrayEquals(Arrays.copyOfRange(legBytes(k), from, from + 3 * CHUNK_SECTORS * 512),
                    read(dm.device("u" + k), from, 3 * CHUNK_SECTORS * 512), "stripe " + k + " across chunks");
        }
    }

    @Test
    void writesThroughAStripeLandInItsLegOnly() throws Exception {
        dm.create("u1", null, "0 " + LEG_SECTORS + " unstriped " + STRIPES + " " + CHUNK_SECTORS + " 1 /dev/mapper/str 0", false);
        List<byte[]> before = new ArrayList<>();
        for (int k = 0; k < STRIPES; k++) {
            before.add(Files.readAllBytes(legs.get(k)));
        }
        MappedDevice u1 = dm.device("u1");
        int at = 5 * CHUNK_SECTORS * 512 - 3000; // crosses from row 4 into row 5
        byte[] data = pattern(2 * CHUNK_SECTORS * 512, 61);
        write(u1, at, data);
        u1.flush();
        dm.device("str").flush();
        byte[] expected = before.get(1).clone();
        System.arraycopy(data, 0, expected, (int) LEG_OFFSETS[1] * 512 + at, data.length);
        assertArrayEquals(expected, Files.readAllBytes(legs.get(1)));
        assertArrayEquals(before.get(0), Files.readAllBytes(legs.get(0)));
        assertArrayEquals(before.get(2), Files.readAllBytes(legs.get(2)));
    }

    /** The kernel maps the mapped device's sector S, not the target's: a target at sector 48 starts in row 2. */
    @Test
    void theMappingUsesTheMappedDevicesSectorAsTheKernelDoes() throws Exception {
        dm.create("late", null, "0 48 zero\n48 " + (LEG_SECTORS - 48) + " unstriped " + STRIPES + " " + CHUNK_SECTORS
                + " 2 /dev/mapper/str 0", false);
        byte[] leg2 = legBytes(2);
        assertArrayEquals(Arrays.copyOfRange(leg2, 48 * 512, LEG_SECTORS * 512), read(dm.device("late"), 48 * 512, (LEG_SECTORS - 48) * 512));
        // Not chunk-aligned: the target starts 12 sectors into row 0, and its I/O is cut at S's chunk boundaries.
        dm.create("odd", null, "0 12 zero\n12 " + (LEG_SECTORS - 24) + " unstriped " + STRIPES + " " + CHUNK_SECTORS
                + " 0 /dev/mapper/str 0", false);
        assertArrayEquals(Arrays.copyOfRange(legBytes(0), 12 * 512, (LEG_SECTORS - 12) * 512),
                read(dm.device("odd"), 12 * 512, (LEG_SECTORS - 24) * 512));
    }

    @Test
    void listedWithTheKernelsVersion() {
        assertEquals(List.of(new TargetType.Version(1, 1, 0)),
                dm.targets().stream().filter(t -> t.name().equals("unstriped")).map(TargetType::version).toList());
    }

    @Test
    void tableRoundTripsAndStatusIsEmpty() throws Exception {
        String line = "0 " + LEG_SECTORS + " unstriped 3 24 2 253:0 0";
        dm.create("u", null, "0 " + LEG_SECTORS + " unstriped +3 +24 +2 /dev/mapper/str 0", false);
        assertEquals(List.of(line), table(dm, "u"));
        assertEquals(List.of("0 " + LEG_SECTORS + " unstriped "), status(dm, "u"));
        dm.create("again", null, line, false);
        assertEquals(List.of(line), table(dm, "again"));
        assertEquals(List.of("253:0"), dm.deps("u", false));
        // The kernel prints the stripe count with %d: above 2^31 - 1 it reads as negative.
        dm.create("wide", null, "0 8 unstriped 3000000000 8 0 " + legs.getFirst() + " 16", false);
        assertEquals(List.of("0 8 unstriped -1294967296 8 0 " + legs.getFirst() + " 16"), table(dm, "wide"));
    }

    @TestFactory
    Stream<DynamicTest> everyBadArgumentHasTheKernelsText() throws Exception {
        Path a = legs.getFirst(); // 240 sectors
        Path missing = dir.resolve("missing.img");
        String l = "table line 1: unstriped: ";
        String syntax = "Invalid number of arguments: expected 5 (<#stripes> <chunk size> <stripe #> <dev> <offset>), got ";
        dm.create("u", null, "0 8 zero", false);
        List<Refusal> cases = List.of(
                new Refusal("four arguments", Errno.EINVAL, l + syntax + "4", () -> dm.load("u", "0 8 unstriped 2 8 0 " + a, false)),
                new Refusal("six arguments", Errno.EINVAL, l + syntax + "6", () -> dm.load("u", "0 8 unstriped 2 8 0 " + a + " 0 0", false)),
                new Refusal("no stripes", Errno.EINVAL, l + "argument 1 (\"0\"): Invalid stripe count",
                        () -> dm.load("u", "0 8 unstriped 0 8 0 " + a + " 0", false)),
                new Refusal("stripe count past 32 bits", Errno.EINVAL, l + "argument 1 (\"4294967296\"): Invalid stripe count",
                        () -> dm.load("u", "0 8 unstriped 4294967296 8 0 " + a + " 0", false)),
                new Refusal("chunk 0", Errno.EINVAL, l + "argument 2 (\"0\"): Invalid chunk_size",
                        () -> dm.load("u", "0 8 unstriped 2 0 0 " + a + " 0", false)),
                new Refusal("chunk not a number", Errno.EINVAL, l + "argument 2 (\"8k\"): Invalid chunk_size",
                        () -> dm.load("u", "0 8 unstriped 2 8k 0 " + a + " 0", false)),
                new Refusal("stripe number negative", Errno.EINVAL, l + "argument 3 (\"-1\"): Invalid stripe number",
                        () -> dm.load("u", "0 8 unstriped 2 8 -1 " + a + " 0", false)),
                new Refusal("stripe number = stripes", Errno.EINVAL,
                        l + "argument 3 (\"2\"): Please provide stripe between [0, # of stripes]: stripe 2 of 2 stripes (0..1)",
                        () -> dm.load("u", "0 8 unstriped 2 8 2 " + a + " 0", false)),
                new Refusal("stripe number with one stripe", Errno.EINVAL,
                        l + "argument 3 (\"1\"): Please provide stripe between [0, # of stripes]: stripe 1 of 1 stripes (0..0)",
                        () -> dm.load("u", "0 8 unstriped 1 8 1 " + a + " 0", false)),
                new Refusal("offset not a number (sscanf takes no '+')", Errno.EINVAL, l + "argument 5 (\"+0\"): Invalid striped device offset",
                        () -> dm.load("u", "0 8 unstriped 2 8 0 " + a + " +0", false)),
                new Refusal("device missing (read before its bad offset)", Errno.ENXIO,
                        l + "argument 4 (\"" + missing + "\"): no such file or device: " + missing,
                        () -> dm.load("u", "0 8 unstriped 2 8 0 " + missing + " x", false)),
                new Refusal("length not a multiple of the chunk", Errno.EINVAL,
                        l + "Target length not divisible by chunk size: length 12, chunk 8",
                        () -> dm.load("u", "0 12 unstriped 2 8 0 " + a + " 0", false)),
                // 40 sectors of stripe 1 of 3 in chunks of 8: rows 0..4, the last chunk ends at 4*24 + 8 + 8 = 112.
                new Refusal("device short of the last row", Errno.EINVAL, l + "argument 4 (\"" + a + "\"): device too small for "
                        + "target: it has 240 sectors, the target needs sectors 130 to 242",
                        () -> dm.load("u", "0 40 unstriped 3 8 1 " + a + " 130", false)),
                new Refusal("a reach past 2^63", Errno.EINVAL, l + "argument 4 (\"" + a + "\"): device too small for "
                        + "target: it has 240 sectors, the target needs sectors 0 to 9223372036854775807",
                        () -> dm.load("u", "0 8589934590 unstriped 4294967295 4294967295 0 " + a + " 0", false)));
        return RegistryState.refusals(dm, cases);
    }
}
