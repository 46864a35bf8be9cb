package dev.jdm.targets.multipath;

import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.TargetException;

import java.util.ArrayList;
import java.util.List;

/**
 * {@code service-time} (dm-ps-service-time.c 0.3.0): the valid path that would finish the I/O first, estimated
 * as (bytes in flight + the I/O's bytes) / relative throughput. Per path {@code [repeat_count
 * [relative_throughput]]}, throughput 0..100, default 1; 0 means "only when no path with a throughput is
 * left". Status per path: bytes in flight and the throughput.
 */
final class ServiceTimeSelector extends ListSelector {
    private static final long MAX_RELATIVE_THROUGHPUT = 100;
    /** Sizes from here on are shifted down before multiplying by a throughput, as the kernel does against overflow. */
    private static final int THROUGHPUT_SHIFT = 7;
    private static final long MAX_IN_FLIGHT = -1L >>> THROUGHPUT_SHIFT;

    static final PathSelectorType TYPE = new PathSelectorType("service-time", "0.3.0", 2, 2,
            (selectorArgs, clock) -> new ServiceTimeSelector());

    private final List<Long> inFlightBytes = new ArrayList<>();
    private final List<Long> throughputs = new ArrayList<>();

    private ServiceTimeSelector() {
        super("service-time");
    }

    @Override
    protected int maxPathArgs() {
        return 2;
    }

    @Override
    protected void addPathDetails(int path, Args rest) throws TargetException {
        long throughput = 1;
        if (rest.hasMore()) {
            throughput = u32(rest, error("invalid relative_throughput value"));
            if (throughput > MAX_RELATIVE_THROUGHPUT) {
                throw rest.error(error("invalid relative_throughput value") + ": 0 to " + MAX_RELATIVE_THROUGHPUT);
            }
        }
        inFlightBytes.add(0L);
        throughputs.add(throughput);
    }

    @Override
    protected int best(List<Integer> valid, long bytes) {
        int best = 0;
        for (int i = 1; i < valid.size(); i++) {
            if (compareLoad(valid.get(i), valid.get(best), bytes) < 0) {
                best = i;
            }
        }
        return best;
    }

    /** Below 0 when path 1 would serve the I/O sooner, above 0 when path 2 would; the kernel's st_compare_load. */
    private int compareLoad(int path1, int path2, long incoming) {
        long size1 = inFlightBytes.get(path1);
        long size2 = inFlightBytes.get(path2);
        long throughput1 = throughputs.get(path1);
        long throughput2 = throughputs.get(path2);
        if (throughput1 == throughput2) {
            return Long.compareUnsigned(size1, size2); // the same throughput: the less loaded
        }
        if (size1 == size2 || throughput1 == 0 || throughput2 == 0) {
            return Long.compare(throughput2, throughput1); // the same load, or one without throughput: the faster
        }
        size1 += incoming;
        size2 += incoming;
        if (Long.compareUnsigned(size1, MAX_IN_FLIGHT) >= 0 || Long.compareUnsigned(size2, MAX_IN_FLIGHT) >= 0) {
            size1 >>>= THROUGHPUT_SHIFT;
            size2 >>>= THROUGHPUT_SHIFT;
        }
        // size1 / throughput1 against size2 / throughput2, multiplied out
        int byTime = Long.compareUnsigned(size1 * throughput2, size2 * throughput1);
        return byTime != 0 ? byTime : Long.compare(throughput2, throughput1);
    }

    @Override
    public synchronized void startIo(int path, long bytes) {
        inFlightBytes.set(path, inFlightBytes.get(path) + bytes);
    }

    @Override
    public synchronized void endIo(int path, long bytes, long startNanos) {
        inFlightBytes.set(path, inFlightBytes.get(path) - bytes);
    }

    @Override
    public synchronized String pathStatus(int path, boolean table) {
        return (table ? repeatCount(path) : inFlightBytes.get(path)) + " " + throughputs.get(path) + " ";
    }
}
