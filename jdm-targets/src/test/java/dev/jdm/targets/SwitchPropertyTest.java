package dev.jdm.targets;

import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * switch under random geometry, reads, writes and set_region_mappings messages (valid and not) against
 * a model of its own: a region table and the bytes each path's file must hold.
 */
class SwitchPropertyTest {

    record Geometry(int paths, int regionSectors, int regions, List<Integer> offsetSectors) {
    }

    @Provide
    Arbitrary<Geometry> geometries() {
        return Combinators.combine(Arbitraries.integers().between(1, 5), Arbitraries.integers().between(1, 40),
                        Arbitraries.integers().between(1, 40), Arbitraries.integers().between(0, 16).list().ofSize(5))
                .as(Geometry::new);
    }

    /** The test's switch: the region table and the files' bytes, changed only by its own rules. */
    private static final class Model {
        final Geometry g;
        final int[] pathOf;
        final byte[][] files;

        Model(Geometry g, SplittableRandom random) {
            this.g = g;
            pathOf = new int[g.regions()];
            for (int r = 0; r < pathOf.length; r++) {
                pathOf[r] = r % g.paths();
            }
            files = new byte[g.paths()][];
            for (int p = 0; p < g.paths(); p++) {
                files[p] = new byte[(g.offsetSectors().get(p) + g.regionSectors() * g.regions()) * 512];
                random.nextBytes(files[p]);
            }
        }

        /** Where target byte {@code t} lives: {path, byte in that path's file}. */
        int[] locate(long t) {
            int path = pathOf[(int) (t / (g.regionSectors() * 512L))];
            return new int[]{path, (int) (g.offsetSectors().get(path) * 512L + t)};
        }

        /** Applies one word by the message's rules; false (and nothing changed by this word) when it is refused. */
        boolean apply(int kind, int a, int b, long[] region) {
            switch (kind) {
                case 0, 1 -> {
                    region[0] = kind == 0 ? a : region[0] + 1;
                    if (region[0] >= g.regions() || b >= g.paths()) {
                        return false;
                    }
                    pathOf[(int) region[0]] = b;
                }
                default -> {
                    if (a == 0 || a - 1 > region[0] || region[0] + b >= g.regions()) {
                        return false;
                    }
                    for (int i = 0; i < b; i++) {
                        region[0]++;
                        pathOf[(int) region[0]] = pathOf[(int) region[0] - a];
                    }
                }
            }
            return true;
        }
    }

    private static String word(int kind, int a, int b) {
        return switch (kind) {
            case 0 -> Integer.toHexString(a) + ":" + Integer.toHexString(b);
            case 1 -> ":" + Integer.toHexString(b);
            default -> (b % 2 == 0 ? "R" : "r") + Integer.toHexString(a) + "," + Integer.toHexString(b);
        };
    }

    @Property(tries = 60, seed = "1813")
    void readsWritesAndMessagesFollowTheModel(@ForAll("geometries") Geometry g, @ForAll long seed) throws Exception {
        SplittableRandom random = new SplittableRandom(seed);
        Model model = new Model(g, random);
        Path dir = Files.createTempDirectory("jdm-switch-");
        List<Path> files = new ArrayList<>();
        StringBuilder table = new StringBuilder("0 " + g.regionSectors() * g.regions() + " switch " + g.paths() + " " + g.regionSectors() + " 0");
        for (int p = 0; p < g.paths(); p++) {
            Path f = dir.resolve("p" + p);
            Files.write(f, model.files[p]);
            files.add(f);
            table.append(' ').append(f).append(' ').append(g.offsetSectors().get(p));
        }
        long size = g.regionSectors() * g.regions() * 512L;
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("sw", null, table.toString(), false);
            MappedDevice sw = dm.device("sw");
            for (int op = 0; op < 40; op++) {
                long offset = random.nextLong(size);
                int length = (int) Math.min(size - offset, 1 + random.nextInt(3 * g.regionSectors() * 512));
                switch (random.nextInt(3)) {
                    case 0 -> {
                        byte[] data = new byte[length];
                        random.nextBytes(data);
                        sw.write(offset, ByteBuffer.wrap(data), false);
                        for (int i = 0; i < length; i++) {
                            int[] at = model.locate(offset + i);
                            model.files[at[0]][at[1]] = data[i];
                        }
                    }
                    case 1 -> {
                        ByteBuffer got = ByteBuffer.allocate(length);
                        sw.read(offset, got);
                        byte[] expected = new byte[length];
                        for (int i = 0; i < length; i++) {
                            int[] at = model.locate(offset + i);
                            expected[i] = model.files[at[0]][at[1]];
                        }
                        assertArrayEquals(expected, got.array(), "read of " + length + " at " + offset);
                    }
                    default -> {
                        List<String> argv = new ArrayList<>(List.of("set_region_mappings"));
                        long[] region = {0};
                        boolean refused = false;
                        for (int w = random.nextInt(6); w >= 0 && !refused; w--) {
                            int kind = random.nextInt(3);
                            int a = random.nextInt(kind == 2 ? 6 : g.regions() + 2);
                            int b = random.nextInt(kind == 2 ? g.regions() : g.paths() + 1);
                            argv.add(word(kind, a, b));
                            refused = !model.apply(kind, a, b, region);
                        }
                        if (refused) {
                            argv.add("0:0"); // after the refused word: never applied
                            assertEquals(Errno.EINVAL, assertThrows(DmException.class, () -> dm.message("sw", 0, argv)).errno());
                        } else {
                            assertNull(dm.message("sw", 0, argv), argv.toString());
                        }
                    }
                }
            }
            sw.flush();
            for (int p = 0; p < g.paths(); p++) {
                assertArrayEquals(model.files[p], Files.readAllBytes(files.get(p)), "path " + p);
            }
        } finally {
            for (Path f : files) {
                Files.deleteIfExists(f);
            }
            Files.delete(dir);
        }
    }
}
