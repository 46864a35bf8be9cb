package dev.jdm.targets;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.targets.logwrites.LogEntry;
import dev.jdm.targets.logwrites.LogFormat;
import dev.jdm.targets.logwrites.LogReplay;
import dev.jdm.targets.logwrites.ReplayOptions;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.FileBlockDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static dev.jdm.targets.Images.*;
import static org.junit.jupiter.api.Assertions.*;

class LogWritesTargetTest {
    @TempDir
    Path dir;
    Path data, log;
    DeviceMapper dm;

    @BeforeEach
    void setUp() throws Exception {
        data = create(dir, "data.img", 1 << 20);
        log = create(dir, "log.img", 256 * 1024);
        dm = DeviceMapper.create();
    }

    @AfterEach
    void tearDown() {
        dm.close();
    }

    private String status() throws DmException {
        return dm.status("lw", false).getFirst().format();
    }

    private static byte[] header(long sector, long sectors, long flags, long dataLen) {
        ByteBuffer b = ByteBuffer.allocate(512).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(sector).putLong(sectors).putLong(flags).putLong(dataLen);
        return b.array();
    }

    private static byte[] superBlock(long entries) {
        ByteBuffer b = ByteBuffer.allocate(512).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0x6a736677736872L).putLong(1).putLong(entries).putInt(512);
        return b.array();
    }

    @Test
    void entriesFollowTheKernelsOrderingRulesByteForByte() throws Exception {
        dm.create("lw", null, "0 2048 log-writes " + data + " " + log, false);
        MappedDevice md = dm.device("lw");
        assertEquals("0 2048 log-writes " + data + " " + log, dm.table("lw", false).getFirst().format());
        assertEquals("0 2048 log-writes 0 0", status());
        assertEquals(List.of(data.toString(), log.toString()), dm.deps("lw", false));

        byte[] w1 = pattern(1024, 1), w2 = pattern(512, 2);
        write(md, 4096, w1);                       // plain: waits on the unflushed list
        assertEquals("0 2048 log-writes 0 0", status());
        md.write(0, ByteBuffer.wrap(w2), true);    // FUA: logged at once, super rewritten
        assertEquals("0 2048 log-writes 1 2", status());
        assertArrayEquals(superBlock(1), slice(log, 0, 512));
        assertArrayEquals(header(0, 1, LogFormat.FLAG_FUA, 0), slice(log, 512, 512));
        assertArrayEquals(w2, slice(log, 1024, 512));

        md.flush();                                // unflushed list, then the flush entry
        assertEquals("0 2048 log-writes 3 6", status());
        assertArrayEquals(header(8, 2, 0, 0), slice(log, 3 * 512, 512));
        assertArrayEquals(w1, slice(log, 4 * 512, 1024));
        assertArrayEquals(header(0, 0, LogFormat.FLAG_FLUSH, 0), slice(log, 6 * 512, 512));
        assertArrayEquals(superBlock(1), slice(log, 0, 512), "a flush does not rewrite the super block");

        assertNull(dm.message("lw", 0, List.of("mark", "m1")));
        assertEquals("0 2048 log-writes 4 7", status());
        byte[] mark = header(0, 0, LogFormat.FLAG_MARK, 2);
        mark[32] = 'm';
        mark[33] = '1';
        assertArrayEquals(mark, slice(log, 7 * 512, 512));
        assertArrayEquals(superBlock(4), slice(log, 0, 512));

        md.discard(8192, 4096);
        md.writeZeroes(512, 512, false);
        assertEquals("0 2048 log-writes 4 7", status(), "still waiting for a flush");
        dm.remove("lw", false, false);             // destruction logs them and the end mark

        try (LogReplay replay = LogReplay.open(log)) {
            assertEquals(512, replay.sectorSize());
            assertEquals(7, replay.entryCount());
            List<LogEntry> e = replay.entries();
            assertEquals(List.of(
                    new LogEntry(0, 512, 0, 1, LogFormat.FLAG_FUA, null, 512),
                    new LogEntry(1, 1536, 8, 2, 0, null, 512),
                    new LogEntry(2, 3072, 0, 0, LogFormat.FLAG_FLUSH, null, 512),
                    new LogEntry(3, 3584, 0, 0, LogFormat.FLAG_MARK, "m1", 512),
                    new LogEntry(4, 4096, 16, 8, LogFormat.FLAG_DISCARD, null, 512),
                    new LogEntry(5, 4608, 1, 1, 0, null, 512),
                    new LogEntry(6, 5632, 0, 0, LogFormat.FLAG_MARK, LogFormat.END_MARK, 512)), e);
            assertArrayEquals(w2, replay.data(e.get(0)).array());
            assertArrayEquals(w1, replay.data(e.get(1)).array());
            assertArrayEquals(new byte[512], replay.data(e.get(5)).array());
            assertEquals("1@4: sector 8, size 1024, flags 0x0(NONE)", e.get(1).describe());
            assertEquals("3@8: sector 0, size 0, flags 0x8(MARK) mark \"m1\"", e.get(3).describe());
        }
        assertArrayEquals(superBlock(7), slice(log, 0, 512));
    }

    @Test
    void marksAreTruncatedLikeTheKernelAndBadMessagesChangeNothing() throws Exception {
        dm.create("lw", null, "0 2048 log-writes " + data + " " + log, false);
        String[][] bad = {
                {"log-writes: invalid message arguments, expected 2 (mark <text>), got 1", "mark"},
                {"log-writes: invalid message arguments, expected 2 (mark <text>), got 3", "mark", "a", "b"},
                {"log-writes: unrecognised message \"note\" (only mark <text>)", "note", "x"},
        };
        for (String[] c : bad) {
            List<String> argv = List.of(c).subList(1, c.length);
            DmException e = assertThrows(DmException.class, () -> dm.message("lw", 0, argv));
            assertEquals(Errno.EINVAL, e.errno());
            assertEquals(c[0], e.getMessage());
        }
        assertEquals("0 2048 log-writes 0 0", status());
        String longMark = "x".repeat(600);
        dm.message("lw", 0, List.of("MARK", longMark));
        dm.remove("lw", false, false);
        try (LogReplay replay = LogReplay.open(log)) {
            assertEquals("x".repeat(512 - 32 - 1), replay.entry(0).mark());
        }
    }

    @Test
    void aFullLogDisablesLoggingButNotTheDevice() throws Exception {
        Path small = create(dir, "small.img", 8 * 512);
        dm.create("lw", null, "0 2048 log-writes " + data + " " + small, false);
        MappedDevice md = dm.device("lw");
        md.write(0, ByteBuffer.wrap(filled(512, 1)), true);     // sectors 1-2
        md.write(512, ByteBuffer.wrap(filled(512, 2)), true);   // sectors 3-4
        md.write(1024, ByteBuffer.wrap(filled(512, 3)), true);  // sectors 5-6
        assertEquals("0 2048 log-writes 3 6", status());
        md.write(1536, ByteBuffer.wrap(filled(512, 4)), true);  // would end at sector 9 > 8 sectors
        assertEquals("0 2048 log-writes 3 8 logging_disabled", status());
        write(md, 2048, filled(512, 5));
        assertArrayEquals(filled(512, 5), slice(data, 2048, 512));
        assertArrayEquals(filled(512, 4), slice(data, 1536, 512));
        dm.remove("lw", false, false);
        try (LogReplay replay = LogReplay.open(small)) {
            assertEquals(3, replay.entryCount());
        }
    }

    @Test
    void unalignedWritesAndBadTablesAreRefused() throws Exception {
        dm.create("lw", null, "0 2048 log-writes " + data + " " + log, false);
        BlockIoException e = assertThrows(BlockIoException.class, () -> write(dm.device("lw"), 100, new byte[512]));
        assertEquals(Errno.EINVAL, e.errno());
        assertEquals("log-writes: I/O of 512 bytes at 100 is not aligned to the logged device's 512-byte blocks", e.getMessage());
        assertEquals("0 2048 log-writes 0 0", status());
        DmException t = assertThrows(DmException.class, () -> dm.load("lw", "0 2048 log-writes " + data, false));
        assertEquals("table line 1: log-writes: expected 2 arguments (<dev> <log_dev>), got 1", t.getMessage());
        DmException big = assertThrows(DmException.class, () -> dm.load("lw", "0 4096 log-writes " + data + " " + log, false));
        assertEquals("table line 1: log-writes: argument 1 (\"" + data + "\"): device too small for target: it has 2048 sectors,"
                + " the target needs sectors 0 to 4096", big.getMessage());
        assertEquals("0 2048 log-writes " + data + " " + log, dm.table("lw", false).getFirst().format());
    }

    @Test
    void concurrentWritersAndFlushesLogEveryWriteOnceWithItsData() throws Exception {
        Path log = create(dir, "big.log", 4 << 20);
        dm.create("lw", null, "0 2048 log-writes " + data + " " + log, false);
        MappedDevice md = dm.device("lw");
        int threads = 8, writesPerThread = 40;
        try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                done.add(pool.submit(() -> {
                    for (int i = 0; i < writesPerThread; i++) {
                        // Each thread owns 256 sectors; the block written encodes thread and round.
                        long offset = (thread * 256L + i % 256) * 512;
                        md.write(offset, ByteBuffer.wrap(filled(512, thread * 16 + i % 16)), i % 10 == 9);
                        if (i % 7 == 6) {
                            md.flush();
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get();
            }
        }
        byte[] image = Files.readAllBytes(data);
        dm.remove("lw", false, false);
        try (LogReplay replay = LogReplay.open(log)) {
            List<LogEntry> writes = replay.entries().stream().filter(e -> e.sectors() > 0).toList();
            assertEquals(threads * writesPerThread, writes.size());
            for (LogEntry e : writes) {
                byte[] payload = replay.data(e).array();
                int thread = (int) (e.sector() / 256);
                assertEquals(512, payload.length);
                assertEquals(payload[0], payload[511], "a whole block from one write");
                assertEquals(thread, (payload[0] & 0xff) / 16, "entry " + e.index() + " carries its own writer's data");
            }
            Path out = create(dir, "replayed.img", 1 << 20);
            try (BlockDevice replayed = FileBlockDevice.open(out, FileBlockDevice.Options.READ_WRITE)) {
                replay.replay(replayed, ReplayOptions.defaults());
            }
            assertArrayEquals(image, Files.readAllBytes(out));
        }
    }
}
