package dev.jdm.targets.multipath;

import dev.jdm.core.spi.Args;

import java.util.ArrayList;
import java.util.List;

/**
 * {@code queue-length} (dm-ps-queue-length.c 0.2.0): the valid path with the fewest I/Os in flight, the first
 * in list order on a tie (and at once a path with none). Per path {@code [repeat_count]} (above 1 taken as 1).
 * Status per path: the I/Os in flight.
 */
final class QueueLengthSelector extends ListSelector {

    static final PathSelectorType TYPE = new PathSelectorType("queue-length", "0.2.0", 1, 1,
            (selectorArgs, clock) -> new QueueLengthSelector());

    private final List<Long> inFlight = new ArrayList<>();

    private QueueLengthSelector() {
        super("queue-length");
    }

    @Override
    protected void addPathDetails(int path, Args rest) {
        inFlight.add(0L);
    }

    @Override
    protected int best(List<Integer> valid, long bytes) {
        int best = 0;
        for (int i = 0; i < valid.size() && inFlight.get(valid.get(best)) != 0; i++) {
            if (inFlight.get(valid.get(i)) < inFlight.get(valid.get(best))) {
                best = i;
            }
        }
        return best;
    }

    @Override
    public synchronized void startIo(int path, long bytes) {
        inFlight.set(path, inFlight.get(path) + 1);
    }

    @Override
    public synchronized void endIo(int path, long bytes, long startNanos) {
        inFlight.set(path, inFlight.get(path) - 1);
    }

    @Override
    public synchronized String pathStatus(int path, boolean table) {
        return (table ? repeatCount(path) : inFlight.get(path)) + " ";
    }
}
