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
 * 4 KiB random-read throughput through switch and unstriped as ratios to linear on the same file.
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
        Map<String, Double> opsPerSecond = new TreeMap<>();
        for (RunResult r : new Runner(options).run()) {
            opsPerSecond.put(r.getParams().getParam("target"), r.getPrimaryResult().getScore());
        }
        double linear = opsPerSecond.get("linear");
        System.out.println();
        System.out.println("| target | 4 KiB random reads (ops/s) | / linear |");
        System.out.println("|---|---:|---:|");
        for (var e : opsPerSecond.entrySet()) {
            System.out.printf("| %s | %,.0f | %.3f |%n", e.getKey(), e.getValue(), e.getValue() / linear);
        }
    }
}
