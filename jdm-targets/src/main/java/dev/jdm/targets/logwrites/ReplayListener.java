package dev.jdm.targets.logwrites;

/** Hears what a replay does, for verbose output and progress bars. Every method is optional. */
public interface ReplayListener {

    /** The entry's write, discard, flush or mark was applied to the replay device. */
    default void replayed(LogEntry entry) {
    }

    /** The entry lies outside the chosen sector range and was passed over. */
    default void skipped(LogEntry entry) {
    }

    /** Called after every entry: {@code done} of {@code total} entries of the log are behind the cursor. */
    default void progress(long done, long total) {
    }
}
