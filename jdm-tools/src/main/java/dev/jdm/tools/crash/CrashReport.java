package dev.jdm.tools.crash;

import java.nio.file.Path;
import java.util.List;

/**
 * What a harness run found.
 *
 * @param entries       entries in the log (the end mark included)
 * @param flushPoints   FLUSH and FUA entries in the whole log
 * @param pointsToCheck flush points after the check-from mark (all of them without one)
 * @param pointsChecked flush points replayed and checked (fewer than {@code pointsToCheck} when it
 *                      stopped at the first failure)
 * @param failures      the points where a check found a problem, in log order
 * @param log           the write log, kept for replaying by hand ({@code jdm log-writes replay})
 */
public record CrashReport(long entries, long flushPoints, long pointsToCheck, long pointsChecked, List<Failure> failures, Path log) {

    public CrashReport {
        failures = List.copyOf(failures);
    }

    /**
     * One failed check.
     *
     * @param entry  the FLUSH or FUA entry after which the device was checked
     * @param mark   the last mark at or before it, or null
     * @param check  the check's name
     * @param output what the check said
     */
    public record Failure(long entry, String mark, String check, String output) {

        /** {@code entry 57 (after mark fsync-2): e2fsck: <output>} */
        public String describe() {
            return "entry " + entry + " (" + (mark == null ? "before any mark" : "after mark " + mark) + "): " + check + ": " + output;
        }
    }

    public boolean passed() {
        return failures.isEmpty();
    }

    /** A few lines for people: the counts, then one block per failure. */
    public String describe() {
        StringBuilder s = new StringBuilder()
                .append(entries).append(" log entries, ").append(flushPoints).append(" flush points, ")
                .append(pointsChecked).append(" of ").append(pointsToCheck).append(" checked: ")
                .append(passed() ? "all consistent" : failures.size() + " failed").append('\n');
        for (Failure f : failures) {
            s.append("FAILED at ").append(f.describe()).append('\n');
        }
        return s.toString();
    }
}
