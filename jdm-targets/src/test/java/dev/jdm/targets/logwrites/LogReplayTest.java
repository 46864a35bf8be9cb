package dev.jdm.targets.logwrites;

import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.FileBlockDevice;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.LongRange;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static dev.jdm.targets.Images.*;
import static org.junit.jupiter.api.Assertions.*;

class LogReplayTest {
    private static final int DEVICE_BYTES = 256 * 1024;

    @TempDir
    Path dir;

    /** What a workload left behind: the log and the device contents right after each flush and mark. */
    record Recorded(Path log, List<byte[]> atFlush, List<byte[]> atMark, byte[] finalImage) {
    }

    /**
     * A seeded random workload through a log-writes device, shaped like a file system's: writes,
     * discards, zeroing, flushes, journal commits (flush + FUA write) and marks (each after a flush,
     * as xfstests does with fsync + mark).
     */
    static Recorded record(Path dir, long seed, int steps) throws Exception {
        Path data = create(dir, "data-" + seed + ".img", DEVICE_BYTES);
        Path log = create(dir, "log-" + seed + ".img", 64L << 20);
        List<byte[]> atFlush = new ArrayList<>(), atMark = new ArrayList<>();
        Random r = new Random(seed);
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("lw", null, "0 " + DEVICE_BYTES / 512 + " log-writes " + data + " " + log, false);
            MappedDevice md = dm.device("lw");
            for (int i = 0; i < steps; i++) {
                int sectors = 1 + r.nextInt(16);
                long offset = 512L * r.nextInt(DEVICE_BYTES / 512 - sectors);
                int kind = r.nextInt(20);
                if (kind < 12) {
                    md.write(offset, ByteBuffer.wrap(pattern(sectors * 512, r.nextInt())), false);
                } else if (kind < 14) {
                    // A journal commit: flush, then the FUA commit block. A FUA write over blocks that
                    // still wait for a flush would be logged before them (the kernel's rule), so the
                    // log could not reproduce the device; file systems never do that.
                    md.flush();
                    atFlush.add(read(md, 0, DEVICE_BYTES));
                    md.write(offset, ByteBuffer.wrap(pattern(sectors * 512, r.nextInt())), true);
                } else if (kind < 15) {
                    md.discard(offset, sectors * 512L);
                } else if (kind < 16) {
                    md.writeZeroes(offset, sectors * 512L, false);
                } else if (kind < 19) {
                    md.flush();
                    atFlush.add(read(md, 0, DEVICE_BYTES));
                } else {
                    md.flush();
                    atFlush.add(read(md, 0, DEVICE_BYTES));
                    dm.message("lw", 0, List.of("mark", "m" + atMark.size()));
                    atMark.add(read(md, 0, DEVICE_BYTES));
                }
            }
            byte[] last = read(md, 0, DEVICE_BYTES);
            dm.remove("lw", false, false);
            return new Recorded(log, atFlush, atMark, last);
        }
    }

    private Path scratch(String name) throws IOException {
        return create(dir, name, DEVICE_BYTES);
    }

    private static BlockDevice open(Path p) throws IOException {
        return FileBlockDevice.open(p, FileBlockDevice.Options.READ_WRITE);
    }

    @Test
    void everyFlushPointAndTheEndReproduceTheDeviceExactly() throws Exception {
        Recorded rec = record(dir, 7, 300);
        assertTrue(rec.atFlush.size() > 10, "the workload flushes often");
        try (LogReplay log = LogReplay.open(rec.log); BlockDevice dev = open(scratch("s.img"))) {
            LogReplay.Cursor cursor = log.cursor(dev, ReplayOptions.defaults());
            for (int i = 0; i < rec.atFlush.size(); i++) {
                LogEntry flush = cursor.replayThrough(LogEntry::isFlush).orElseThrow();
                assertTrue(flush.isFlush());
                assertArrayEquals(rec.atFlush.get(i), read(dev, 0, DEVICE_BYTES), "flush point " + i);
            }
            while (cursor.hasNext()) {
                cursor.next();
            }
            assertArrayEquals(rec.finalImage, read(dev, 0, DEVICE_BYTES));
            LogEntry last = log.entry(log.entryCount() - 1);
            assertTrue(last.isMark(LogFormat.END_MARK));
        }
    }

    @Property(tries = 12, seed = "31337")
    void replayingTheWholeLogGivesTheFinalImage(@ForAll @LongRange(min = 1, max = 1_000_000) long seed) throws Exception {
        Path d = Files.createTempDirectory("replay");
        Recorded rec = record(d, seed, 60);
        Path out = create(d, "out.img", DEVICE_BYTES);
        try (LogReplay log = LogReplay.open(rec.log); BlockDevice dev = open(out)) {
            LogReplay.Result result = log.replay(dev, ReplayOptions.defaults());
            assertEquals(LogReplay.StopReason.END_OF_LOG, result.reason());
            assertEquals(log.entryCount(), result.replayed());
        }
        assertArrayEquals(rec.finalImage, Files.readAllBytes(out));
    }

    @Test
    void replayToAMarkGivesTheDeviceAsItWasWhenTheMarkWasSet() throws Exception {
        Recorded rec = record(dir, 11, 300);
        assertTrue(rec.atMark.size() >= 3);
        try (LogReplay log = LogReplay.open(rec.log)) {
            for (int m = 0; m < rec.atMark.size(); m++) {
                Path out = scratch("m" + m + ".img");
                try (BlockDevice dev = open(out)) {
                    LogReplay.Result r = log.replay(dev, ReplayOptions.defaults().endMark("m" + m));
                    assertEquals(LogReplay.StopReason.STOP_CONDITION, r.reason());
                    assertTrue(r.last().isMark("m" + m));
                    assertEquals(r.last(), log.findMark("m" + m).orElseThrow());
                    assertTrue(log.entry(r.last().index() - 1).isFlush(), "the mark lands right after the flush before it");
                }
                assertArrayEquals(rec.atMark.get(m), Files.readAllBytes(out), "mark m" + m);
            }
        }
    }

    @Test
    void startingFromAnEntryOrAMarkOnASnapshotFinishesTheSameWay() throws Exception {
        Recorded rec = record(dir, 13, 200);
        try (LogReplay log = LogReplay.open(rec.log)) {
            long half = log.entryCount() / 2;
            Path first = scratch("first.img");
            try (BlockDevice dev = open(first)) {
                LogReplay.Result r = log.replay(dev, ReplayOptions.defaults().limit(half));
                assertEquals(half, r.replayed());
                assertEquals(half - 1, r.last().index());
            }
            Path snapshot = dir.resolve("snapshot.img");
            Files.copy(first, snapshot);
            try (BlockDevice dev = open(snapshot)) {
                log.replay(dev, ReplayOptions.defaults().startEntry(half));
            }
            assertArrayEquals(rec.finalImage, Files.readAllBytes(snapshot));

            Path fromMark = dir.resolve("from-mark.img");
            Files.write(fromMark, rec.atMark.getFirst());
            try (BlockDevice dev = open(fromMark)) {
                log.replay(dev, ReplayOptions.defaults().startMark("m0"));
            }
            assertArrayEquals(rec.finalImage, Files.readAllBytes(fromMark));
            IOException e = assertThrows(IOException.class, () -> log.find(ReplayOptions.defaults().startMark("nope")));
            assertEquals("couldn't find starting mark \"nope\"", e.getMessage());
        }
    }

    @Test
    void checkPointsRunAtEachFlushOnTheFlushedDeviceAndCanStopTheReplay() throws Exception {
        Recorded rec = record(dir, 17, 200);
        try (LogReplay log = LogReplay.open(rec.log); BlockDevice dev = open(scratch("c.img"))) {
            List<Long> seen = new ArrayList<>();
            LogReplay.Result r = log.replay(dev, ReplayOptions.defaults().checkAt(ReplayOptions.CheckMode.FLUSH, (entry, replayed) -> {
                assertArrayEquals(rec.atFlush.get(seen.size()), read(replayed, 0, DEVICE_BYTES));
                seen.add(entry.index());
                return seen.size() < 4;
            }));
            assertEquals(LogReplay.StopReason.CHECK_FAILED, r.reason());
            assertEquals(4, seen.size());
            assertEquals(log.entries().stream().filter(LogEntry::isFlush).limit(4).map(LogEntry::index).toList(), seen);
            assertEquals(seen.getLast(), r.last().index());
        }
    }

    @Test
    void findListsAndFlushPointsAgreeWithTheEntries() throws Exception {
        Recorded rec = record(dir, 19, 120);
        try (LogReplay log = LogReplay.open(rec.log)) {
            List<LogEntry> all = log.entries();
            LogEntry firstFlush = all.stream().filter(LogEntry::isFlush).findFirst().orElseThrow();
            assertEquals(firstFlush, log.find(ReplayOptions.defaults().nextFlush()).orElseThrow());
            LogEntry firstFua = all.stream().filter(LogEntry::isFua).findFirst().orElseThrow();
            assertEquals(firstFua, log.find(ReplayOptions.defaults().nextFua()).orElseThrow());
            assertEquals(all.get(2), log.find(ReplayOptions.defaults().limit(3)).orElseThrow());
            assertEquals(all.get(7), log.find(ReplayOptions.defaults().startEntry(5).limit(3)).orElseThrow());
            assertTrue(log.find(ReplayOptions.defaults().endMark("absent")).isEmpty());
            assertEquals(all.get(5), log.find(ReplayOptions.defaults().endEntry(5)).orElseThrow());
            Path byEntry = scratch("by-entry.img"), byLimit = scratch("by-limit.img");
            try (BlockDevice a = open(byEntry); BlockDevice b = open(byLimit)) {
                assertEquals(all.get(40), log.replay(a, ReplayOptions.defaults().endEntry(40)).last());
                assertEquals(all.get(40), log.replay(b, ReplayOptions.defaults().limit(41)).last());
            }
            assertArrayEquals(Files.readAllBytes(byLimit), Files.readAllBytes(byEntry));
            assertEquals(all.stream().filter(e -> e.isFlush() || e.isFua()).toList(), log.flushPoints());
            try (BlockDevice dev = open(scratch("fp.img"))) {
                LogReplay.Cursor c = log.cursor(dev, ReplayOptions.defaults());
                for (LogEntry point : log.flushPoints()) {
                    assertEquals(point, c.nextFlushPoint().orElseThrow());
                }
            }
        }
    }

    @Test
    void listenerAndSectorRangeSeeEveryEntry() throws Exception {
        Recorded rec = record(dir, 23, 100);
        try (LogReplay log = LogReplay.open(rec.log); BlockDevice dev = open(scratch("l.img"))) {
            List<LogEntry> replayed = new ArrayList<>(), skipped = new ArrayList<>();
            long[] progress = new long[2];
            log.replay(dev, ReplayOptions.defaults().sectors(0, 63).listener(new ReplayListener() {
                @Override
                public void replayed(LogEntry entry) {
                    replayed.add(entry);
                }

                @Override
                public void skipped(LogEntry entry) {
                    skipped.add(entry);
                }

                @Override
                public void progress(long done, long total) {
                    progress[0] = done;
                    progress[1] = total;
                }
            }));
            assertEquals(log.entryCount(), replayed.size() + skipped.size());
            assertEquals(log.entryCount(), progress[0]);
            assertEquals(log.entryCount(), progress[1]);
            assertFalse(skipped.isEmpty());
            assertTrue(skipped.stream().allMatch(e -> e.sector() > 63));
            assertTrue(replayed.stream().allMatch(e -> e.sectors() == 0 || e.sector() <= 63));

            List<String> lines = new ArrayList<>();
            log.replay(dev, ReplayOptions.defaults().sectors(0, 63).limit(200).listener(ReplayListener.verbose(lines::add, true)));
            assertEquals(Math.min(200, log.entryCount()), lines.size());
            LogEntry firstSkipped = skipped.getFirst();
            assertTrue(lines.contains("skipping " + firstSkipped.describe()));
            assertTrue(lines.getFirst().startsWith("replaying 0@") || lines.getFirst().startsWith("skipping 0@"), lines.getFirst());
        }
    }

    @Test
    void malformedLogsAreRefusedWithTheReason() throws Exception {
        Path bad = create(dir, "bad.img", 4096);
        IOException magic = assertThrows(IOException.class, () -> LogReplay.open(bad));
        assertEquals("not a write log: magic is 0x0, expected 0x6a736677736872", magic.getMessage());

        Recorded rec = record(dir, 29, 30);
        byte[] bytes = Files.readAllBytes(rec.log);
        LogEntry second;
        try (LogReplay log = LogReplay.open(rec.log)) {
            second = log.entry(1);
        }
        bytes[(int) second.logOffset() + 32] = 1; // non-zero padding after a non-mark header
        if (second.isMark()) {
            bytes[(int) second.logOffset() + 16] = 1; // make it a non-mark FLUSH so the check applies
        }
        Path corrupt = dir.resolve("corrupt.img");
        Files.write(corrupt, bytes);
        try (LogReplay log = LogReplay.open(corrupt)) {
            IOException e = assertThrows(IOException.class, log::entries);
            assertEquals("malformed entry 1 at log sector " + second.logOffset() / 512 + ": padding after the header is not zero", e.getMessage());
        }

        ByteBuffer sb = ByteBuffer.wrap(bytes, 0, 32).order(ByteOrder.LITTLE_ENDIAN);
        sb.putLong(8, 2);
        Files.write(corrupt, bytes);
        IOException version = assertThrows(IOException.class, () -> LogReplay.open(corrupt));
        assertEquals("unsupported write log version 2 (this reader knows version 1)", version.getMessage());
    }
}
