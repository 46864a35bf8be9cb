package dev.jdm.bench;

import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.util.Collection;
import java.util.Map;
import java.util.TreeMap;

/**
 * Runs {@link CoreIoBenchmark} (JMH options such as {@code -wi 2 -w 1s -i 4 -r 1s} are passed through)
 * and prints a Markdown table per case: throughput of the plain and the jdm path and their ratio, and
 * operations per second of the benchmark thread's CPU time and their ratio, which is what each path
 * costs however the shared cores were handed out.
 */
public final class CoreIoMain {
    private CoreIoMain() {
    }

    /** One path of one case: JMH's throughput, and operations and CPU time summed over all iterations. */
    private record Measured(Result throughput, long ops, long cpuNanos) {
        double perCpuSecond() {
            return ops * 1e9 / cpuNanos;
        }
    }

    public static void main(String[] args) throws Exception {
        CommandLineOptions commandLine = new CommandLineOptions(args);
        OptionsBuilder builder = new OptionsBuilder();
        builder.parent(commandLine).jvmArgsAppend("--enable-native-access=ALL-UNNAMED");
        if (commandLine.getIncludes().isEmpty()) {
            builder.include(CoreIoBenchmark.class.getName());
        }
        Options options = builder.build();
        Collection<RunResult> results = new Runner(options).run();

        // "linear randomRead4K" -> "plain"/"jdm" -> measurement
        Map<String, Map<String, Measured>> cases = new TreeMap<>();
        for (RunResult r : results) {
            String benchmark = r.getParams().getBenchmark();
            if (!benchmark.startsWith(CoreIoBenchmark.class.getName() + ".")) {
                continue; // an include pattern given on the command line also matched other benchmarks
            }
            String key = r.getParams().getParam("layout") + " " + benchmark.substring(benchmark.lastIndexOf('.') + 1);
            long ops = 0;
            long cpu = 0;
            for (var b : r.getBenchmarkResults()) {
                for (IterationResult i : b.getIterationResults()) {
                    ops += Math.round(i.getSecondaryResults().get("ops").getScore());
                    cpu += Math.round(i.getSecondaryResults().get("cpuNanos").getScore());
                }
            }
            cases.computeIfAbsent(key, k -> new TreeMap<>()).put(r.getParams().getParam("path"),
                    new Measured(r.getPrimaryResult(), ops, cpu));
        }
        System.out.println();
        System.out.println("| table | operation | plain (ops/s) | jdm (ops/s) | jdm/plain | plain (ops per CPU s) "
                + "| jdm (ops per CPU s) | jdm/plain per CPU s |");
        System.out.println("|---|---|---:|---:|---:|---:|---:|---:|");
        for (var e : cases.entrySet()) {
            String[] name = e.getKey().split(" ");
            Measured plain = e.getValue().get("plain");
            Measured jdm = e.getValue().get("jdm");
            if (plain == null || jdm == null) {
                continue;
            }
            System.out.printf("| %s | %s | %s | %s | %.3f | %,.0f | %,.0f | %.3f |%n", name[0], name[1],
                    format(plain.throughput()), format(jdm.throughput()),
                    jdm.throughput().getScore() / plain.throughput().getScore(),
                    plain.perCpuSecond(), jdm.perCpuSecond(), jdm.perCpuSecond() / plain.perCpuSecond());
        }
    }

    private static String format(Result r) {
        return String.format("%,.0f ± %,.0f", r.getScore(), r.getScoreError());
    }
}
