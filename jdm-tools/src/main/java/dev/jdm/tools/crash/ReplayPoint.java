package dev.jdm.tools.crash;

import dev.jdm.targets.logwrites.LogEntry;

import java.nio.file.Path;
import java.util.List;

/**
 * A point where the recorded device was durable (a FLUSH or FUA entry), replayed and ready to check.
 *
 * @param entry  the FLUSH or FUA entry just replayed
 * @param number 1-based number of this point among those checked
 * @param total  how many points will be checked
 * @param image  a private copy of the replayed device at this point; checks run on it in order and
 *               may change it (the e2fsck check recovers the journal, as a mount after a crash would)
 * @param marks  the marks logged at or before {@code entry}, in log order
 */
public record ReplayPoint(LogEntry entry, long number, long total, Path image, List<String> marks) {

    public ReplayPoint {
        marks = List.copyOf(marks);
    }

    /** The last mark at or before the point, or null if none. */
    public String lastMark() {
        return marks.isEmpty() ? null : marks.getLast();
    }
}
