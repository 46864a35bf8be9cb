package dev.jdm.bench;

import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.util.Statistics;

import java.util.Collection;
import java.util.Map;
import java.util.TreeMap;

/**
 * Runs {@link FaultTargetsBenchmark} and {@link DelayAccuracyBenchmark} (JMH options are passed
 * through) and prints two Markdown tables: flakey and dust throughput as ratios to linear, and the
 * delay target's observed median and p99 against the asked delay.
 */
public final class FaultTargetsMain {
    private FaultTargetsMain() {
    }

    public static void main(String[] args) throws Exception {
        Options options = new OptionsBuilder()
                .parent(new CommandLineOptions(args))
                .include(FaultTargetsBenchmark.class.getName())
                .include(DelayAccuracyBenchmark.class.getName())
                .jvmArgsAppend("--enable-native-access=ALL-UNNAMED")
                .build();
        Collection<RunResult> results = new Runner(options).run();

        Map<String, Map<String, Double>> throughput = new TreeMap<>();
        Map<Integer, Statistics> delays = new TreeMap<>();
        for (RunResult r : results) {
            String benchmark = r.getParams().getBenchmark();
            String method = benchmark.substring(benchmark.lastIndexOf('.') + 1);
            Result<?> primary = r.getPrimaryResult();
            if (benchmark.contains("DelayAccuracy")) {
                delays.put(Integer.parseInt(r.getParams().getParam("delayMs")), primary.getStatistics());
            } else {
                throughput.computeIfAbsent(method, k -> new TreeMap<>()).put(r.getParams().getParam("target"), primary.getScore());
            }
        }
        System.out.println();
        System.out.println("| operation | linear (ops/s) | flakey up (ops/s) | flakey/linear | dust enabled, no bad blocks (ops/s) | dust/linear |");
        System.out.println("|---|---:|---:|---:|---:|---:|");
        for (var e : throughput.entrySet()) {
            Double linear = e.getValue().get("linear"), flakey = e.getValue().get("flakey"), dust = e.getValue().get("dust");
            System.out.printf("| %s | %s | %s | %s | %s | %s |%n", e.getKey(), ops(linear), ops(flakey), ratio(flakey, linear),
                    ops(dust), ratio(dust, linear));
        }
        System.out.println();
        System.out.println("| asked delay (ms) | samples | observed median (ms) | observed p99 (ms) | median - asked (ms) |");
        System.out.println("|---:|---:|---:|---:|---:|");
        for (var e : delays.entrySet()) {
            Statistics s = e.getValue();
            double median = s.getPercentile(50);
            System.out.printf("| %d | %d | %.3f | %.3f | %+.3f |%n", e.getKey(), s.getN(), median, s.getPercentile(99), median - e.getKey());
        }
    }

    private static String ops(Double v) {
        return v == null ? "-" : String.format("%,.0f", v);
    }

    private static String ratio(Double v, Double base) {
        return v == null || base == null ? "-" : String.format("%.3f", v / base);
    }
}
