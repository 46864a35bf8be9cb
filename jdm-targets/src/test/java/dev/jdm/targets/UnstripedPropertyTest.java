package dev.jdm.targets;

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
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * unstriped under random geometry (stripes, chunk, stripe number, offset, and a zero line in front so
 * the target need not start at sector 0, nor on a chunk boundary), random reads and writes against the device's bytes as the
 * test lays them out: mapped-device chunk c of stripe k is device chunk {@code c * stripes + k}.
 */
class UnstripedPropertyTest {

    record Geometry(int stripes, int chunkSectors, int rows, int stripe, int offsetSectors, int frontSectors) {
    }

    @Provide
    Arbitrary<Geometry> geometries() {
        return Combinators.combine(Arbitraries.integers().between(1, 5), Arbitraries.integers().between(1, 32),
                        Arbitraries.integers().between(1, 8), Arbitraries.integers().between(0, 4),
                        Arbitraries.integers().between(0, 40), Arbitraries.integers().between(0, 64))
                .as((stripes, chunk, rows, stripe, offset, front) -> new Geometry(stripes, chunk, rows, stripe % stripes, offset, front));
    }

    @Property(tries = 80, seed = "1814")
    void readsAndWritesLandWhereTheStripeLayoutSays(@ForAll("geometries") Geometry g, @ForAll long seed) throws Exception {
        SplittableRandom random = new SplittableRandom(seed);
        long chunk = g.chunkSectors() * 512L;
        long front = g.frontSectors() * 512L;
        long size = g.rows() * chunk;
        // The chunk of the target's last byte, counted on the mapped device, is the last device chunk used.
        long lastDeviceChunk = (front + size - 1) / chunk * g.stripes() + g.stripe();
        byte[] device = new byte[(int) (g.offsetSectors() * 512L + (lastDeviceChunk + 1) * chunk)];
        random.nextBytes(device);
        Path file = Files.createTempFile("jdm-unstriped-", ".img");
        try (DeviceMapper dm = DeviceMapper.create()) {
            Files.write(file, device);
            String zero = front > 0 ? "0 " + front / 512 + " zero\n" : "";
            dm.create("u", null, zero + front / 512 + " " + size / 512 + " unstriped " + g.stripes() + " " + g.chunkSectors()
                    + " " + g.stripe() + " " + file + " " + g.offsetSectors(), false);
            MappedDevice u = dm.device("u");
            for (int op = 0; op < 40; op++) {
                long offset = random.nextLong(size);
                int length = (int) Math.min(size - offset, 1 + random.nextInt((int) (3 * chunk)));
                if (random.nextBoolean()) {
                    byte[] data = new byte[length];
                    random.nextBytes(data);
                    u.write(front + offset, ByteBuffer.wrap(data), false);
                    for (int i = 0; i < length; i++) {
                        device[locate(g, front + offset + i)] = data[i];
                    }
                } else {
                    ByteBuffer got = ByteBuffer.allocate(length);
                    u.read(front + offset, got);
                    byte[] expected = new byte[length];
                    for (int i = 0; i < length; i++) {
                        expected[i] = device[locate(g, front + offset + i)];
                    }
                    assertArrayEquals(expected, got.array(), "read of " + length + " at " + offset);
                }
            }
            u.flush();
            assertArrayEquals(device, Files.readAllBytes(file));
        } finally {
            Files.delete(file);
        }
    }

    /** The device byte holding mapped-device byte {@code b}: chunk c of the stripe is the device's chunk c * stripes + stripe. */
    private static int locate(Geometry g, long b) {
        long chunk = g.chunkSectors() * 512L;
        long deviceChunk = b / chunk * g.stripes() + g.stripe();
        return (int) (g.offsetSectors() * 512L + deviceChunk * chunk + b % chunk);
    }
}
