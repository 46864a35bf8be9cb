package dev.jdm.targets.logwrites;

import java.util.function.Consumer;

/** Hears what a replay does, for verbose output and progress bars. Every method is optional. */
public interface ReplayListener {

    /**
     * replay-log's {@code -v} ({@code withSkipped} false) and {@code -vv} (true): one line per entry,
     * {@code replaying 3@9: sector 8, size 4096, flags 0x0(NONE)} or {@code skipping ...}.
     */
    static ReplayListener verbose(Consumer<String> out, boolean withSkipped) {
        return new ReplayListener() {
            @Override
            public void replayed(LogEntry entry) {
                out.accept("replaying " + entry.describe());
            }

            @Override
            public void skipped(LogEntry entry) {
                if (withSkipped) {
                    out.accept("skipping " + entry.describe());
                }
            }
        };
    }

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
