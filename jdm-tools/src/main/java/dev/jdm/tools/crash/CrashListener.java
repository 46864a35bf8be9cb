package dev.jdm.tools.crash;

import dev.jdm.targets.logwrites.LogEntry;

/** Hears the harness's progress, e.g. to draw a progress bar. Every method is optional. */
public interface CrashListener {

    /** The workload finished and the log is closed: {@code entries} entries, {@code pointsToCheck} durable points to check. */
    default void recorded(long entries, long pointsToCheck) {
    }

    /** Point {@code done} of {@code total} was checked; {@code failure} is null when it passed. */
    default void pointChecked(long done, long total, LogEntry entry, CrashReport.Failure failure) {
    }
}
