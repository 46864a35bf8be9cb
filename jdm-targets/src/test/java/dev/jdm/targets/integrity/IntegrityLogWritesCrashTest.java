package dev.jdm.targets.integrity;

import dev.jdm.core.testing.MemoryDevice;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.targets.Images;
import dev.jdm.targets.logwrites.LogEntry;
import dev.jdm.targets.logwrites.LogReplay;
import dev.jdm.targets.logwrites.ReplayOptions;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static dev.jdm.targets.integrity.Harness.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The journal's promise proved with the log-writes harness: integrity (J mode; and B mode, whose
 * dirty bitmap promises the same after recalculation) runs over a
 * {@code log-writes} device while a workload writes (some with FUA) and flushes, logging a mark
 * before each write ({@code op-k}) and after each flush ({@code flushed-k}). The log is then
 * replayed one entry at a time, so every prefix — every flush point, every mark and every point
 * between two journal or data writes — is a state a crash could have left. At each one, the
 * integrity device is loaded from a copy (which replays its journal) and every sector must read
 * without a tag error, as the last flushed contents or as the contents of a write issued since.
 */
class IntegrityLogWritesCrashTest {
    private static final int DATA_BYTES = 4 << 20;
    private static final int LENGTH = 2048;
    private static final int OPS = 40;
    private static final String KEY = "000102030405060708090a0b0c0d0e0f";

    @TempDir
    Path dir;

    /** One workload write: where it went and what it wrote. */
    private record Op(long sector, byte[] data) {
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "0 4 J 2 journal_sectors:704 internal_hash:crc32c",
            "0 - J 5 journal_sectors:704 block_size:4096 internal_hash:sha256 journal_crypt:ctr(aes):" + KEY
                    + " journal_mac:hmac(sha256):" + KEY,
            "0 4 B 3 sectors_per_bit:64 bitmap_flush_interval:0 internal_hash:crc32c",
    })
    void everyPrefixOfTheLogReadsFlushedOrLaterDataWithValidTags(String args) throws Exception {
        int blockSectors = args.contains("block_size:4096") ? 8 : 1;
        Path data = Images.create(dir, "data.img", DATA_BYTES);
        Path log = Images.create(dir, "log.img", 64 << 20);
        List<Op> ops = record(data, log, args, blockSectors);

        try (LogReplay replay = LogReplay.open(log)) {
            List<LogEntry> entries = replay.entries();
            MemoryDevice scratch = new MemoryDevice("dev", DATA_BYTES);
            LogReplay.Cursor cursor = replay.cursor(scratch, ReplayOptions.defaults());
            byte[] durable = new byte[LENGTH << 9];
            int flushedOps = 0;
            boolean wiped = false;
            int checked = 0, sawUnflushedData = 0;
            while (cursor.hasNext()) {
                LogEntry e = cursor.next();
                if (e.isMark("wiped")) {
                    wiped = true;
                } else if (e.isMark() && e.mark().startsWith("flushed-")) {
                    int k = Integer.parseInt(e.mark().substring("flushed-".length()));
                    for (; flushedOps <= k; flushedOps++) {
                        apply(durable, ops.get(flushedOps));
                    }
                }
                if (!wiped) {
                    continue; // before the wipe, unwritten blocks have no valid tags yet
                }
                int issued = opsIssuedBefore(entries, e.index() + 1);
                byte[] seen = readAll(scratch, args, e);
                sawUnflushedData += checkFlushedOrLater(seen, durable, ops.subList(flushedOps, issued), e);
                checked++;
            }
            assertTrue(checked > 100, "points checked: " + checked);
            assertTrue(sawUnflushedData > 0, "some points show writes that were not flushed yet");
            assertEquals(OPS, flushedOps, "the last flush covers every write");
        }
    }

    /** Runs the workload over integrity over log-writes and returns its writes in order. */
    private static List<Op> record(Path data, Path log, String args, int blockSectors) throws Exception {
        List<Op> ops = new ArrayList<>();
        Random rnd = new Random(7);
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("lw", null, "0 " + (DATA_BYTES >> 9) + " log-writes " + data + " " + log, false);
            dm.create("i", null, "0 " + LENGTH + " integrity /dev/mapper/lw " + args, false);
            MappedDevice dev = dm.device("i");
            byte[] zeroes = new byte[64 << 10];
            for (long at = 0; at < (long) LENGTH << 9; at += zeroes.length) {
                dev.write(at, ByteBuffer.wrap(zeroes), false);
            }
            dev.flush();
            dm.message("lw", 0, List.of("mark", "wiped"));
            int blocks = LENGTH / blockSectors;
            for (int k = 0; k < OPS; k++) {
                int count = 1 + rnd.nextInt(6);
                long sector = (long) rnd.nextInt(blocks - count) * blockSectors;
                Op op = new Op(sector, pattern(count * blockSectors << 9, 100 + k));
                ops.add(op);
                dm.message("lw", 0, List.of("mark", "op-" + k));
                dev.write(sector << 9, ByteBuffer.wrap(op.data()), rnd.nextInt(5) == 0);
                if (k % 4 == 3 || k == OPS - 1) {
                    dev.flush();
                    dm.message("lw", 0, List.of("mark", "flushed-" + k));
                }
            }
            dm.remove("i", false, false);
            dm.remove("lw", false, false);
        }
        return ops;
    }

    /** How many workload writes had been issued when the log held its first {@code end} entries. */
    private static int opsIssuedBefore(List<LogEntry> entries, long end) {
        int issued = 0;
        for (int i = 0; i < end; i++) {
            LogEntry e = entries.get(i);
            if (e.isMark() && e.mark().startsWith("op-")) {
                issued = Integer.parseInt(e.mark().substring(3)) + 1;
            }
        }
        return issued;
    }

    /** Loads integrity from a copy of the replayed state (replaying its journal) and reads the whole device. */
    private static byte[] readAll(MemoryDevice scratch, String args, LogEntry at) throws Exception {
        IntegrityTarget t = open(new MemoryDevice("dev", scratch.snapshot()), LENGTH, args);
        try {
            byte[] all = read(t, 0, LENGTH);
            assertEquals("0", t.status().split(" ")[0], "no mismatches after " + at.describe());
            return all;
        } catch (java.io.IOException e) {
            throw new AssertionError("reading after " + at.describe() + ": " + e.getMessage(), e);
        } finally {
            t.close();
        }
    }

    /**
     * Every sector holds its flushed contents or what one of the writes issued since put there.
     * Returns how many sectors showed such a newer write.
     */
    private static int checkFlushedOrLater(byte[] seen, byte[] durable, List<Op> since, LogEntry at) {
        int newer = 0;
        for (int s = 0; s < LENGTH; s++) {
            int from = s << 9;
            if (Arrays.equals(seen, from, from + 512, durable, from, from + 512)) {
                continue;
            }
            boolean matched = false;
            for (Op op : since) {
                long rel = s - op.sector();
                if (rel >= 0 && rel < op.data().length >> 9) {
                    int o = (int) rel << 9;
                    matched |= Arrays.equals(seen, from, from + 512, op.data(), o, o + 512);
                }
            }
            assertTrue(matched, "after " + at.describe() + ": sector " + s + " is neither its flushed contents nor a later write");
            newer++;
        }
        return newer;
    }

    private static void apply(byte[] image, Op op) {
        System.arraycopy(op.data(), 0, image, (int) op.sector() << 9, op.data().length);
    }
}
