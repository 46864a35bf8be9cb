package dev.jdm.bench;

import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.util.Map;
import java.util.TreeMap;

/**
 * Runs {@link SwitchUnstripedBenchmark} (JMH options are passed through) and prints a Markdown table of
 * 4 KiB random reads and writes through switch and unstriped as ratios to linear on the same file.
 */
public final class SwitchUnstripedMain {
    private SwitchUnstripedMain() {
    }

    public static void main(String[] args) throws Exception {
        Options options = new OptionsBuilder()
                .parent(new CommandLineOptions(args))
                .include(SwitchUnstripedBenchmark.class.getName())
                .jvmArgsAppend("--enable-native-access=ALL-UNNAMED")
                .build();
        Map<String, Map<String, Double>> opsPerSecond = new TreeMap<>();
        for (RunResult r : new Runner(options).run()) {
            String benchmark = r.getParams().getBenchmark();
            opsPerSecond.computeIfAbsent(benchmark.substring(benchmark.lastIndexOf('.') + 1), k -> new TreeMap<>())
                    .put(r.getParams().getParam("target"), r.getPrimaryResult().getScore());
        }
        System.out.println();
        System.out.println("| operation | linear (ops/s) | switch (ops/s) | switch/linear | unstriped (ops/s) | unstriped/linear |");
        System.out.println("|---|---:|---:|---:|---:|---:|");
        for (var e : opsPerSecond.entrySet()) {
            Map<String, Double> by = e.getValue();
            double linear = by.get("linear");
            System.out.printf("| %s | %,.0f | %,.0f | %.3f | %,.0f | %.3f |%n", e.getKey(), linear, by.get("switch"),
                    by.get("switch") / linear, by.get("unstriped"), by.get("unstriped") / linear);
        }
    }
}
