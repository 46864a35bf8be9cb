package dev.jdm.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.List;
import java.util.stream.IntStream;

/**
 * A quick in-process profile of thin's 4 KiB hot path: random reads and overwrites of provisioned blocks,
 * and first writes into new blocks, on thin and on linear (the {@link ThinBenchmark.Io} setup), alternating
 * the two in rounds so both see the same load, and prints operations per CPU second of this thread and
 * thin/linear. Run it under JFR to see where thin's extra time goes. Arguments: [rounds] [operations per
 * round of reads and overwrites] [only this kind: read, overwrite or first-write, for a profiler] [io size, 4096 by default]; a round has
 * {@link ThinBenchmark#FIRST_WRITES} first writes.
 */
public final class ThinHotPathMain {
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
    private static final String[] KINDS = {"read", "overwrite", "first write"};

    private ThinHotPathMain() {
    }

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        int ops = args.length > 1 ? Integer.parseInt(args[1]) : 200_000;
        String only = args.length > 2 && !args[2].equals("all") ? args[2].replace('-', ' ') : null;
        List<Integer> kinds = IntStream.range(0, KINDS.length).filter(k -> only == null || KINDS[k].equals(only)).boxed().toList();
        int io = args.length > 3 ? Integer.parseInt(args[3]) : 4096;
        ThinBenchmark.Io linear = open("linear", io);
        ThinBenchmark.Io thin = open("thin", io);
        try {
            long[][] cpu = new long[KINDS.length][2];
            for (int r = 0; r < rounds; r++) {
                boolean measured = r > 0;
                for (int kind : kinds) {
                    for (int t = 0; t < 2; t++) {
                        long nanos = run(t == 0 ? linear : thin, kind, ops);
                        if (measured) {
                            cpu[kind][t] += nanos;
                        }
                    }
                }
            }
            for (int kind : kinds) {
                long total = (long) (rounds - 1) * (kind == 2 ? ThinBenchmark.FIRST_WRITES : ops);
                double l = total * 1e9 / cpu[kind][0];
                double t = total * 1e9 / cpu[kind][1];
                System.out.printf("%-11s %d: linear %,.0f  thin %,.0f ops per CPU s  thin/linear %.3f%n",
                        KINDS[kind], io, l, t, t / l);
            }
        } finally {
            linear.tearDown();
            thin.tearDown();
        }
    }

    private static ThinBenchmark.Io open(String target, int io) throws Exception {
        ThinBenchmark.Io s = new ThinBenchmark.Io();
        s.target = target;
        s.io = io;
        s.setUp();
        return s;
    }

    private static long run(ThinBenchmark.Io s, int kind, int ops) throws Exception {
        if (kind == 2) {
            s.freshDevice();
            long start = THREADS.getCurrentThreadCpuTime();
            s.writeFirstBatch();
            return THREADS.getCurrentThreadCpuTime() - start;
        }
        long start = THREADS.getCurrentThreadCpuTime();
        for (int i = 0; i < ops; i++) {
            if (kind == 1) {
                s.provisioned.write(s.nextOffset(), s.buffer.clear(), false);
            } else {
                s.provisioned.read(s.nextOffset(), s.buffer.clear());
            }
        }
        return THREADS.getCurrentThreadCpuTime() - start;
    }
}
