package dev.jdm.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static dev.jdm.daemon.SnapshotStack.ORIGIN;
import static dev.jdm.daemon.SnapshotStack.REAL;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Random writes to an origin and its snapshots (up to three, taken at random steps), discards of the origin (its
 * chunks copied to the snapshots first, then zeroes) and of whole chunks of the snapshots ({@code discard_zeroes_cow}:
 * a chunk the snapshot holds reads as zeroes after, one it does not hold still shows the origin's old data), against
 * a model of every device; at random steps the daemon is stopped
 * with SIGTERM and started again on its state folder, and every device reads back exactly as the model says. The
 * first run's daemon is a process of its own; the others run in this JVM, stopped by the close that the SIGTERM
 * hook runs, so that restarts cost milliseconds. A failure names its seed: {@code -Djdm.snapshotRestart.seed=S}
 * replays it (in this JVM), {@code -Djdm.snapshotRestart.runs=N} runs more.
 */
class SnapshotRestartPropertyTest {
    private static final int UNITS = 128;
    private static final int STEPS = 300;
    private static final int PROCESS_RESTARTS = 5;
    private static final int[] CHUNK_SECTORS = {8, 16, 32};

    @TempDir
    Path dir;
    NbdDaemonRig rig;

    @AfterEach
    void stop() throws IOException {
        if (rig != null) {
            rig.close();
        }
    }

    @Test
    void everyDeviceReadsAsTheModelSaysAcrossRestartsFromTheStateFolder() throws Exception {
        Long fixed = Long.getLong("jdm.snapshotRestart.seed");
        int runs = fixed != null ? 1 : Integer.getInteger("jdm.snapshotRestart.runs", 4);
        long base = fixed != null ? fixed : System.nanoTime();
        for (int run = 0; run < runs; run++) {
            long seed = base + run;
            try {
                Path data = dir.resolve("run" + run).resolve("data");
                boolean ownProcess = run == 0 && fixed == null;
                rig = ownProcess ? new NbdDaemonRig(data) : NbdDaemonRig.inThisJvm(data);
                // a process takes a second to start: a few of those, many restarts in this JVM
                run(data.getParent(), new SplittableRandom(seed), ownProcess ? PROCESS_RESTARTS : STEPS);
            } catch (AssertionError | Exception e) {
                throw new AssertionError("seed " + seed + " (-Djdm.snapshotRestart.seed=" + seed + ")", e);
            }
        }
    }

    private void run(Path runDir, SplittableRandom rnd, int maxRestarts) throws Exception {
        Files.createDirectories(runDir);
        int chunkSectors = CHUNK_SECTORS[rnd.nextInt(CHUNK_SECTORS.length)];
        int unitsPerChunk = chunkSectors * 512 / UnitModel.UNIT;
        rig.start();
        SnapshotStack stack = new SnapshotStack(rig, runDir, UNITS, chunkSectors, " 1 discard_zeroes_cow");
        stack.createOrigin();
        byte[] everything = new byte[UNITS * UnitModel.UNIT];
        rnd.nextBytes(everything);
        stack.write(ORIGIN, 0, everything, false);
        // the chunks each snapshot holds on its COW: written through it, or copied there by an origin write
        Map<String, BitSet> held = new HashMap<>();
        int restarts = 0;
        for (int step = 0; step < STEPS; step++) {
            List<String> names = new ArrayList<>(stack.models.keySet());
            String name = names.get(rnd.nextInt(names.size()));
            int r = rnd.nextInt(100);
            if (r < 45) {
                int first = rnd.nextInt(UNITS);
                byte[] bytes = new byte[Math.min(1 + rnd.nextInt(3 * unitsPerChunk), UNITS - first) * UnitModel.UNIT];
                rnd.nextBytes(bytes);
                stack.write(name, first, bytes, rnd.nextInt(5) == 0);
                copiedOrWritten(held, name, first / unitsPerChunk, (first + bytes.length / UnitModel.UNIT - 1) / unitsPerChunk);
            } else if (r < 50 && name.equals(ORIGIN)) {
                // copies the chunks to every snapshot first, as a write does; the file under it reads zeroes after
                int first = rnd.nextInt(UNITS);
                int units = Math.min(1 + rnd.nextInt(3 * unitsPerChunk), UNITS - first);
                rig.export(ORIGIN).discard((long) first * UnitModel.UNIT, (long) units * UnitModel.UNIT);
                stack.models.get(ORIGIN).wrote(first, new byte[units * UnitModel.UNIT]);
                copiedOrWritten(held, ORIGIN, first / unitsPerChunk, (first + units - 1) / unitsPerChunk);
            } else if (r < 55 && !name.equals(ORIGIN)) {
                int firstChunk = rnd.nextInt(UNITS / unitsPerChunk);
                int chunks = Math.min(1 + rnd.nextInt(3), UNITS / unitsPerChunk - firstChunk);
                rig.export(name).discard((long) firstChunk * chunkSectors * 512, (long) chunks * chunkSectors * 512);
                for (int c = firstChunk; c < firstChunk + chunks; c++) {
                    if (held.get(name).get(c)) {
                        stack.models.get(name).wrote(c * unitsPerChunk, new byte[chunkSectors * 512]);
                    }
                }
            } else if (r < 65) {
                stack.flush(name);
            } else if (r < 85) {
                int first = rnd.nextInt(UNITS);
                stack.checkLive(name, first, Math.min(1 + rnd.nextInt(16), UNITS - first));
            } else if (r < 90 && stack.models.size() < 4) {
                String snapshot = "s" + step;
                stack.snapshot(snapshot, 2L << 20);
                held.put(snapshot, new BitSet());
            } else if (r < 95 && restarts < maxRestarts) {
                restart(stack, "restart " + ++restarts + " at step " + step);
            }
        }
        restart(stack, "the last restart");
        String counts = "chunk " + chunkSectors + " sectors, restarts " + restarts + ", snapshots " + held.size();
        assertTrue(restarts > 0 && held.size() > 0, counts);
        System.out.println("SnapshotRestartPropertyTest: " + counts);
        rig.close();
    }

    /** Chunks {@code first..last} were written or discarded on {@code name}: the snapshots that now hold them. */
    private static void copiedOrWritten(Map<String, BitSet> held, String name, int first, int last) {
        held.forEach((snapshot, chunks) -> {
            if (name.equals(ORIGIN) || name.equals(snapshot)) {
                chunks.set(first, last + 1);
            }
        });
    }

    /**
     * SIGTERM, a new daemon on the same folder, then: the state folder orders ORIGIN-real before ORIGIN and each
     * snapshot, each COW before its snapshot; every device came back live and resumed and reads exactly as before.
     */
    private void restart(SnapshotStack stack, String where) throws Exception {
        rig.terminate();
        checkRestoreOrder(stack);
        rig.start();
        for (JsonNode d : rig.call(ControlClient.request("list")).path("devices")) {
            assertTrue(d.path("liveTable").asBoolean() && !d.path("suspended").asBoolean(), d + " after " + where);
        }
        for (Map.Entry<String, UnitModel> m : stack.models.entrySet()) {
            stack.checkLive(m.getKey(), 0, UNITS);
        }
    }

    private void checkRestoreOrder(SnapshotStack stack) throws IOException {
        List<DeviceState> states = new ArrayList<>();
        try (Stream<Path> files = Files.list(rig.stateDir())) {
            for (Path f : files.filter(p -> p.getFileName().toString().matches("dm-\\d+\\.json")).toList()) {
                states.add(Protocol.JSON.readValue(f.toFile(), DeviceState.class));
            }
        }
        List<String> order = StateStore.dependencyOrder(states).stream().map(DeviceState::name).toList();
        List<String> snapshots = stack.models.keySet().stream().filter(n -> !n.equals(ORIGIN)).toList();
        assertEquals(snapshots.isEmpty() ? 1 : 2 + 2 * snapshots.size(), order.size(), "devices " + order);
        if (snapshots.isEmpty()) {
            return;
        }
        for (String s : snapshots) {
            assertTrue(order.indexOf(REAL) < order.indexOf(s) && order.indexOf(s + "-cow") < order.indexOf(s), "restore order " + order);
        }
        assertTrue(order.indexOf(REAL) < order.indexOf(ORIGIN), "restore order " + order);
    }
}
