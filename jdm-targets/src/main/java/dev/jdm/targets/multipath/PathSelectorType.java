package dev.jdm.targets.multipath;

import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.TargetException;

import java.util.function.LongSupplier;

/** A kind of path selector (the kernel's {@code struct path_selector_type}), found by name in {@link PathSelectors}. */
public interface PathSelectorType {

    /** The name tables give ({@code round-robin}). */
    String name();

    /** The module version the kernel logs when it loads the selector. */
    String version();

    /** How many words each path prints in the table. */
    int tableArgs();

    /** How many words each path prints in the status. */
    int infoArgs();

    /**
     * The kernel's {@code create} with the group's selector arguments; {@code clock} gives monotonic nanoseconds
     * (the kernel's sched_clock) to selectors that time I/O.
     */
    PathSelector create(Args selectorArgs, LongSupplier clock) throws TargetException;
}
