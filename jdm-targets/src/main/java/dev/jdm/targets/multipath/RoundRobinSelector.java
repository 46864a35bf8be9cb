package dev.jdm.targets.multipath;

import dev.jdm.core.spi.Args;

import java.util.List;
import java.util.function.LongSupplier;

/**
 * {@code round-robin} (dm-ps-round-robin.c 1.2.0): each I/O goes to the next valid path in turn; a reinstated
 * path is next. Per path {@code [repeat_count]}, where anything above 1 is taken as 1, as the kernel does.
 */
final class RoundRobinSelector extends ListSelector {

    static final class Type implements PathSelectorType {
        @Override
        public String name() {
            return "round-robin";
        }

        @Override
        public String version() {
            return "1.2.0";
        }

        @Override
        public int tableArgs() {
            return 1;
        }

        @Override
        public int infoArgs() {
            return 0;
        }

        /** The kernel's rr_create ignores its arguments. */
        @Override
        public PathSelector create(Args selectorArgs, LongSupplier clock) {
            return new RoundRobinSelector();
        }
    }

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
