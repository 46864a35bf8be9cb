package dev.jdm.targets.logwrites;

import dev.jdm.core.testing.ExternalTools;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.FileBlockDevice;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static dev.jdm.targets.Images.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * qemu's blklogwrites filter writes the dm-log-writes format independently of us: our reader must
 * decode every entry it writes, and our target must lay out the same writes identically.
 * Needs qemu-io (Debian package qemu-utils).
 */
class QemuBlkLogWritesConformanceTest {
    private static final int IMAGE = 1 << 20;

    @TempDir
    Path dir;

    @BeforeEach
    void needsQemuIo() {
        ExternalTools.requireTool("qemu-io", "qemu-utils");
    }

    /**
     * Runs qemu-io over a blklogwrites node ({@code extraOptions} are appended to its options); each
     * qemu-io "flush" logs two FLUSH entries (format and protocol layer).
     */
    private void qemuIo(Path data, Path log, String extraOptions, String... commands) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("qemu-io", "--image-opts",
                "driver=blklogwrites,file.driver=file,file.filename=" + data + ",log.driver=file,log.filename=" + log + extraOptions));
        for (String c : commands) {
            cmd.add("-c");
            cmd.add(c);
        }
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        assertFalse(out.contains("error") || out.contains("invalid"), out);
    }

    private static final String[] WORKLOAD = {
            "write -P 0xab 4096 4096", "write -P 0xcd 0 512", "flush",
            "write -z 8192 1024", "discard 16384 4096", "write -P 0x11 512 512", "flush"};

    @Test
    void ourReaderDecodesEveryEntryQemuWritesAndReplaysItsImage() throws Exception {
        Path data = create(dir, "q.img", IMAGE);
        Path log = create(dir, "q.log", IMAGE);
        qemuIo(data, log, "", WORKLOAD);
        try (LogReplay replay = LogReplay.open(log)) {
            assertEquals(512, replay.sectorSize());
            List<LogEntry> e = replay.entries();
            assertEquals(List.of(
                    new LogEntry(0, 512, 8, 8, 0, null, 512),
                    new LogEntry(1, 5120, 0, 1, 0, null, 512),
                    new LogEntry(2, 6144, 0, 0, LogFormat.FLAG_FLUSH, null, 512),
                    new LogEntry(3, 6656, 0, 0, LogFormat.FLAG_FLUSH, null, 512),
                    new LogEntry(4, 7168, 16, 2, 0, null, 512),
                    new LogEntry(5, 8704, 32, 8, LogFormat.FLAG_DISCARD, null, 512),
                    new LogEntry(6, 9216, 1, 1, 0, null, 512),
                    new LogEntry(7, 10240, 0, 0, LogFormat.FLAG_FLUSH, null, 512),
                    new LogEntry(8, 10752, 0, 0, LogFormat.FLAG_FLUSH, null, 512)), e);
            assertArrayEquals(filled(4096, 0xab), replay.data(e.get(0)).array());
            assertArrayEquals(filled(512, 0xcd), replay.data(e.get(1)).array());
            assertArrayEquals(new byte[1024], replay.data(e.get(4)).array());
            assertArrayEquals(filled(512, 0x11), replay.data(e.get(6)).array());

            Path out = create(dir, "replayed.img", IMAGE);
            try (BlockDevice dev = FileBlockDevice.open(out, FileBlockDevice.Options.READ_WRITE)) {
                LogReplay.Result r = replay.replay(dev, ReplayOptions.defaults());
                assertEquals(9, r.replayed());
            }
            assertArrayEquals(Files.readAllBytes(data), Files.readAllBytes(out));
        }
    }

    @Test
    void ourTargetLaysOutTheSameWritesLikeQemu() throws Exception {
        Path qData = create(dir, "q.img", IMAGE);
        Path qLog = create(dir, "q.log", IMAGE);
        qemuIo(qData, qLog, "", WORKLOAD);

        Path data = create(dir, "d.img", IMAGE);
        Path log = create(dir, "d.log", IMAGE);
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("lw", null, "0 " + IMAGE / 512 + " log-writes " + data + " " + log, false);
            MappedDevice md = dm.device("lw");
            md.write(4096, ByteBuffer.wrap(filled(4096, 0xab)), false);
            md.write(0, ByteBuffer.wrap(filled(512, 0xcd)), false);
            md.flush();
            md.flush();
            md.writeZeroes(8192, 1024, false);
            md.discard(16384, 4096);
            md.write(512, ByteBuffer.wrap(filled(512, 0x11)), false);
            md.flush();
            md.flush();
            dm.remove("lw", false, false);
        }
        try (LogReplay ours = LogReplay.open(log); LogReplay theirs = LogReplay.open(qLog)) {
            assertEquals(theirs.entryCount() + 1, ours.entryCount(), "ours ends with the dm-log-writes-end mark");
            assertEquals(theirs.entries(), ours.entries().subList(0, (int) theirs.entryCount()));
            int end = (int) theirs.entries().getLast().nextLogOffset();
            assertArrayEquals(slice(qLog, 512, end - 512), slice(log, 512, end - 512), "entry blocks and data, byte for byte");
        }
        assertArrayEquals(Files.readAllBytes(qData), Files.readAllBytes(data));
    }

    /** qemu's log-append walks an existing log entry by entry: it must accept ours and continue right after it. */
    @Test
    void qemuReadsALogJdmWroteAndAppendsRightAfterIt() throws Exception {
        Path data = create(dir, "d.img", IMAGE);
        Path log = create(dir, "d.log", IMAGE);
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("lw", null, "0 " + IMAGE / 512 + " log-writes " + data + " " + log, false);
            MappedDevice md = dm.device("lw");
            md.write(0, ByteBuffer.wrap(filled(2048, 0x31)), false);
            md.discard(8192, 4096);
            md.flush();
            dm.message("lw", 0, List.of("mark", "before-qemu"));
            md.write(4096, ByteBuffer.wrap(filled(1024, 0x32)), true);
            dm.remove("lw", false, false);
        }
        long ours;
        long end;
        try (LogReplay replay = LogReplay.open(log)) {
            ours = replay.entryCount();
            end = replay.entries().getLast().nextLogOffset();
        }
        qemuIo(data, log, ",log-append=on", "write -P 0x33 12288 512");
        try (LogReplay replay = LogReplay.open(log)) {
            List<LogEntry> e = replay.entries();
            assertTrue(e.size() > ours);
            assertEquals(new LogEntry(ours, end, 24, 1, 0, null, 512), e.get((int) ours), "qemu's entry follows our end mark");
            assertArrayEquals(filled(512, 0x33), replay.data(e.get((int) ours)).array());
            assertTrue(e.subList((int) ours + 1, e.size()).stream().allMatch(LogEntry::isFlush), "then qemu's closing flushes");
            Path out = create(dir, "replayed.img", IMAGE);
            try (BlockDevice dev = FileBlockDevice.open(out, FileBlockDevice.Options.READ_WRITE)) {
                replay.replay(dev, ReplayOptions.defaults());
            }
            assertArrayEquals(Files.readAllBytes(data), Files.readAllBytes(out));
        }
    }
}
