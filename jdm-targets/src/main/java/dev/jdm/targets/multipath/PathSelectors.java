package dev.jdm.targets.multipath;

import java.util.List;
import java.util.Optional;
import java.util.function.LongSupplier;

/** The path selectors jdm has (the kernel's dm_get_path_selector, without module loading). */
public final class PathSelectors {
    private static final List<PathSelectorType> TYPES = List.of(RoundRobinSelector.TYPE,
            QueueLengthSelector.TYPE, ServiceTimeSelector.TYPE, HistoricalServiceTimeSelector.TYPE);

    private static final long ORIGIN = System.nanoTime() - 1;

    /** Nanoseconds since the class loaded, always above 0 (selectors compare with 0 as "never"), as sched_clock. */
    public static final LongSupplier CLOCK = () -> System.nanoTime() - ORIGIN;

    private PathSelectors() {
    }

    /** The selector of that exact name (the kernel compares names with strcmp). */
    public static Optional<PathSelectorType> find(String name) {
        return TYPES.stream().filter(t -> t.name().equals(name)).findFirst();
    }

    public static List<PathSelectorType> all() {
        return TYPES;
    }
}
