package dev.jdm.tools.crash;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CrashReportTest {

    @Test
    void aReportListsItsCountsThenEachFailure() {
        CrashReport report = new CrashReport(114, 33, 29, 8, List.of(
                new CrashReport.Failure(53, "fsync-2", "ext4 files", "/d0/file2 (fsync-2): read 0 bytes, expected 24451, first difference at byte 0"),
                new CrashReport.Failure(2, null, "e2fsck", "e2fsck -fn exited 4:\nBad inode")), Path.of("/w/log.img"));
        assertFalse(report.passed());
        assertEquals("""
                114 log entries, 33 flush points, 8 of 29 checked: 2 failed
                FAILED at entry 53 (after mark fsync-2): ext4 files: /d0/file2 (fsync-2): read 0 bytes, expected 24451, first difference at byte 0
                FAILED at entry 2 (before any mark): e2fsck: e2fsck -fn exited 4:
                Bad inode
                """, report.describe());
    }

    @Test
    void aCleanReportSaysSo() {
        CrashReport report = new CrashReport(108, 34, 30, 30, List.of(), Path.of("/w/log.img"));
        assertTrue(report.passed());
        assertEquals("108 log entries, 34 flush points, 30 of 30 checked: all consistent\n", report.describe());
    }

    @Test
    void theBuilderRefusesSizesTheDeviceCannotHaveAndRunsWithNothingToCheck() {
        Workload none = s -> { };
        IllegalArgumentException size = assertThrows(IllegalArgumentException.class,
                () -> CrashHarness.builder().workDir(Path.of("/tmp/x")).size(1000).workload(none).build());
        assertEquals("the device size must be a positive multiple of 4096 bytes: 1000", size.getMessage());
        IllegalArgumentException nothing = assertThrows(IllegalArgumentException.class,
                () -> CrashHarness.builder().workDir(Path.of("/tmp/x")).size(4096).workload(none).fsck(false).build());
        assertEquals("nothing to check: the e2fsck check is off and no other check was given", nothing.getMessage());
        assertEquals(4L * (64 << 20) + (64 << 20), CrashHarness.defaultLogSize(64 << 20));
    }
}
