package dev.jdm.bench;

import org.openjdk.jmh.annotations.Param;

import java.nio.file.Path;

/**
 * What switch's region-table lookup and unstriped's arithmetic cost: 4 KiB random I/O on a 32 MiB device
 * through linear, switch (two paths to the same file, 64 KiB regions) and unstriped (stripe 1 of 2 in 4 KiB
 * chunks), all over one 64 MiB file.
 */
public class SwitchUnstripedBenchmark extends TargetIoBenchmark {

    @Param({"linear", "switch", "unstriped"})
    public String target;

    @Override
    protected String table(Path file) {
        return switch (target) {
            case "linear" -> "linear " + file + " 0";
            case "switch" -> "switch 2 128 0 " + file + " 0 " + file + " 0";
            case "unstriped" -> "unstriped 2 8 1 " + file + " 0";
            default -> throw new IllegalArgumentException(target);
        };
    }

    @Override
    protected long deviceBytes() {
        return FILE_BYTES / 2;
    }
}
