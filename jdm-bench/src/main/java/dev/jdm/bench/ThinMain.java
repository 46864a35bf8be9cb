package dev.jdm.bench;

import dev.jdm.core.engine.MappedDevice;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.nio.ByteBuffer;
import java.util.Map;
import java.util.TreeMap;

/**
 * Runs {@link ThinBenchmark} (JMH options are passed through) and prints thin as ratios of linear, in
 * the same run: first writes (goal >= 0.5), overwrites and reads of provisioned blocks (goal >= 0.9);
 * create_snap times for 16 Ki and 1 Mi mappings (goal: flat); then, in this JVM, the heap a pool holds
 * after every mapping of its origin was read once, for both sizes (goal: bounded by the block cache).
 */
public final class ThinMain {
    private ThinMain() {
    }

    public static void main(String[] args) throws Exception {
        Options options = new OptionsBuilder()
                .parent(new CommandLineOptions(args))
                .include(ThinBenchmark.class.getName())
                .jvmArgsAppend("--enable-native-access=ALL-UNNAMED")
                .build();
        // "method io target" or "createSnapshot mappings" -> score; "method io target" -> operations per CPU second
        Map<String, Double> scores = new TreeMap<>();
        Map<String, Double> perCpuSecond = new TreeMap<>();
        for (RunResult r : new Runner(options).run()) {
            String benchmark = r.getParams().getBenchmark();
            String method = benchmark.substring(benchmark.lastIndexOf('.') + 1);
            String key = method.equals("createSnapshot") ? method + " " + r.getParams().getParam("mappings")
                    : method + " " + r.getParams().getParam("io") + " " + r.getParams().getParam("target");
            scores.put(key, r.getPrimaryResult().getScore());
            long ops = 0;
            long cpuNanos = 0;
            for (var b : r.getBenchmarkResults()) {
                for (IterationResult i : b.getIterationResults()) {
                    var secondary = i.getSecondaryResults();
                    if (secondary.containsKey("ops") && secondary.containsKey("cpuNanos")) {
                        ops += Math.round(secondary.get("ops").getScore());
                        cpuNanos += Math.round(secondary.get("cpuNanos").getScore());
                    }
                }
            }
            if (cpuNanos > 0) {
                perCpuSecond.put(key, ops * 1e9 / cpuNanos);
            }
        }
        System.out.println();
        System.out.println("| operation | io | linear | thin | thin/linear | linear (ops per CPU s) | thin (ops per CPU s) | thin/linear per CPU s | goal |");
        System.out.println("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (String io : new String[] {"4096", "65536"}) {
            // first writes are timed per batch of ThinBenchmark.FIRST_WRITES (lower is better)
            Double linear = scores.get("firstWrite " + io + " linear");
            Double thin = scores.get("firstWrite " + io + " thin");
            if (linear != null && thin != null) {
                System.out.printf("| first write (ms per %d new blocks) | %s | %.1f | %.1f | %.3f | %s | >= 0.5 |%n",
                        ThinBenchmark.FIRST_WRITES, io, linear, thin, linear / thin, cpuColumns(perCpuSecond, "firstWrite " + io));
            }
            for (String op : new String[] {"overwrite", "read"}) {
                linear = scores.get(op + " " + io + " linear");
                thin = scores.get(op + " " + io + " thin");
                if (linear != null && thin != null) {
                    System.out.printf("| %s (ops/s) | %s | %,.0f | %,.0f | %.3f | %s | >= 0.9 |%n", op, io, linear, thin, thin / linear,
                            cpuColumns(perCpuSecond, op + " " + io));
                }
            }
        }
        Double small = scores.get("createSnapshot 16384");
        Double large = scores.get("createSnapshot 1048576");
        if (small != null && large != null) {
            System.out.println();
            System.out.printf("create_snap + commit: %.1f us with 16 Ki mappings (1 GiB), %.1f us with 1 Mi mappings (1 TiB): ratio %.2f (goal: flat)%n",
                    small, large, large / small);
        }
        if (!"false".equals(System.getenv("JDM_BENCH_HEAP"))) {
            System.out.println();
            for (int mappings : new int[] {16384, 1 << 20}) {
                heap(mappings);
            }
        }
    }

    private static String cpuColumns(Map<String, Double> perCpuSecond, String key) {
        Double linear = perCpuSecond.get(key + " linear");
        Double thin = perCpuSecond.get(key + " thin");
        return linear == null || thin == null ? "- | - | -" : String.format("%,.0f | %,.0f | %.3f", linear, thin, thin / linear);
    }

    /** The heap the pool keeps once every mapped block of a {@code mappings}-block origin was read. */
    private static void heap(int mappings) throws Exception {
        long before = Heap.used();
        ThinBenchmark.Origin origin = new ThinBenchmark.Origin();
        origin.mappings = mappings;
        origin.setUp();
        try {
            MappedDevice dev = origin.dm.device("origin");
            long virtualBlocks = mappings <= 16384 ? 16384 : 16L << 20;
            int runs = 1024;
            long stride = virtualBlocks / runs;
            ByteBuffer sector = ByteBuffer.allocateDirect(512);
            for (int r = 0; r < runs; r++) {
                for (int k = 0; k < mappings / runs; k++) {
                    dev.read((r * stride + k) * ThinBenchmark.BLOCK_BYTES, sector.clear());
                }
            }
            long after = Heap.used();
            System.out.printf("heap held by the pool after reading all %,d mappings: %.1f MiB%n", mappings, (after - before) / 1048576.0);
        } finally {
            origin.tearDown();
        }
    }
}
