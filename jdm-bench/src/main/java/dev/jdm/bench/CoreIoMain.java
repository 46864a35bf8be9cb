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
 * Runs {@link CoreIoBenchmark} (JMH options such as {@code -wi 2 -w 2s -i 3 -r 2s} are passed through)
 * and prints, per case, plain and jdm throughput and their ratio as a Markdown table.
 */
public final class CoreIoMain {
    private CoreIoMain() {
    }

    private record Score(double opsPerSecond, double error) {
    }

    public static void main(String[] args) throws Exception {
        Options options = new OptionsBuilder()
                .parent(new CommandLineOptions(args))
                .include(CoreIoBenchmark.class.getName())
                .jvmArgsAppend("--enable-native-access=ALL-UNNAMED")
                .build();
        Collection<RunResult> results = new Runner(options).run();

        // case ("randomRead4K linear") -> path ("plain"/"jdm") -> score
        Map<String, Map<String, Score>> byCase = new TreeMap<>();
        for (RunResult r : results) {
            String benchmark = r.getParams().getBenchmark();
            String method = benchmark.substring(benchmark.lastIndexOf('.') + 1);
            String key = r.getParams().getParam("layout") + " " + method;
            byCase.computeIfAbsent(key, k -> new TreeMap<>()).put(r.getParams().getParam("path"),
                    new Score(r.getPrimaryResult().getScore(), r.getPrimaryResult().getScoreError()));
        }
        System.out.println();
        System.out.println("| table | operation | plain FileChannel (ops/s) | jdm (ops/s) | jdm/plain |");
        System.out.println("|---|---|---:|---:|---:|");
        for (var e : byCase.entrySet()) {
            String[] parts = e.getKey().split(" ");
            Score plain = e.getValue().get("plain");
            Score jdm = e.getValue().get("jdm");
            System.out.printf("| %s | %s | %s | %s | %s |%n", parts[0], parts[1], format(plain), format(jdm),
                    plain == null || jdm == null ? "-" : String.format("%.3f", jdm.opsPerSecond / plain.opsPerSecond));
        }
    }

    private static String format(Score s) {
        return s == null ? "-" : String.format("%,.0f ± %,.0f", s.opsPerSecond, s.error);
    }
}
