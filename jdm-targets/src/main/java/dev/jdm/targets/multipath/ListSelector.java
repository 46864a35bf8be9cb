package dev.jdm.targets.multipath;

import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.TargetException;

import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;

/**
 * What the four selectors share: the valid paths in order of preference (the kernel's {@code valid_paths}
 * list), the chosen path moving to the end of it, and the optional {@code repeat_count} path argument.
 */
abstract class ListSelector implements PathSelector {
    private final String name;
    private final List<Integer> valid = new ArrayList<>();
    private final List<Long> repeatCounts = new ArrayList<>();

    ListSelector(String name) {
        this.name = name;
    }

    /** Index into {@code valid} (never empty) of the path for an I/O of {@code bytes}. */
    protected abstract int best(List<Integer> valid, long bytes);

    /** The most path arguments this selector takes. */
    protected int maxPathArgs() {
        return 1;
    }

    /** Whether repeat counts above 1 are deprecated and taken as 1 (all but historical-service-time). */
    protected boolean repeatCountAtMostOne() {
        return true;
    }

    /** Reads the arguments after repeat_count; the path is number {@code path}. */
    protected void addPathDetails(int path, Args rest) throws TargetException {
    }

    /** Round-robin puts a reinstated path first (list_move); the others put it last (list_move_tail). */
    protected boolean reinstateFirst() {
        return false;
    }

    protected final String error(String what) {
        return name + " ps: " + what;
    }

    @Override
    public final synchronized void addPath(Args args) throws TargetException {
        if (args.remaining() > maxPathArgs()) {
            throw args.error(args.position() + maxPathArgs(), error("incorrect number of arguments") + ": at most "
                    + maxPathArgs() + " per path");
        }
        long repeatCount = args.hasMore() ? u32(args, error("invalid repeat count")) : 1;
        if (repeatCountAtMostOne() && repeatCount > 1) {
            repeatCount = 1; // the kernel warns "repeat_count > 1 is deprecated, using 1 instead"
        }
        int path = repeatCounts.size();
        addPathDetails(path, args);
        repeatCounts.add(repeatCount);
        valid.add(path);
    }

    /** The next argument as the kernel's {@code sscanf("%u%c")}, or the refusal {@code text}. */
    static long u32(Args args, String text) throws TargetException {
        Args.Arg arg = args.next(text);
        OptionalLong value = Args.Rule.SCANF_U32.parse(arg.text());
        if (value.isEmpty()) {
            throw arg.error(text);
        }
        return value.getAsLong();
    }

    protected final long repeatCount(int path) {
        return repeatCounts.get(path);
    }

    protected final synchronized int validCount() {
        return valid.size();
    }

    @Override
    public synchronized void failPath(int path) {
        valid.remove(Integer.valueOf(path));
    }

    @Override
    public synchronized void reinstatePath(int path) {
        if (!valid.contains(path)) {
            valid.add(reinstateFirst() ? 0 : valid.size(), path);
        }
    }

    @Override
    public synchronized int selectPath(long bytes) {
        if (valid.isEmpty()) {
            return -1;
        }
        int path = valid.remove(best(valid, bytes));
        valid.add(path); // the one just used is the least preferred on a tie next time
        return path;
    }
}
