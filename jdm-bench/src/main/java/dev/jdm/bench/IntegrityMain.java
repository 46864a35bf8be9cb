package dev.jdm.bench;

import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Runs {@link IntegrityBenchmark} in rounds (JMH options are passed through; {@code JDM_BENCH_ROUNDS},
 * default 3) and prints a Markdown table: throughput through linear and through integrity J and D,
 * with the ratios to linear. Each ratio is the median of the per-round ratios, so a machine whose
 * load changes during the run skews one round rather than the comparison.
 */
public final class IntegrityMain {
    private static final String[] TARGETS = {"linear", "integrity-J", "integrity-D"};

    private IntegrityMain() {
    }

    public static void main(String[] args) throws Exception {
        int rounds = Integer.parseInt(System.getenv().getOrDefault("JDM_BENCH_ROUNDS", "3"));
        // operation -> target -> one score per round
        Map<String, Map<String, List<Double>>> scores = new TreeMap<>();
        for (int round = 0; round < rounds; round++) {
            Options options = new OptionsBuilder()
                    .parent(new CommandLineOptions(args))
                    .include(IntegrityBenchmark.class.getName())
                    .jvmArgsAppend("--enable-native-access=ALL-UNNAMED")
                    .build();
            for (RunResult r : new Runner(options).run()) {
                String benchmark = r.getParams().getBenchmark();
                String method = benchmark.substring(benchmark.lastIndexOf('.') + 1);
                scores.computeIfAbsent(method, k -> new TreeMap<>())
                        .computeIfAbsent(r.getParams().getParam("target"), k -> new ArrayList<>())
                        .add(r.getPrimaryResult().getScore());
            }
        }
        System.out.println();
        System.out.println("| operation | linear (ops/s) | integrity J (ops/s) | J/linear | integrity D (ops/s) | D/linear |");
        System.out.println("|---|---:|---:|---:|---:|---:|");
        for (var e : scores.entrySet()) {
            Map<String, List<Double>> t = e.getValue();
            System.out.printf("| %s | %,.0f | %,.0f | %.3f | %,.0f | %.3f |%n", e.getKey(),
                    median(t.get(TARGETS[0])), median(t.get(TARGETS[1])), medianRatio(t.get(TARGETS[1]), t.get(TARGETS[0])),
                    median(t.get(TARGETS[2])), medianRatio(t.get(TARGETS[2]), t.get(TARGETS[0])));
        }
    }

    private static double median(List<Double> values) {
        List<Double> sorted = values.stream().sorted().toList();
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

    private static double medianRatio(List<Double> values, List<Double> base) {
        List<Double> ratios = new ArrayList<>();
        for (int i = 0; i < Math.min(values.size(), base.size()); i++) {
            ratios.add(values.get(i) / base.get(i));
        }
        return median(ratios);
    }
}
