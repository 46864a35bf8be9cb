package dev.jdm.targets.multipath;

import java.util.List;

/**
 * {@code round-robin} (dm-ps-round-robin.c 1.2.0): each I/O goes to the next valid path in turn; a reinstated
 * path is next. Per path {@code [repeat_count]}, where anything above 1 is taken as 1, as the kernel does.
 */
final class RoundRobinSelector extends ListSelector {

    /** The kernel's rr_create ignores its arguments. */
    static final PathSelectorType TYPE = new PathSelectorType("round-robin", "1.2.0", 1, 0,
            (selectorArgs, clock) -> new RoundRobinSelector());

    private RoundRobinSelector() {
        super("round-robin");
    }

    @Override
    protected int best(List<Integer> valid, long bytes) {
        return 0;
    }

    @Override
    protected boolean reinstateFirst() {
        return true;
    }

    @Override
    public String pathStatus(int path, boolean table) {
        return table ? repeatCount(path) + " " : "";
    }
}
