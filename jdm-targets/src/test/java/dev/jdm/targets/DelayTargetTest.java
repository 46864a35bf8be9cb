package dev.jdm.targets;

import dev.jdm.core.DmException;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static dev.jdm.targets.Images.*;
import static org.junit.jupiter.api.Assertions.*;

class DelayTargetTest {
    /** Long enough that only presuspend can release it within the test. */
    private static final int HOLD_MS = 600_000;

    @TempDir
    Path dir;
    Path a, b;
    DeviceMapper dm;

    @BeforeEach
    void setUp() throws Exception {
        a = create(dir, "a.img", 1 << 20);
        b = create(dir, "b.img", 1 << 20);
        dm = DeviceMapper.create();
    }

    @AfterEach
    void tearDown() {
        dm.close();
    }

    private String status(String name) throws DmException {
        return dm.status(name, false).getFirst().format();
    }

    /** Waits (without asserting on time) until the held counters read {@code expected}. */
    private void awaitHeld(String name, String expected) throws Exception {
        for (int i = 0; i < 2000 && !status(name).endsWith(" " + expected); i++) {
            Thread.sleep(5);
        }
        assertEquals("0 2048 delay " + expected, status(name));
    }

    @Test
    void tableEchoesOneTwoOrThreeTriples() throws Exception {
        dm.create("d3", null, "0 2048 delay " + a + " 0 500", false);
        dm.create("d6", null, "0 1024 delay " + a + " 1024 0 " + b + " 4 400", false);
        dm.create("d9", null, "0 1024 delay " + a + " 0 50 " + a + " 0 100 " + b + " 0 333", false);
        assertEquals("0 2048 delay " + a + " 0 500", dm.table("d3", false).getFirst().format());
        assertEquals("0 1024 delay " + a + " 1024 0 " + b + " 4 400", dm.table("d6", false).getFirst().format());
        assertEquals("0 1024 delay " + a + " 0 50 " + a + " 0 100 " + b + " 0 333", dm.table("d9", false).getFirst().format());
        assertEquals("0 2048 delay 0 0 0", status("d3"));
        assertEquals(List.of(a.toString(), b.toString()), dm.deps("d9", false));
    }

    @Test
    void malformedTablesNameTheArgumentAndChangeNothing() throws Exception {
        dm.create("d", null, "0 2048 delay " + a + " 0 7", false);
        String[][] cases = {
                {a + " 0", "table line 1: delay: expected 3, 6 or 9 arguments (<dev> <offset> <delay_ms> for reads, then optionally the same for writes, then for flushes), got 2"},
                {a + " x 5", "table line 1: delay: argument 2 (\"x\"): invalid device sector"},
                {a + " 0 -1", "table line 1: delay: argument 3 (\"-1\"): invalid delay"},
                {a + " 0 4294967296", "table line 1: delay: argument 3 (\"4294967296\"): delay out of range (0..4294967295)"},
                {a + " 0 1 " + b + " 0 1x", "table line 1: delay: argument 6 (\"1x\"): invalid write delay"},
                {a + " 0 1 " + b + " 0 1 " + b + " 5q 1", "table line 1: delay: argument 8 (\"5q\"): invalid flush device sector"},
        };
        for (String[] c : cases) {
            DmException e = assertThrows(DmException.class, () -> dm.load("d", "0 2048 delay " + c[0], false), c[0]);
            assertEquals(c[1], e.getMessage());
        }
        DmException small = assertThrows(DmException.class, () -> dm.load("d", "0 2048 delay " + a + " 1 1", false));
        assertEquals("table line 1: delay: argument 1 (\"" + a + "\"): device too small for target: it has 2048 sectors,"
                + " the target needs sectors 1 to 2049", small.getMessage());
        assertEquals("0 2048 delay " + a + " 0 7", dm.table("d", false).getFirst().format());
    }

    @Test
    void heldWriteDoesNotBlockReadsNorTheLinearTargetAndPresuspendReleasesIt() throws Exception {
        // Reads undelayed on a, writes held for ten minutes on a; a linear target beside it on b.
        dm.create("mix", null, "0 2048 delay " + a + " 0 0 " + a + " 0 " + HOLD_MS + "\n2048 2048 linear " + b + " 0", false);
        MappedDevice md = dm.device("mix");
        byte[] held = pattern(4096, 1);
        try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            CompletableFuture<Void> delayed = CompletableFuture.runAsync(() -> {
                try {
                    write(md, 8192, held);
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            }, pool);
            awaitHeld("mix", "0 1 0");

            byte[] beside = pattern(4096, 2);
            write(md, 2048L * 512 + 4096, beside);
            assertArrayEquals(beside, read(md, 2048L * 512 + 4096, 4096));
            assertArrayEquals(beside, slice(b, 4096, 4096));
            assertArrayEquals(new byte[4096], read(md, 8192, 4096), "the held write has not reached the device");
            assertFalse(delayed.isDone());
            assertEquals("0 2048 delay 0 1 0", status("mix"));

            dm.suspend("mix", false);
            delayed.get(30, TimeUnit.SECONDS);
            assertEquals("0 2048 delay 0 0 0", status("mix"));
            assertArrayEquals(held, slice(a, 8192, 4096));
            dm.resume("mix");

            // Delaying is back on after resume.
            CompletableFuture<Void> again = CompletableFuture.runAsync(() -> {
                try {
                    write(md, 0, held);
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            }, pool);
            awaitHeld("mix", "0 1 0");
            dm.suspend("mix", false);
            again.get(30, TimeUnit.SECONDS);
            dm.resume("mix");
        }
    }

    @Test
    void flushesHaveTheirOwnClassWithNineArguments() throws Exception {
        dm.create("f", null, "0 2048 delay " + a + " 0 0 " + a + " 0 0 " + b + " 0 " + HOLD_MS, false);
        MappedDevice md = dm.device("f");
        try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            CompletableFuture<Void> flush = CompletableFuture.runAsync(() -> {
                try {
                    md.flush();
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            }, pool);
            awaitHeld("f", "0 0 1");
            byte[] data = pattern(512, 3);
            write(md, 0, data);
            assertArrayEquals(data, read(md, 0, 512));
            assertFalse(flush.isDone());
            dm.suspend("f", false);
            flush.get(30, TimeUnit.SECONDS);
            assertEquals("0 2048 delay 0 0 0", status("f"));
        }
    }

    @Test
    void sixArgumentsRouteReadsAndWritesToTheirOwnDevices() throws Exception {
        dm.create("rw", null, "0 1024 delay " + a + " 1024 0 " + b + " 8 0", false);
        MappedDevice md = dm.device("rw");
        byte[] data = pattern(1024, 4);
        write(md, 512, data);
        assertArrayEquals(data, slice(b, (8 + 1) * 512, 1024));
        assertArrayEquals(new byte[1024], read(md, 512, 1024), "reads come from a at sector 1024");
    }

    @Test
    void heldWritesToOneBlockLandInTheOrderTheyWereIssued() throws Exception {
        dm.create("o", null, "0 2048 delay " + a + " 0 0 " + a + " 0 300", false);
        MappedDevice md = dm.device("o");
        try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            CompletableFuture<Void> first = CompletableFuture.runAsync(() -> {
                try {
                    write(md, 0, filled(512, 1));
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            }, pool);
            awaitHeld("o", "0 1 0");
            CompletableFuture<Void> second = CompletableFuture.runAsync(() -> {
                try {
                    write(md, 0, filled(512, 2));
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            }, pool);
            CompletableFuture.allOf(first, second).get(30, TimeUnit.SECONDS);
        }
        assertEquals("0 2048 delay 0 0 0", status("o"));
        assertArrayEquals(filled(512, 2), slice(a, 0, 512), "the later write expires later and lands last");
    }

    /** Any valid 3-, 6- or 9-argument table reads back as given, and nothing is held while idle. */
    @Property(tries = 40, seed = "5150")
    void tablesReadBackAsGiven(@ForAll @IntRange(min = 1, max = 3) int triples,
                               @ForAll @Size(9) List<@LongRange(min = 0, max = 2040) Long> offsets,
                               @ForAll @Size(9) List<@LongRange(min = 0, max = 4294967295L) Long> delays) throws Exception {
        Path img = Files.createTempFile("delay", ".img");
        try (DeviceMapper engine = DeviceMapper.create()) {
            Files.write(img, new byte[1 << 20]);
            StringBuilder args = new StringBuilder();
            for (int i = 0; i < triples; i++) {
                args.append(i == 0 ? "" : " ").append(img).append(' ').append(offsets.get(i)).append(' ').append(delays.get(i));
            }
            engine.create("p", null, "0 8 delay " + args, false);
            assertEquals("0 8 delay " + args, engine.table("p", false).getFirst().format());
            assertEquals("0 8 delay 0 0 0", engine.status("p", false).getFirst().format());
        } finally {
            Files.deleteIfExists(img);
        }
    }
}
