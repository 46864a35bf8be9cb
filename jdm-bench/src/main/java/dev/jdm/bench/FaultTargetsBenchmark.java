package dev.jdm.bench;

import org.openjdk.jmh.annotations.Param;

import java.nio.file.Path;
import java.util.List;

/**
 * The cost of the fault-injection targets when they inject nothing: 4 KiB random reads and writes
 * through flakey (in its up phase) and dust (enabled, empty bad-block list) against the same I/O
 * through linear.
 */
public class FaultTargetsBenchmark extends TargetIoBenchmark {

    @Param({"linear", "flakey", "dust"})
    public String target;

    @Override
    protected String table(Path file) {
        return switch (target) {
            case "linear" -> "linear " + file + " 0";
            // Up for ~136 years: the up phase is all we measure.
            case "flakey" -> "flakey " + file + " 0 4294967294 1";
            case "dust" -> "dust " + file + " 0 4096";
            default -> throw new IllegalArgumentException(target);
        };
    }

    @Override
    protected void prepared() throws Exception {
        if (target.equals("dust")) {
            dm.message("bench", 0, List.of("enable"));
        }
    }
}
