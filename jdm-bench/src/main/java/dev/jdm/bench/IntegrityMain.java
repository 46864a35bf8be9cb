package dev.jdm.bench;

import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.util.Collection;
import java.util.Map;
import java.util.TreeMap;

/**
 * Runs {@link IntegrityBenchmark} (JMH options are passed through) and prints a Markdown table:
 * throughput through linear and through integrity J and D, with the ratios to linear.
 */
public final class IntegrityMain {
    private IntegrityMain() {
    }

    public static void main(String[] args) throws Exception {
        Options options = new OptionsBuilder()
                .parent(new CommandLineOptions(args))
                .include(IntegrityBenchmark.class.getName())
                .jvmArgsAppend("--enable-native-access=ALL-UNNAMED")
                .build();
        Collection<RunResult> results = new Runner(options).run();
        Map<String, Map<String, Double>> byOperation = new TreeMap<>();
        for (RunResult r : results) {
            String benchmark = r.getParams().getBenchmark();
            String method = benchmark.substring(benchmark.lastIndexOf('.') + 1);
            byOperation.computeIfAbsent(method, k -> new TreeMap<>()).put(r.getParams().getParam("target"), r.getPrimaryResult().getScore());
        }
        System.out.println();
        System.out.println("| operation | linear (ops/s) | integrity J (ops/s) | J/linear | integrity D (ops/s) | D/linear |");
        System.out.println("|---|---:|---:|---:|---:|---:|");
        for (var e : byOperation.entrySet()) {
            Double linear = e.getValue().get("linear"), j = e.getValue().get("integrity-J"), d = e.getValue().get("integrity-D");
            System.out.printf("| %s | %s | %s | %s | %s | %s |%n", e.getKey(), ops(linear), ops(j), ratio(j, linear), ops(d), ratio(d, linear));
        }
    }

    private static String ops(Double v) {
        return v == null ? "-" : String.format("%,.0f", v);
    }

    private static String ratio(Double v, Double base) {
        return v == null || base == null ? "-" : String.format("%.3f", v / base);
    }
}
