package dev.jdm.daemon;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import static dev.jdm.daemon.SnapshotStack.ORIGIN;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * kill -9 of a daemon serving an origin with classic snapshots over NBD, many times: during origin writes (each
 * copying chunks to every snapshot first), during snapshot writes, and during merges. After each kill the next
 * daemon restores the stack from its state folder; every write acknowledged durable (FUA, or followed by an
 * answered FLUSH) reads back exactly on its device; a write that was not may read as before or after, one whole
 * 4 KiB unit at a time; every snapshot still shows the origin as it was when it was taken (with its own writes);
 * a merge resumes and ends with the origin showing what the merged snapshot showed.
 * {@code -Djdm.snapshotCrash.killsPerPhase=N} runs more kill points (three phases).
 */
class SnapshotCrashTest {
    private static final int UNITS = 256;
    /** 8 KiB chunks: a 4 KiB write to a snapshot copies the other half of its chunk first. */
    private static final int CHUNK_SECTORS = 16;
    /** Header, one area (512 exceptions) and a chunk for every origin chunk, with room to spare. */
    private static final long COW_BYTES = 2L << 20;
    private static final int KILLS_PER_PHASE = Integer.getInteger("jdm.snapshotCrash.killsPerPhase", 34);

    @TempDir
    Path dir;
    NbdDaemonRig rig;
    SnapshotStack stack;
    /** What went wrong in the I/O thread other than the daemon dying under it. */
    volatile Throwable workerFailure;
    /** Answered writes, flushes, live reads over all rounds. */
    final int[] done = new int[3];
    /** Operations answered in this round. */
    volatile int answered;

    @AfterEach
    void stop() throws IOException {
        if (rig != null) {
            rig.close();
        }
    }

    @Test
    void acknowledgedWritesAndPointInTimeDataSurviveKillDashNineDuringOriginWritesSnapshotWritesAndMerges() throws Exception {
        rig = new NbdDaemonRig(dir.resolve("data"));
        rig.start();
        stack = new SnapshotStack(rig, dir, UNITS, CHUNK_SECTORS, "");
        stack.createOrigin();
        SplittableRandom setup = new SplittableRandom(1);
        byte[] everything = new byte[UNITS * UnitModel.UNIT];
        setup.nextBytes(everything);
        stack.write(ORIGIN, 0, everything, true);
        stack.snapshot("s1", COW_BYTES);
        stack.snapshot("s2", COW_BYTES);

        long seed = System.nanoTime();
        int kill = 0;
        for (int i = 0; i < KILLS_PER_PHASE; i++, kill++) {
            round(kill, seed, List.of(ORIGIN), 1 + ThreadLocalRandom.current().nextInt(40));
        }
        for (int i = 0; i < KILLS_PER_PHASE; i++, kill++) {
            round(kill, seed, List.of("s1", "s2", "s1", "s2", ORIGIN), 1 + ThreadLocalRandom.current().nextInt(40));
        }
        int merges = 0;
        int killedMidMerge = 0;
        for (int i = 0; i < KILLS_PER_PHASE; i++, kill++) {
            if (stack.merging == null) {
                // a fresh snapshot with chunks of its own and chunks the origin pushed to it, merged back
                String name = "m" + merges++;
                stack.snapshot(name, COW_BYTES);
                SplittableRandom rnd = new SplittableRandom(seed - kill);
                for (int w = 0; w < 48; w++) {
                    writeRandom(rnd, w % 3 == 0 ? name : ORIGIN, rnd.nextInt(4) == 0);
                }
                stack.startMerge(name);
            }
            killedMidMerge += round(kill, seed, List.of(ORIGIN, ORIGIN, "s1", "s2"), ThreadLocalRandom.current().nextInt(20)) ? 1 : 0;
            if (stack.mergeDone()) {
                stack.endMerge();
            }
        }
        String counts = "kills " + kill + ", merges " + merges + ", kills inside a merge " + killedMidMerge
                + ", writes/flushes/live reads " + java.util.Arrays.toString(done);
        assertTrue(killedMidMerge > 0 && merges > 1 && done[0] > 0 && done[1] > 0 && done[2] > 0, counts);
        System.out.println("SnapshotCrashTest: " + counts);
    }

    /**
     * Random I/O on the given devices, kill -9 within a millisecond or two of the {@code ops}th answer (so a busy
     * machine does not shrink the work between kills), restart and check every device. Says whether the origin
     * was still merging just before the kill.
     */
    private boolean round(int kill, long seed, List<String> targets, int ops) throws Exception {
        String where = "kill " + kill + " (seed " + (seed + kill) + ")";
        SplittableRandom rnd = new SplittableRandom(seed + kill);
        answered = 0;
        Thread worker = Thread.ofPlatform().start(() -> randomIo(rnd, targets));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (answered < ops && worker.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(0, 200_000);
        }
        Thread.sleep(ThreadLocalRandom.current().nextInt(3));
        boolean midMerge = stack.merging != null && !stack.mergeDone();
        rig.kill();
        worker.join(TimeUnit.SECONDS.toMillis(30));
        assertTrue(!worker.isAlive(), "the I/O did not fail once the daemon was gone");
        if (workerFailure != null) {
            throw new AssertionError("before " + where, workerFailure);
        }
        rig.start();
        stack.checkAfterCrash(where);
        return midMerge;
    }

    /** Writes (some FUA), flushes and live reads at random until the daemon dies under it. */
    private void randomIo(SplittableRandom rnd, List<String> targets) {
        try {
            for (int op = 0; op < 20000; op++) {
                String name = targets.get(rnd.nextInt(targets.size()));
                int r = rnd.nextInt(100);
                if (r < 60) {
                    writeRandom(rnd, name, rnd.nextInt(6) == 0);
                    done[0]++;
                } else if (r < 72) {
                    stack.flush(name);
                    done[1]++;
                } else {
                    int first = rnd.nextInt(UNITS);
                    stack.checkLive(name, first, Math.min(1 + rnd.nextInt(8), UNITS - first));
                    done[2]++;
                }
                answered++;
            }
        } catch (IOException expected) {
            // the daemon is gone
        } catch (RuntimeException | Error e) {
            workerFailure = e;
        }
    }

    private void writeRandom(SplittableRandom rnd, String name, boolean fua) throws IOException {
        int first = rnd.nextInt(UNITS);
        byte[] bytes = new byte[Math.min(1 + rnd.nextInt(4), UNITS - first) * UnitModel.UNIT];
        rnd.nextBytes(bytes);
        stack.write(name, first, bytes, fua);
    }
}
