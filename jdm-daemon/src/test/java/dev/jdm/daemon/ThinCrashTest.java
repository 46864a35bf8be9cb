package dev.jdm.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jdm.core.io.FileBlockDevice;
import dev.jdm.core.testing.ExternalTools;
import dev.jdm.nbd.NbdClient;
import dev.jdm.pdata.PdataTools;
import dev.jdm.targets.thin.metadata.ThinMetadata;
import dev.jdm.targets.thin.metadata.ThinTools;
import dev.jdm.targets.thin.metadata.ThinView;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * kill -9 of a daemon serving a thin pool over NBD, many times, at random points of writes, flushes, FUA
 * writes, discards, snapshots, deletes and metadata snapshot messages. After each kill thin_check finds the metadata clean; the next daemon
 * restores the pool and its thin devices from the state folder, and every write that was acknowledged
 * durable (answered with FUA, or followed by an answered FLUSH on its connection) reads back exactly; a
 * write that was not may read as it was before or after, one whole 4 KiB write unit at a time. The data
 * space map's counts (which thin_check 0.9.0 skips) are recounted from the trees after every kill.
 */
class ThinCrashTest {
    private static final int BLOCK_SECTORS = 128;
    private static final int BLOCK_BYTES = BLOCK_SECTORS * 512;
    private static final long NR_DATA = 1024;
    private static final int UNIT = UnitModel.UNIT;
    private static final int UNITS = 32 * BLOCK_BYTES / UNIT;
    private static final int MAX_DEVICES = 6;
    private static final int KILLS = 12;
    private static final String CLEAN_CHECK = "examining superblock\nexamining devices tree\nexamining mapping tree\nchecking space map counts\n";

    @TempDir
    Path dir;
    NbdDaemonRig rig;
    /** What went wrong in the I/O thread other than the daemon dying under it. */
    volatile Throwable workerFailure;

    @AfterEach
    void stop() throws IOException {
        if (rig != null) {
            rig.close();
        }
    }

    /** Devices that exist for sure, ones whose create_snap was in flight, ones whose delete was. */
    private final TreeMap<Long, UnitModel> devices = new TreeMap<>();
    private final Map<Long, UnitModel> maybeCreated = new HashMap<>();
    private final Set<Long> maybeDeleted = new HashSet<>();
    /** Answered writes, flushes, snapshots, deletes, discards, metadata snapshot messages over all rounds. */
    private final int[] done = new int[6];
    /** Counted down as a create_snap or delete message goes out: the kill's cue in the rounds that aim at them. */
    private volatile CountDownLatch messageSent;
    /** Whether the last answered metadata snapshot message reserved one (a kill may leave either). */
    private boolean heldMetadataSnapshot;

    @Test
    void acknowledgedWritesSurviveKillDashNineDuringWritesSnapshotsAndDeletes() throws Exception {
        ExternalTools.requireTool("thin_check", PdataTools.PACKAGE);
        Path meta = dir.resolve("meta");
        Path pool = dir.resolve("pool-data");
        try (RandomAccessFile m = new RandomAccessFile(meta.toFile(), "rw"); RandomAccessFile d = new RandomAccessFile(pool.toFile(), "rw")) {
            m.setLength(8L << 20);
            d.setLength(NR_DATA * BLOCK_BYTES);
        }
        rig = new NbdDaemonRig(dir.resolve("data"));
        rig.start();
        call(ControlClient.request("create").put("name", "pool")
                .put("table", "0 " + NR_DATA * BLOCK_SECTORS + " thin-pool " + meta + " " + pool + " " + BLOCK_SECTORS + " 0"));
        message("create_thin", 0);
        devices.put(0L, new UnitModel(UNITS));
        activate(0);

        long seed = System.nanoTime();
        for (int kill = 0; kill < KILLS; kill++) {
            SplittableRandom rnd = new SplittableRandom(seed + kill);
            String where = "kill " + kill + " (seed " + (seed + kill) + ")";
            // every other round the kill waits for a create_snap or delete to be sent, so it lands inside one
            messageSent = new CountDownLatch(kill % 2 == 1 ? 1 : 0);
            Thread worker = Thread.ofPlatform().start(() -> randomWork(rnd));
            if (kill % 2 == 1 && messageSent.await(10, TimeUnit.SECONDS)) {
                Thread.sleep(ThreadLocalRandom.current().nextInt(3));
            } else {
                Thread.sleep(100 + ThreadLocalRandom.current().nextInt(900));
            }
            rig.kill();
            worker.join(TimeUnit.SECONDS.toMillis(30));
            assertTrue(!worker.isAlive(), "the I/O did not fail once the daemon was gone");
            if (workerFailure != null) {
                throw new AssertionError("before " + where, workerFailure);
            }

            PdataTools.Result check = ThinTools.check(meta);
            assertEquals(new PdataTools.Result(0, check.stdout(), CLEAN_CHECK), check, "thin_check after " + where);
            // thin_check 0.9.0 does not look at the data space map: recount it from the trees
            try (var dev = FileBlockDevice.open(meta, FileBlockDevice.Options.READ_ONLY); var md = ThinMetadata.open(dev, 64)) {
                ThinView.assertDataRefcounts(md);
            }
            Set<Long> present = ThinTools.dump(meta).devices().keySet();
            reconcile(present, where);

            rig.start();
            heldMetadataSnapshot = !rig.status("pool").split(" ")[3].equals("-");
            JsonNode list = call(ControlClient.request("list"));
            Set<String> names = new HashSet<>();
            for (JsonNode d : list.path("devices")) {
                if (!d.path("liveTable").asBoolean()) {
                    // killed inside a create: the device was made but its table not yet loaded
                    call(ControlClient.request("remove").put("name", d.path("name").asText()));
                    continue;
                }
                names.add(d.path("name").asText());
                if (d.path("suspended").asBoolean()) {
                    // killed between the suspend and the resume around a snapshot
                    call(ControlClient.request("resume").put("name", d.path("name").asText()));
                }
            }
            for (long id : devices.keySet()) {
                if (!names.contains(name(id))) {
                    // killed between the message and the table load
                    call(ControlClient.request("create").put("name", name(id)).put("table", thinTable(id)));
                }
                verify(id, where);
            }
        }
        assertTrue(Arrays.stream(done).allMatch(n -> n > 0), "writes, flushes, snapshots, deletes, discards, metadata snapshots: "
                + Arrays.toString(done));
    }

    /** Which in-flight creates and deletes happened, by what thin_dump shows; nothing else may differ. */
    private void reconcile(Set<Long> present, String where) {
        maybeCreated.forEach((id, e) -> {
            if (present.contains(id)) {
                devices.put(id, e);
            }
        });
        maybeCreated.clear();
        for (long id : maybeDeleted) {
            if (!present.contains(id)) {
                devices.remove(id);
            }
        }
        maybeDeleted.clear();
        assertEquals(devices.keySet(), present, "thin devices after " + where);
    }

    /** Reads the whole device: each unit must be its durable value or one written since; that is now durable. */
    private void verify(long id, String where) throws IOException {
        ByteBuffer all = ByteBuffer.allocate(UNITS * UNIT);
        export(id).read(0, all);
        devices.get(id).checkAfterCrash(all.array(), "thin device " + id + " after " + where);
    }

    /** Writes, flushes, snapshots, deletes and reads at random until the daemon dies under it. */
    private void randomWork(SplittableRandom rnd) {
        try {
            for (int op = 0; op < 5000; op++) {
                List<Long> ids = new ArrayList<>(devices.keySet());
                long id = ids.get(rnd.nextInt(ids.size()));
                UnitModel x = devices.get(id);
                // About half the rounds open with a metadata snapshot message (r = 58): a loaded machine may get
                // through few operations before the kill, and each kind must be seen at least once.
                int r = op == 0 && rnd.nextBoolean() ? 58 : rnd.nextInt(100);
                if (r < 52) {
                    int first = rnd.nextInt(UNITS);
                    int count = Math.min(1 + rnd.nextInt(16), UNITS - first);
                    boolean fua = rnd.nextInt(6) == 0;
                    byte[] bytes = new byte[count * UNIT];
                    rnd.nextBytes(bytes);
                    x.wrote(first, bytes);
                    export(id).write((long) first * UNIT, ByteBuffer.wrap(bytes), fua);
                    done[0]++;
                    if (fua) {
                        x.durable(first, count);
                    }
                } else if (r < 58) {
                    // whole pool blocks: a discarded block reads as zeroes, once the discard is flushed for sure
                    int unitsPerBlock = BLOCK_BYTES / UNIT;
                    int first = rnd.nextInt(UNITS / unitsPerBlock) * unitsPerBlock;
                    int count = Math.min(unitsPerBlock * (1 + rnd.nextInt(2)), UNITS - first);
                    x.wrote(first, new byte[count * UNIT]);
                    export(id).discard((long) first * UNIT, (long) count * UNIT);
                    done[4]++;
                } else if (r < 60) {
                    message(heldMetadataSnapshot ? "release_metadata_snap" : "reserve_metadata_snap");
                    heldMetadataSnapshot = !heldMetadataSnapshot;
                    done[5]++;
                } else if (r < 72) {
                    export(id).flush();
                    x.flushed();
                    done[1]++;
                } else if (r < 82 && devices.size() < MAX_DEVICES) {
                    snapshot(id, rnd);
                    done[2]++;
                } else if (r < 88 && devices.size() > 1) {
                    delete(id);
                    done[3]++;
                } else {
                    int first = rnd.nextInt(UNITS);
                    int count = Math.min(1 + rnd.nextInt(32), UNITS - first);
                    ByteBuffer got = ByteBuffer.allocate(count * UNIT);
                    export(id).read((long) first * UNIT, got);
                    x.checkLive(first, got.array(), "live read of device " + id);
                }
            }
        } catch (IOException | ControlException expected) {
            // the daemon is gone
        } catch (RuntimeException | Error e) {
            workerFailure = e;
        }
    }

    private void snapshot(long origin, SplittableRandom rnd) throws IOException, ControlException {
        long id;
        do {
            id = rnd.nextInt(1000);
        } while (devices.containsKey(id) || maybeCreated.containsKey(id));
        export(origin).flush();
        devices.get(origin).flushed();
        // as lvm does: the origin is quiet while the snapshot is taken
        call(ControlClient.request("suspend").put("name", name(origin)));
        maybeCreated.put(id, devices.get(origin).copy());
        messageSent.countDown();
        message("create_snap", id, origin);
        devices.put(id, maybeCreated.remove(id));
        call(ControlClient.request("resume").put("name", name(origin)));
        activate(id);
    }

    private void delete(long id) throws IOException, ControlException {
        rig.closeExport(name(id));
        call(ControlClient.request("remove").put("name", name(id)));
        maybeDeleted.add(id);
        messageSent.countDown();
        message("delete", id);
        devices.remove(id);
        maybeDeleted.remove(id);
    }

    private void activate(long id) throws IOException, ControlException {
        call(ControlClient.request("create").put("name", name(id)).put("table", thinTable(id)));
    }

    private static String thinTable(long id) {
        return "0 " + (long) UNITS * UNIT / 512 + " thin /dev/mapper/pool " + id;
    }

    private static String name(long id) {
        return "thin" + id;
    }

    private NbdClient export(long id) throws IOException {
        return rig.export(name(id));
    }

    private JsonNode call(ObjectNode request) throws IOException, ControlException {
        return rig.call(request);
    }

    private void message(Object... argv) throws IOException, ControlException {
        ObjectNode req = ControlClient.request("message").put("name", "pool").put("sector", 0);
        Arrays.stream(argv).forEach(a -> req.withArray("argv").add(String.valueOf(a)));
        call(req);
    }
}
