package dev.jdm.bench;

import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.util.Map;
import java.util.TreeMap;

/** Runs {@link VerityReadBenchmark} (JMH options pass through) and prints verified/linear ratios as Markdown. */
public final class VerityReadMain {
    private VerityReadMain() {
    }

    public static void main(String[] args) throws Exception {
        Options options = new OptionsBuilder()
                .parent(new CommandLineOptions(args))
                .include(VerityReadBenchmark.class.getName())
                .jvmArgsAppend("--enable-native-access=ALL-UNNAMED")
                .build();
        Map<String, Map<String, Double>> scores = new TreeMap<>();
        for (RunResult r : new Runner(options).run()) {
            String benchmark = r.getParams().getBenchmark();
            String row = r.getParams().getParam("storage") + " | " + benchmark.substring(benchmark.lastIndexOf('.') + 1);
            scores.computeIfAbsent(row, k -> new TreeMap<>())
                    .put(r.getParams().getParam("target"), r.getPrimaryResult().getScore());
        }
        System.out.println();
        System.out.println("| storage | operation | linear (ops/s) | verity (ops/s) | **verity/linear** "
                + "| check_at_most_once (ops/s) | once/linear | data cache ½ image (ops/s) | cached/linear |");
        System.out.println("|---|---|---:|---:|---:|---:|---:|---:|---:|");
        for (var e : scores.entrySet()) {
            double linear = score(e.getValue(), "linear");
            StringBuilder row = new StringBuilder("| " + e.getKey() + String.format(" | %.0f", linear));
            for (String target : new String[]{"verity", "verity-once", "verity-cached"}) {
                double s = score(e.getValue(), target);
                row.append(String.format(target.equals("verity") ? " | %.0f | **%.2f**" : " | %.0f | %.2f", s, s / linear));
            }
            System.out.println(row.append(" |"));
        }
    }

    /** NaN for a target left out with {@code -p target=...}, so the other columns still print. */
    private static double score(Map<String, Double> byTarget, String target) {
        return byTarget.getOrDefault(target, Double.NaN);
    }
}
