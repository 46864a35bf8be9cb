package dev.jdm.targets.logwrites;

import dev.jdm.core.io.BlockDevice;

import java.io.IOException;

/**
 * Runs at each check point of a replay (every n entries, or each FLUSH or FUA entry), after the
 * replay device has been flushed: the place to run a filesystem checker on it.
 */
@FunctionalInterface
public interface CheckPoint {

    /** Returns false to stop the replay here (replay-log stops when fsck fails). */
    boolean check(LogEntry entry, BlockDevice replayed) throws IOException;
}
