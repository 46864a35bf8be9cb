package dev.jdm.targets.logwrites;

import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.FileBlockDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.zip.CRC32;

import static dev.jdm.targets.Images.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The crash-consistency harness in miniature, in process: a tiny file store writes files through a
 * log-writes device, the log is replayed onto a scratch device one flush point at a time, and a
 * checker (the store's fsck) looks at each point. A store that commits before its data is durable is
 * caught at the exact entry where a crash would have exposed it; a correct one passes every point.
 */
class CrashConsistencyHarnessTest {
    private static final int DEVICE_BYTES = 1 << 20;
    private static final int FIRST_DATA_SECTOR = 8;
    private static final byte[] MAGIC = {'T', 'O', 'Y', 'S'};

    @TempDir
    Path dir;

    /** One file of the store: where its data lives and its checksum. */
    record FileRecord(long sector, int sectors, long crc) {
    }

    /**
     * Appends files and commits a table of contents in sector 0 with a FUA write. A careful store
     * flushes the file data before the commit, as a journaling file system does; a careless one doesn't.
     */
    static void writeFiles(MappedDevice dev, int files, boolean careful) throws IOException {
        List<FileRecord> records = new ArrayList<>();
        long next = FIRST_DATA_SECTOR;
        for (int i = 0; i < files; i++) {
            int sectors = 1 + i % 7;
            byte[] data = pattern(sectors * 512, 1000 + i);
            dev.write(next * 512, ByteBuffer.wrap(data), false);
            CRC32 crc = new CRC32();
            crc.update(data);
            records.add(new FileRecord(next, sectors, crc.getValue()));
            next += sectors;
            if (careful) {
                dev.flush();
            }
            dev.write(0, ByteBuffer.wrap(tableOfContents(records)), true);
        }
    }

    private static byte[] tableOfContents(List<FileRecord> records) {
        ByteBuffer b = ByteBuffer.allocate(512);
        b.put(MAGIC).putInt(records.size());
        for (FileRecord r : records) {
            b.putLong(r.sector).putInt(r.sectors).putLong(r.crc);
        }
        return b.array();
    }

    /** The store's fsck: every committed file's data must match its checksum. Returns the problem, if any. */
    static Optional<String> check(BlockDevice dev) throws IOException {
        ByteBuffer toc = ByteBuffer.wrap(read(dev, 0, 512));
        byte[] magic = new byte[4];
        toc.get(magic);
        if (!java.util.Arrays.equals(magic, MAGIC)) {
            return Optional.empty(); // nothing committed yet: an empty store is consistent
        }
        int count = toc.getInt();
        for (int i = 0; i < count; i++) {
            FileRecord r = new FileRecord(toc.getLong(), toc.getInt(), toc.getLong());
            CRC32 crc = new CRC32();
            crc.update(read(dev, r.sector * 512, r.sectors * 512));
            if (crc.getValue() != r.crc) {
                return Optional.of("file " + i + " at sector " + r.sector + " does not match its checksum");
            }
        }
        return Optional.empty();
    }

    private Path record(boolean careful) throws Exception {
        Path data = create(dir, "data-" + careful + ".img", DEVICE_BYTES);
        Path log = create(dir, "log-" + careful + ".img", 8 << 20);
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("lw", null, "0 " + DEVICE_BYTES / 512 + " log-writes " + data + " " + log, false);
            writeFiles(dm.device("lw"), 12, careful);
            dm.message("lw", 0, List.of("mark", "done"));
        }
        return log;
    }

    @Test
    void aCarefulStoreIsConsistentAtEveryFlushPoint() throws Exception {
        Path log = record(true);
        Path scratch = create(dir, "scratch.img", DEVICE_BYTES);
        try (LogReplay replay = LogReplay.open(log);
             BlockDevice dev = FileBlockDevice.open(scratch, FileBlockDevice.Options.READ_WRITE)) {
            LogReplay.Cursor cursor = replay.cursor(dev, ReplayOptions.defaults());
            int points = 0;
            for (Optional<LogEntry> point = cursor.nextFlushPoint(); point.isPresent(); point = cursor.nextFlushPoint()) {
                assertEquals(Optional.empty(), check(dev), "at " + point.get().describe());
                points++;
            }
            assertEquals(24, points, "12 data flushes and 12 FUA commits");
        }
    }

    @Test
    void aStoreThatCommitsBeforeItsDataIsDurableIsCaughtWhereACrashWouldExposeIt() throws Exception {
        Path log = record(false);
        Path scratch = create(dir, "scratch.img", DEVICE_BYTES);
        try (LogReplay replay = LogReplay.open(log);
             BlockDevice dev = FileBlockDevice.open(scratch, FileBlockDevice.Options.READ_WRITE)) {
            List<String> problems = new ArrayList<>();
            LogReplay.Result r = replay.replay(dev, ReplayOptions.defaults().checkAt(ReplayOptions.CheckMode.FUA, (entry, replayed) -> {
                check(replayed).ifPresent(p -> problems.add(entry.index() + ": " + p));
                return problems.isEmpty();
            }));
            assertEquals(LogReplay.StopReason.CHECK_FAILED, r.reason());
            // The first FUA commit is logged before the unflushed file data it points to.
            assertEquals(0, r.last().index());
            assertEquals(List.of("0: file 0 at sector 8 does not match its checksum"), problems);
        }
    }
}
