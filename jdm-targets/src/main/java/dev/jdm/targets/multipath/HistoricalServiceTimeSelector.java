package dev.jdm.targets.multipath;

import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.TargetException;

import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * {@code historical-service-time} (dm-ps-historical-service-time.c 0.1.1): keeps per path a time-weighted
 * moving average of how long its I/Os took, and sends each I/O where (1 + in flight) x average is least.
 * Selector arguments {@code [base_weight [threshold_multiplier]]}: the weight of the history per ~16 ms bucket
 * in 1/1024 (below 1024, default 972 = 0.95), and how many times slower a path must be to count as slower
 * (0 or 1: any difference counts). A path that has finished nothing for a while goes stale and gets one probe
 * I/O when idle. All arithmetic is the kernel's unsigned 64-bit fixed point, so the status numbers match.
 * Status per path: the average (fixed point, x1024 ns), the I/Os in flight, and when it goes stale (ns).
 */
final class HistoricalServiceTimeSelector extends ListSelector {
    private static final int FIXED_SHIFT = 10;
    private static final long FIXED_1 = 1L << FIXED_SHIFT;
    private static final long FIXED_MAX = -1L >>> FIXED_SHIFT;
    private static final long DEFAULT_BASE_WEIGHT = 972;
    private static final long MAX_IN_FLIGHT = FIXED_1;
    /** Time buckets of 2^24 ns (~16 ms); the weight of the history falls per bucket. */
    private static final int BUCKET_SHIFT = 24;
    private static final int WEIGHT_COUNT = 64;

    static final PathSelectorType TYPE = new PathSelectorType("historical-service-time", "0.1.1", 1, 3,
            HistoricalServiceTimeSelector::create);

    /** The kernel refuses bad arguments with only "path selector constructor failed"; the detail is ours. */
    private static PathSelector create(Args args, LongSupplier clock) throws TargetException {
        String failed = "path selector constructor failed: historical-service-time takes [base_weight [threshold_multiplier]]";
        if (args.remaining() > 2) {
            throw args.error(args.position() + 2, failed);
        }
        long baseWeight = DEFAULT_BASE_WEIGHT;
        if (args.hasMore()) {
            baseWeight = ListSelector.u32(args, failed);
            if (baseWeight >= FIXED_1) {
                throw args.error(failed + ", base_weight below " + FIXED_1);
            }
        }
        long threshold = args.hasMore() ? ListSelector.u32(args, failed) : 0;
        return new HistoricalServiceTimeSelector(baseWeight, threshold, clock);
    }

    private final long[] weights = new long[WEIGHT_COUNT];
    private final long thresholdMultiplier;
    private final LongSupplier clock;

    /** Per path: the average service time (fixed point), I/Os outstanding, when it goes stale, its last finish. */
    private final List<long[]> paths = new ArrayList<>();
    private static final int AVERAGE = 0;
    private static final int OUTSTANDING = 1;
    private static final int STALE_AFTER = 2;
    private static final int LAST_FINISH = 3;

    private HistoricalServiceTimeSelector(long baseWeight, long thresholdMultiplier, LongSupplier clock) {
        super("historical-service-time");
        for (int i = 0; i < WEIGHT_COUNT - 1; i++) {
            weights[i] = fixedPower(baseWeight, i + 1);
        }
        weights[WEIGHT_COUNT - 1] = 0; // past ~1 s the history no longer counts
        this.thresholdMultiplier = thresholdMultiplier;
        this.clock = clock;
    }

    /** x^n in fixed point, rounding at each step as the kernel's fixed_power (kernel/sched/loadavg.c). */
    static long fixedPower(long x, int n) {
        long result = FIXED_1;
        while (n != 0) {
            if ((n & 1) != 0) {
                result = (result * x + (FIXED_1 >> 1)) >>> FIXED_SHIFT;
            }
            n >>= 1;
            if (n != 0) {
                x = (x * x + (FIXED_1 >> 1)) >>> FIXED_SHIFT;
            }
        }
        return result;
    }

    /** last x weight + next x (1 - weight), rounded: the kernel's fixed_ema. */
    static long fixedEma(long last, long next, long weight) {
        return (last * weight + next * (FIXED_1 - weight) + (FIXED_1 >> 1)) >>> FIXED_SHIFT;
    }

    @Override
    protected boolean repeatCountAtMostOne() {
        return false;
    }

    @Override
    protected void addPathDetails(int path, Args rest) {
        paths.add(new long[] {FIXED_1, 0, 0, 0});
    }

    @Override
    protected int best(List<Integer> valid, long bytes) {
        long now = clock.getAsLong();
        int best = 0;
        for (int i = 1; i < valid.size(); i++) {
            if (compare(paths.get(valid.get(i)), paths.get(valid.get(best)), now) < 0) {
                best = i;
            }
        }
        return best;
    }

    /** Below 0 when path 1 is the better choice, above 0 when path 2 is; the kernel's hst_compare. */
    private long compare(long[] path1, long[] path2, long now) {
        long hst1 = path1[AVERAGE];
        long hst2 = path2[AVERAGE];
        long out1 = path1[OUTSTANDING];
        long out2 = path2[OUTSTANDING];
        long stale1 = path1[STALE_AFTER];
        long stale2 = path2[STALE_AFTER];
        boolean overThreshold = Long.compareUnsigned(hst1, hst2) > 0
                ? Long.compareUnsigned(hst1, thresholdMultiplier * hst2) > 0
                : Long.compareUnsigned(hst2, thresholdMultiplier * hst1) > 0;
        if (!overThreshold) {
            return out1 - out2; // too similar to tell apart: the less loaded
        }
        boolean stalePath1 = Long.compareUnsigned(stale1, now) < 0;
        boolean stalePath2 = Long.compareUnsigned(stale2, now) < 0;
        // an idle stale path gets a probe; of two idle paths, the one stale longest
        if ((out1 == 0 && stalePath1) || (out2 == 0 && stalePath2) || (out1 == 0 && out2 == 0)) {
            return (out2 == 0 ? stale1 : 0) - (out1 == 0 ? stale2 : 0);
        }
        boolean path2Better;
        if (out1 == out2) {
            path2Better = Long.compareUnsigned(hst1, hst2) > 0;
        } else {
            if (Long.compareUnsigned(out1, MAX_IN_FLIGHT) >= 0 || Long.compareUnsigned(out2, MAX_IN_FLIGHT) >= 0) {
                hst1 >>>= FIXED_SHIFT;
                hst2 >>>= FIXED_SHIFT;
            }
            path2Better = Long.compareUnsigned((1 + out1) * hst1, (1 + out2) * hst2) > 0;
        }
        // a stale winner gets no more than its share
        if (path2Better) {
            return stalePath2 ? out1 - out2 : 1;
        }
        return stalePath1 ? out1 - out2 : -1;
    }

    @Override
    public synchronized void startIo(int path, long bytes) {
        paths.get(path)[OUTSTANDING]++;
    }

    @Override
    public synchronized void endIo(int path, long bytes, long startNanos) {
        long[] p = paths.get(path);
        long now = clock.getAsLong();
        // an I/O that started before the previous one finished is timed from that finish, as if sent after it
        long start = p[LAST_FINISH] - startNanos > 0 ? p[LAST_FINISH] : startNanos;
        p[LAST_FINISH] = now;
        long serviceTime = now - start < 0 ? 0 : now - start;
        p[OUTSTANDING]--;
        long sample = Long.compareUnsigned(serviceTime, FIXED_MAX >>> FIXED_SHIFT) > 0 ? FIXED_MAX : serviceTime * FIXED_1;
        int bucket = (int) Math.min(serviceTime >>> BUCKET_SHIFT, WEIGHT_COUNT - 1);
        p[AVERAGE] = fixedEma(p[AVERAGE], sample, weights[bucket]);
        // fresh again: stale once it has finished nothing for (valid paths x average)
        p[STALE_AFTER] = p[LAST_FINISH] + validCount() * (p[AVERAGE] >>> FIXED_SHIFT);
    }

    @Override
    public String groupStatus() {
        return "2 " + weights[0] + " " + thresholdMultiplier + " ";
    }

    @Override
    public synchronized String pathStatus(int path, boolean table) {
        if (table) {
            return "0 ";
        }
        long[] p = paths.get(path);
        return Long.toUnsignedString(p[AVERAGE]) + " " + Long.toUnsignedString(p[OUTSTANDING]) + " "
                + Long.toUnsignedString(p[STALE_AFTER]) + " ";
    }
}
