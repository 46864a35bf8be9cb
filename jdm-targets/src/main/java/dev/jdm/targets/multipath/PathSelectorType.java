package dev.jdm.targets.multipath;

import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.TargetException;

import java.util.function.LongSupplier;

/**
 * A kind of path selector (the kernel's {@code struct path_selector_type}), found by name in {@link PathSelectors}.
 *
 * @param name        the name tables give ({@code round-robin})
 * @param version     the module version the kernel logs when it loads the selector
 * @param tableArgs   how many words each path prints in the table
 * @param infoArgs    how many words each path prints in the status
 * @param constructor the kernel's {@code create}
 */
public record PathSelectorType(String name, String version, int tableArgs, int infoArgs, Constructor constructor) {

    /** Builds a group's selector from its selector arguments. */
    @FunctionalInterface
    public interface Constructor {
        PathSelector create(Args selectorArgs, LongSupplier clock) throws TargetException;
    }

    /**
     * A selector for one group, from the group's selector arguments; {@code clock} gives monotonic nanoseconds
     * (the kernel's sched_clock) to selectors that time I/O.
     */
    public PathSelector create(Args selectorArgs, LongSupplier clock) throws TargetException {
        return constructor.create(selectorArgs, clock);
    }
}
