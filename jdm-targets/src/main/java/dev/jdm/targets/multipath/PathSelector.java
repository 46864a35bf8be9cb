package dev.jdm.targets.multipath;

import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.TargetException;

/**
 * One priority group's path selector (the kernel's {@code struct path_selector} with its type's operations):
 * it picks the path for each I/O among the group's valid paths. Paths are numbered 0, 1, ... in the order
 * {@link #addPath} added them. Calls may come from many I/O threads at once; implementations lock themselves.
 */
public interface PathSelector {

    /**
     * The kernel's {@code add_path}: the path's own arguments (what follows its device in the table); refusals
     * start with the kernel's text ({@code round-robin ps: invalid repeat count}).
     */
    void addPath(Args pathArgs) throws TargetException;

    /** Takes a path out of the choice (the multipath target failed it). */
    void failPath(int path);

    /** Puts a failed path back into the choice. */
    void reinstatePath(int path);

    /** The path for an I/O of {@code bytes} bytes (0 for a flush), or -1 when the group has no valid path. */
    int selectPath(long bytes);

    /** The I/O of {@code bytes} bytes chosen by {@link #selectPath} starts on {@code path}. */
    default void startIo(int path, long bytes) {
    }

    /** That I/O ended (well or not); it started at {@code startNanos} on the selector's clock. */
    default void endIo(int path, long bytes, long startNanos) {
    }

    /** The group's part of a status or table line, trailing space included: {@code "0 "} for most selectors. */
    default String groupStatus() {
        return "0 ";
    }

    /**
     * A path's part of the status ({@code table} false, {@link PathSelectorType#infoArgs} words) or of the table
     * ({@link PathSelectorType#tableArgs} words), each word followed by a space.
     */
    String pathStatus(int path, boolean table);
}
