package dev.jdm.bench;

import com.sun.management.OperatingSystemMXBean;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The tables of {@link VerityReadBenchmark} measured in alternation: every round runs each table for
 * a short slice of time, one right after the other, and the ratio to linear is taken within the round.
 * On a machine shared with other people's builds the load moves by several times within a minute, so
 * JMH's trials (one table after the other, seconds apart) compare different machines; adjacent slices
 * see nearly the same one. Prints the median ops/s per table and the median and spread of the
 * per-round ratios, as Markdown; then the process CPU time per operation of each table (all threads:
 * the reader, verity's slice threads, and the JVM's own), which tells what each table needs from the
 * cores whatever share of them it got.
 *
 * <p>Arguments: {@code [rounds] [slice milliseconds] [storages] [operations]}, default 24 rounds of 250 ms
 * (the first 4 rounds warm up and are not counted), storages {@code disk,memory}, operations
 * {@code randomRead4K,sequentialRead1M}.
 */
public final class VerityInterleavedMain {
    private static final String[] TARGETS = {"linear", "verity", "verity-once", "verity-cached"};
    private static final String[] STORAGES = {"disk", "memory"};
    private static final int WARM_UP_ROUNDS = 4;
    private static final OperatingSystemMXBean OS = (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

    private VerityInterleavedMain() {
    }

    @FunctionalInterface
    private interface Operation {
        void run(VerityReadBenchmark state) throws IOException;
    }

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 24;
        long sliceNanos = (args.length > 1 ? Long.parseLong(args[1]) : 250) * 1_000_000;
        Map<String, Operation> operations = new LinkedHashMap<>();
        operations.put("randomRead4K", VerityReadBenchmark::randomRead4K);
        operations.put("sequentialRead1M", VerityReadBenchmark::sequentialRead1M);
        List<String> storages = args.length > 2 ? List.of(args[2].split(",")) : List.of(STORAGES);
        if (args.length > 3) {
            operations.keySet().retainAll(List.of(args[3].split(",")));
        }

        List<String> rows = new ArrayList<>();
        List<String> cpuRows = new ArrayList<>();
        for (String storage : storages) {
            VerityReadBenchmark[] states = new VerityReadBenchmark[TARGETS.length];
            try {
                for (int t = 0; t < TARGETS.length; t++) {
                    states[t] = new VerityReadBenchmark();
                    states[t].target = TARGETS[t];
                    states[t].storage = storage;
                    states[t].setUp();
                }
                for (var op : operations.entrySet()) {
                    double[][] rates = new double[TARGETS.length][rounds - WARM_UP_ROUNDS];
                    long[] ops = new long[TARGETS.length], cpuNanos = new long[TARGETS.length];
                    for (int round = 0; round < rounds; round++) {
                        for (int k = 0; k < TARGETS.length; k++) {
                            int t = (k + round) % TARGETS.length; // each table goes first as often as the others
                            Slice slice = run(states[t], op.getValue(), sliceNanos);
                            if (round >= WARM_UP_ROUNDS) {
                                rates[t][round - WARM_UP_ROUNDS] = slice.ops * 1e9 / slice.nanos;
                                ops[t] += slice.ops;
                                cpuNanos[t] += slice.cpuNanos;
                            }
                        }
                    }
                    rows.add(row(storage, op.getKey(), rates));
                    StringBuilder cpu = new StringBuilder("| " + storage + " | " + op.getKey());
                    for (int t = 0; t < TARGETS.length; t++) {
                        cpu.append(String.format(" | %.1f", cpuNanos[t] / 1e3 / ops[t]));
                    }
                    cpuRows.add(cpu.append(" |").toString());
                }
            } finally {
                for (VerityReadBenchmark state : states) {
                    if (state != null) {
                        state.tearDown();
                    }
                }
            }
        }
        System.out.println();
        System.out.printf("%d rounds of %d ms per table (%d warm-up rounds not counted); ratio = median of per-round ratios [min–max]%n%n",
                rounds - WARM_UP_ROUNDS, sliceNanos / 1_000_000, WARM_UP_ROUNDS);
        System.out.println("| storage | operation | linear (ops/s) | verity (ops/s) | **verity/linear** | check_at_most_once (ops/s) "
                + "| once/linear | data cache ½ image (ops/s) | cached/linear |");
        System.out.println("|---|---|---:|---:|---:|---:|---:|---:|---:|");
        rows.forEach(System.out::println);
        System.out.println();
        System.out.println("| CPU µs per operation (process) | operation | linear | verity | check_at_most_once | data cache ½ image |");
        System.out.println("|---|---|---:|---:|---:|---:|");
        cpuRows.forEach(System.out::println);
    }

    private record Slice(long ops, long nanos, long cpuNanos) {
    }

    private static Slice run(VerityReadBenchmark state, Operation op, long sliceNanos) throws IOException {
        long cpuStart = OS.getProcessCpuTime();
        long start = System.nanoTime(), now;
        long ops = 0;
        do {
            op.run(state);
            ops++;
            now = System.nanoTime();
        } while (now - start < sliceNanos);
        return new Slice(ops, now - start, OS.getProcessCpuTime() - cpuStart);
    }

    private static String row(String storage, String operation, double[][] rates) {
        StringBuilder sb = new StringBuilder(String.format("| %s | %s | %.0f", storage, operation, median(rates[0])));
        for (int t = 1; t < TARGETS.length; t++) {
            double[] ratios = new double[rates[t].length];
            for (int i = 0; i < ratios.length; i++) {
                ratios[i] = rates[t][i] / rates[0][i];
            }
            Arrays.sort(ratios);
            String ratio = String.format("%.2f [%.2f–%.2f]", median(ratios), ratios[0], ratios[ratios.length - 1]);
            sb.append(String.format(" | %.0f | %s", median(rates[t]), t == 1 ? "**" + ratio + "**" : ratio));
        }
        return sb.append(" |").toString();
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}
