package dev.jdm.tools.crash;

import dev.jdm.core.Sectors;
import dev.jdm.core.DmException;
import dev.jdm.core.io.FileBlockDevice;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.nbd.Attach;
import dev.jdm.nbd.NbdServer;
import dev.jdm.targets.logwrites.LogEntry;
import dev.jdm.targets.logwrites.LogReplay;
import dev.jdm.targets.logwrites.ReplayListener;
import dev.jdm.targets.logwrites.ReplayOptions;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Crash-consistency testing of a real file system, as xfstests does with dm-log-writes: a workload
 * runs against a kernel block device (a {@code log-writes <data> <log>} device exported over NBD and
 * attached), then the log is replayed onto a scratch image one durable point (FLUSH or FUA entry) at
 * a time, and checks look at the image at every point. A crash can leave the device in any of those
 * states, so a file system that is consistent at all of them survives any crash during the workload.
 * <p>
 * Each option maps onto one option of {@code jdm crash-test} (see docs/crash-harness.md). Files kept
 * in the work directory: {@code data.img} (the device after the workload), {@code log.img} (the write
 * log), {@code replay.img} (the replayed device at the last point checked), {@code point.img} (the copy
 * the checks ran on at that point).
 */
public final class CrashHarness {
    static final String DEVICE_NAME = "crash-test";

    private final Path workDir;
    private final long dataSize;
    private final long logSize;
    private final Workload workload;
    private final List<PointCheck> checks;
    private final String checkFrom;
    private final boolean keepGoing;
    private final CrashListener listener;

    private CrashHarness(Builder b) {
        this.workDir = Objects.requireNonNull(b.workDir, "work directory");
        this.workload = Objects.requireNonNull(b.workload, "workload");
        if (b.dataSize <= 0 || b.dataSize % 4096 != 0) {
            throw new IllegalArgumentException("the device size must be a positive multiple of 4096 bytes: " + b.dataSize);
        }
        this.dataSize = b.dataSize;
        this.logSize = b.logSize > 0 ? b.logSize : defaultLogSize(b.dataSize);
        List<PointCheck> all = new ArrayList<>();
        if (b.fsck) {
            all.add(PointCheck.e2fsck());
        }
        all.addAll(b.checks);
        if (all.isEmpty()) {
            throw new IllegalArgumentException("nothing to check: the e2fsck check is off and no other check was given");
        }
        this.checks = List.copyOf(all);
        this.checkFrom = b.checkFrom;
        this.keepGoing = b.keepGoing;
        this.listener = b.listener;
    }

    /** The log keeps every write with a header block each: room for the device written over a few times. */
    static long defaultLogSize(long dataSize) {
        return 4 * dataSize + (64L << 20);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Options of a harness run; see {@code jdm crash-test}. */
    public static final class Builder {
        private Path workDir;
        private long dataSize;
        private long logSize;
        private Workload workload;
        private final List<PointCheck> checks = new ArrayList<>();
        private boolean fsck = true;
        private String checkFrom;
        private boolean keepGoing;
        private CrashListener listener = new CrashListener() { };

        private Builder() {
        }

        /** {@code --work-dir}: where the data, log and replay images go (kept afterwards). */
        public Builder workDir(Path dir) {
            this.workDir = dir;
            return this;
        }

        /** {@code --size}: the recorded device's size in bytes (a multiple of 4096). */
        public Builder size(long bytes) {
            this.dataSize = bytes;
            return this;
        }

        /** {@code --log-size}: the log file's size; by default four times the device plus 64 MiB (sparse). */
        public Builder logSize(long bytes) {
            this.logSize = bytes;
            return this;
        }

        /** {@code -- <command>} or {@code --ext4-files}: what writes to the device. */
        public Builder workload(Workload workload) {
            this.workload = workload;
            return this;
        }

        /** {@code --check <command>} (repeatable): a check run after the built-in e2fsck, in the order added. */
        public Builder check(PointCheck check) {
            this.checks.add(Objects.requireNonNull(check));
            return this;
        }

        /** {@code --no-fsck} turns off the built-in {@code e2fsck -fn} check (for file systems other than ext2/3/4). */
        public Builder fsck(boolean on) {
            this.fsck = on;
            return this;
        }

        /** {@code --check-from <mark>}: replay through this mark without checking (e.g. the end of mkfs). */
        public Builder checkFrom(String mark) {
            this.checkFrom = mark;
            return this;
        }

        /** {@code --keep-going}: check every point instead of stopping at the first failure. */
        public Builder keepGoing(boolean on) {
            this.keepGoing = on;
            return this;
        }

        public Builder listener(CrashListener listener) {
            this.listener = Objects.requireNonNull(listener);
            return this;
        }

        public CrashHarness build() {
            return new CrashHarness(this);
        }
    }

    public Path logFile() {
        return workDir.resolve("log.img");
    }

    /** Records the workload, then replays and checks every durable point. */
    public CrashReport run() throws IOException {
        Files.createDirectories(workDir);
        Path data = workDir.resolve("data.img");
        createSparse(data, dataSize);
        createSparse(logFile(), logSize);
        record(data);
        return replayAndCheck();
    }

    private static void createSparse(Path file, long size) throws IOException {
        Files.deleteIfExists(file);
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(size);
        }
    }

    private void record(Path data) throws IOException {
        Path attachDir = workDir.resolve("attach");
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create(DEVICE_NAME, null, "0 " + Sectors.fromBytes(dataSize) + " log-writes " + data + " " + logFile(), false);
            try (NbdServer server = new NbdServer(dm, NbdServer.Config.unix(workDir.resolve("nbd.sock")))) {
                server.start();
                Attach.Attachment attachment = Attach.attach(DEVICE_NAME, workDir.resolve("nbd.sock"), attachDir);
                IOException workloadFailure = runWorkload(new AttachedSession(dm, attachment.device()));
                try {
                    Attach.detach(attachment, attachDir);
                } catch (IOException e) {
                    // A workload that failed half-way may have left the device mounted: its own error says why.
                    if (workloadFailure == null) {
                        throw e;
                    }
                    workloadFailure.addSuppressed(e);
                }
                if (workloadFailure != null) {
                    throw workloadFailure;
                }
            }
            // The server's close() returned once its connections let go of the device. Removing it
            // logs what still waits for a flush and the end mark.
            dm.remove(DEVICE_NAME, false, false);
        } catch (DmException e) {
            throw new IOException("log-writes device: " + e.getMessage(), e);
        }
    }

    /** Runs the workload and returns its failure, if any, so the device can be detached first. */
    private IOException runWorkload(Workload.Session session) {
        try {
            workload.run(session);
            return null;
        } catch (IOException e) {
            return e;
        } catch (Exception e) {
            return new IOException("the workload failed: " + e, e);
        }
    }

    private final class AttachedSession implements Workload.Session {
        private final DeviceMapper dm;
        private final Path device;

        AttachedSession(DeviceMapper dm, Path device) {
            this.dm = dm;
            this.device = device;
        }

        @Override
        public Path device() {
            return device;
        }

        @Override
        public Path workDir() {
            return workDir;
        }

        @Override
        public void mark(String text) throws IOException {
            try {
                dm.message(DEVICE_NAME, 0, List.of("mark", text));
            } catch (DmException e) {
                throw new IOException("mark " + text + ": " + e.getMessage(), e);
            }
        }
    }

    private CrashReport replayAndCheck() throws IOException {
        Path scratch = workDir.resolve("replay.img");
        Path pointImage = workDir.resolve("point.img");
        createSparse(scratch, dataSize);
        List<String> marks = new ArrayList<>();
        ReplayListener markCollector = new ReplayListener() {
            @Override
            public void replayed(LogEntry entry) {
                if (entry.isMark()) {
                    marks.add(entry.mark());
                }
            }
        };
        try (LogReplay replay = LogReplay.open(logFile());
             FileBlockDevice device = FileBlockDevice.open(scratch, FileBlockDevice.Options.READ_WRITE)) {
            long firstChecked = 0;
            if (checkFrom != null) {
                firstChecked = replay.findMark(checkFrom)
                        .orElseThrow(() -> new IOException("the workload logged no mark \"" + checkFrom + "\" to check from"))
                        .index() + 1;
            }
            List<LogEntry> flushPoints = replay.flushPoints();
            long start = firstChecked;
            long toCheck = flushPoints.stream().filter(e -> e.index() >= start).count();
            listener.recorded(replay.entryCount(), toCheck);

            // One cursor walks the log once: each point is replayed on top of the previous one.
            LogReplay.Cursor cursor = replay.cursor(device, ReplayOptions.defaults().listener(markCollector));
            if (start > 0) {
                cursor.replayThrough(e -> e.index() == start - 1);
            }
            List<CrashReport.Failure> failures = new ArrayList<>();
            long checked = 0;
            for (Optional<LogEntry> point = cursor.nextFlushPoint(); point.isPresent(); point = cursor.nextFlushPoint()) {
                checked++;
                Command.run(List.of("cp", "--sparse=always", "--reflink=auto", scratch.toString(), pointImage.toString())).orThrow();
                CrashReport.Failure failure = check(new ReplayPoint(point.get(), checked, toCheck, pointImage, marks));
                listener.pointChecked(checked, toCheck, point.get(), failure);
                if (failure != null) {
                    failures.add(failure);
                    if (!keepGoing) {
                        break;
                    }
                }
            }
            return new CrashReport(replay.entryCount(), flushPoints.size(), toCheck, checked, failures, logFile());
        }
    }

    /** Runs the checks in order; the first that fails is the point's failure (later ones would only echo it). */
    private CrashReport.Failure check(ReplayPoint point) throws IOException {
        for (PointCheck c : checks) {
            Optional<String> problem = c.check(point);
            if (problem.isPresent()) {
                return new CrashReport.Failure(point.entry().index(), point.lastMark(), c.name(), problem.get());
            }
        }
        return null;
    }
}
