package dev.jdm.bench;

import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;

/**
 * Runs {@link CoreIoBenchmark} (JMH options such as {@code -wi 2 -w 1s -i 4 -r 1s} are passed through)
 * and prints, per case, plain and jdm throughput and their ratio as a Markdown table. Next to the
 * ratio of the means it prints the median of the per-iteration ratios: plain and jdm run at the same
 * time, so each iteration's ratio compares the two under the same load.
 */
public final class CoreIoMain {
    private CoreIoMain() {
    }

    private record Row(String layout, String operation, Result plain, Result jdm, double medianRatio) {
    }

    public static void main(String[] args) throws Exception {
        Options options = new OptionsBuilder()
                .parent(new CommandLineOptions(args))
                .include(CoreIoBenchmark.class.getName())
                .jvmArgsAppend("--enable-native-access=ALL-UNNAMED")
                .build();
        Collection<RunResult> results = new Runner(options).run();

        List<Row> rows = new ArrayList<>();
        for (RunResult r : results) {
            String benchmark = r.getParams().getBenchmark();
            String group = benchmark.substring(benchmark.lastIndexOf('.') + 1);
            String plainLabel = group + "_plain";
            String jdmLabel = group + "_jdm";
            List<Double> ratios = new ArrayList<>();
            r.getBenchmarkResults().forEach(b -> {
                for (IterationResult i : b.getIterationResults()) {
                    ratios.add(i.getSecondaryResults().get(jdmLabel).getScore() / i.getSecondaryResults().get(plainLabel).getScore());
                }
            });
            ratios.sort(Comparator.naturalOrder());
            double median = ratios.size() % 2 == 1 ? ratios.get(ratios.size() / 2)
                    : (ratios.get(ratios.size() / 2 - 1) + ratios.get(ratios.size() / 2)) / 2;
            rows.add(new Row(r.getParams().getParam("layout"), group, r.getSecondaryResults().get(plainLabel),
                    r.getSecondaryResults().get(jdmLabel), median));
        }
        rows.sort(Comparator.comparing(Row::layout).thenComparing(Row::operation));
        System.out.println();
        System.out.println("| table | operation | plain FileChannel (ops/s) | jdm (ops/s) | jdm/plain (means) | jdm/plain (median of iterations) |");
        System.out.println("|---|---|---:|---:|---:|---:|");
        for (Row row : rows) {
            System.out.printf("| %s | %s | %s | %s | %.3f | %.3f |%n", row.layout(), row.operation(), format(row.plain()), format(row.jdm()),
                    row.jdm().getScore() / row.plain().getScore(), row.medianRatio());
        }
    }

    private static String format(Result r) {
        return String.format("%,.0f ± %,.0f", r.getScore(), r.getScoreError());
    }
}
