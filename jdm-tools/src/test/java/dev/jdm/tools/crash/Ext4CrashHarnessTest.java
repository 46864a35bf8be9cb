package dev.jdm.tools.crash;

import dev.jdm.core.testing.ExternalTools;
import dev.jdm.nbd.Attach;
import dev.jdm.targets.logwrites.LogEntry;
import dev.jdm.targets.logwrites.LogReplay;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.LongStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The harness end to end through the kernel: ext4 on a log-writes device attached over NBD (nbdfuse +
 * loop), files written with fsync and marked, the log replayed point by point onto a scratch image,
 * e2fsck and the file contents checked at every point. Then the same workload with one file marked
 * durable without its fsync, which the harness must report at the first point after that mark; an
 * e2fsck failure (a wiped super block magic) reported with e2fsck's words; and a workload that throws.
 */
@Timeout(300)
class Ext4CrashHarnessTest {
    private static final long SIZE = 64L << 20;
    private static final int FILES = 6;

    @TempDir
    Path dir;

    @BeforeEach
    void requireTheKernelSide() {
        ExternalTools.require(ExternalTools.isRoot(), "the crash harness needs root (loop devices, FUSE and ext4 mounts)");
        ExternalTools.require(Files.exists(Path.of("/dev/fuse")), "/dev/fuse is missing (FUSE not available)");
        ExternalTools.require(Files.exists(Path.of("/dev/loop-control")), "/dev/loop-control is missing (no loop devices)");
        for (String[] tool : new String[][]{{"nbdfuse", "nbdfuse"}, {"fusermount3", "fuse3"}, {"losetup", "mount"},
                {"mount", "mount"}, {"umount", "mount"}, {"mkfs.ext4", "e2fsprogs"}, {"e2fsck", "e2fsprogs"},
                {"debugfs", "e2fsprogs"}, {"cp", "coreutils"}}) {
            ExternalTools.requireTool(tool[0], tool[1]);
        }
    }

    /** Counts what the harness reports to its listener. */
    private static final class Progress implements CrashListener {
        long recordedEntries = -1;
        long recordedPoints = -1;
        final List<Long> done = new ArrayList<>();
        final List<CrashReport.Failure> failures = new ArrayList<>();

        @Override
        public void recorded(long entries, long pointsToCheck) {
            recordedEntries = entries;
            recordedPoints = pointsToCheck;
        }

        @Override
        public void pointChecked(long doneSoFar, long total, LogEntry entry, CrashReport.Failure failure) {
            assertEquals(recordedPoints, total);
            done.add(doneSoFar);
            if (failure != null) {
                failures.add(failure);
            }
        }
    }

    private static List<LogEntry> flushPointsAfter(Path log, String mark) throws Exception {
        try (LogReplay replay = LogReplay.open(log)) {
            long markIndex = replay.findMark(mark).orElseThrow().index();
            return replay.flushPoints().stream().filter(e -> e.index() > markIndex).toList();
        }
    }

    @Test
    void ext4WithFsyncedFilesIsConsistentAtEveryFlushPoint() throws Exception {
        Ext4Workload workload = Ext4Workload.files(FILES, 42);
        Progress progress = new Progress();
        CrashHarness harness = CrashHarness.builder().workDir(dir.resolve("work")).size(SIZE)
                .workload(workload).check(workload.filesIntact()).checkFrom(Ext4Workload.MKFS_MARK)
                .listener(progress).build();

        CrashReport report = harness.run();

        assertEquals(List.of(), report.failures(), report.describe());
        try (LogReplay replay = LogReplay.open(harness.logFile())) {
            assertEquals(replay.entryCount(), report.entries());
            assertEquals(replay.flushPoints().size(), report.flushPoints());
            assertEquals("dm-log-writes-end", replay.entry(replay.entryCount() - 1).mark());
            for (Ext4Workload.FileSpec f : workload.fileSpecs()) {
                assertTrue(replay.findMark(f.mark()).isPresent(), "mark " + f.mark() + " logged");
            }
        }
        List<LogEntry> points = flushPointsAfter(harness.logFile(), Ext4Workload.MKFS_MARK);
        assertTrue(points.size() >= 10, "at least 10 flush points after mkfs, got " + points.size());
        assertEquals(points.size(), report.pointsToCheck());
        assertEquals(points.size(), report.pointsChecked());
        assertEquals(report.entries(), progress.recordedEntries);
        assertEquals(points.size(), progress.recordedPoints);
        assertEquals(LongStream.rangeClosed(1, points.size()).boxed().toList(), progress.done);
        assertEquals(List.of(), progress.failures);
        assertTrue(report.describe().startsWith(report.entries() + " log entries, " + report.flushPoints() + " flush points, "
                + points.size() + " of " + points.size() + " checked: all consistent"), report.describe());
    }

    @Test
    void aFileMarkedDurableWithoutItsFsyncIsReportedAtTheFirstFlushPointAfterItsMark() throws Exception {
        Ext4Workload workload = Ext4Workload.files(FILES, 42).withoutDataFsync(2);
        Ext4Workload.FileSpec liar = workload.fileSpecs().get(2);
        Progress progress = new Progress();
        CrashHarness harness = CrashHarness.builder().workDir(dir.resolve("work")).size(SIZE)
                .workload(workload).check(workload.filesIntact()).checkFrom(Ext4Workload.MKFS_MARK)
                .listener(progress).build();

        CrashReport report = harness.run();

        assertEquals(1, report.failures().size(), report.describe());
        CrashReport.Failure failure = report.failures().getFirst();
        List<LogEntry> points = flushPointsAfter(harness.logFile(), Ext4Workload.MKFS_MARK);
        long liarMark;
        try (LogReplay replay = LogReplay.open(harness.logFile())) {
            liarMark = replay.findMark(liar.mark()).orElseThrow().index();
        }
        LogEntry firstAfterMark = points.stream().filter(e -> e.index() > liarMark).findFirst().orElseThrow();
        assertEquals(firstAfterMark.index(), failure.entry(), report.describe());
        assertEquals(liar.mark(), failure.mark());
        assertEquals("ext4 files", failure.check());
        assertEquals(liar.path() + " (" + liar.mark() + "): read 0 bytes, expected " + liar.content().length
                + ", first difference at byte 0", failure.output());
        long pointNumber = points.indexOf(firstAfterMark) + 1;
        assertEquals(pointNumber, report.pointsChecked(), "stopped at the first failure");
        assertEquals(List.of(failure), progress.failures);
        assertTrue(report.describe().contains("FAILED at entry " + failure.entry() + " (after mark " + liar.mark() + "): ext4 files: "
                + liar.path()), report.describe());
    }
    @Test
    void anE2fsckFailureIsReportedWithWhatE2fsckSaidAndTheHarnessGoesOnWhenAsked() throws Exception {
        Ext4Workload workload = Ext4Workload.files(2, 7);
        // At point 3 the super block's magic is wiped in the copy before e2fsck sees it: a file system no longer recognisable.
        PointCheck corruptThenFsck = new PointCheck() {
            @Override
            public Optional<String> check(ReplayPoint point) throws IOException {
                if (point.number() == 3) {
                    try (FileChannel ch = FileChannel.open(point.image(), StandardOpenOption.WRITE)) {
                        ch.write(ByteBuffer.wrap(new byte[2]), 1024 + 0x38);
                    }
                }
                return PointCheck.e2fsck().check(point);
            }

            @Override
            public String name() {
                return "corrupt at 3, then e2fsck";
            }
        };
        CrashHarness harness = CrashHarness.builder().workDir(dir.resolve("work")).size(SIZE).workload(workload)
                .fsck(false).check(corruptThenFsck).checkFrom(Ext4Workload.MKFS_MARK).keepGoing(true).build();

        CrashReport report = harness.run();

        List<LogEntry> points = flushPointsAfter(harness.logFile(), Ext4Workload.MKFS_MARK);
        assertEquals(points.size(), report.pointsChecked(), "kept going after the failure");
        assertEquals(1, report.failures().size(), report.describe());
        CrashReport.Failure failure = report.failures().getFirst();
        assertEquals(points.get(2).index(), failure.entry());
        assertEquals("corrupt at 3, then e2fsck", failure.check());
        assertTrue(failure.output().startsWith("journal recovery (e2fsck -E journal_only -p) exited 8:\n"), failure.output());
        assertTrue(failure.output().contains("Bad magic number in super-block"), failure.output());
    }
    @Test
    void aFailingWorkloadIsReportedAndItsDeviceIsDetachedAnyway() throws Exception {
        Path work = dir.resolve("work");
        List<Path> devices = new ArrayList<>();
        CrashHarness harness = CrashHarness.builder().workDir(work).size(SIZE).workload(session -> {
            devices.add(session.device());
            throw new IllegalStateException("boom");
        }).build();

        IOException e = assertThrows(IOException.class, harness::run);

        assertEquals("the workload failed: java.lang.IllegalStateException: boom", e.getMessage());
        assertEquals(0, e.getSuppressed().length, "detaching worked");
        assertEquals(Optional.empty(), Attach.find(CrashHarness.DEVICE_NAME, work.resolve("attach")));
        String loops = new String(new ProcessBuilder("losetup", "-a").start().getInputStream().readAllBytes());
        assertFalse(loops.contains(devices.getFirst() + ":"), loops);
    }
}
