package dev.jdm.cli;

import dev.jdm.targets.logwrites.LogEntry;
import dev.jdm.tools.crash.CrashHarness;
import dev.jdm.tools.crash.CrashListener;
import dev.jdm.tools.crash.CrashReport;
import dev.jdm.tools.crash.Ext4Workload;
import dev.jdm.tools.crash.PointCheck;
import dev.jdm.tools.crash.Workload;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@code jdm crash-test}: dev.jdm.tools.crash.CrashHarness (docs/crash-harness.md). Records a workload
 * on a log-writes device attached through the kernel, then checks the device at every flush point.
 * Runs in this process with its own engine; it needs no daemon.
 */
@Command(name = "crash-test", description = {
        "Checks that a workload's device is consistent after a crash at any flush point.",
        "Records the workload through log-writes on an attached device, replays the log to every FLUSH/FUA"
                + " point and checks each (e2fsck, then --check commands). Needs root, /dev/fuse and loop devices.",
        "STEP options run in the order given: --run 'SHELL COMMAND' ({} and $JDM_CRASH_DEVICE are the device),"
                + " --mark NAME (logs a mark, e.g. after mkfs, for --check-from)."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:every checked point is consistent", "1:a point failed its checks",
                "2:bad usage, or the harness could not run (tool missing, workload failed, mark not found)"})
final class CrashTestCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--work-dir", required = true, paramLabel = "DIR", description = "Where data.img, log.img, replay.img and point.img are kept.")
    Path workDir;
    @Option(names = "--size", required = true, paramLabel = "SIZE", description = "Device size (bytes, or with K/M/G; a multiple of 4096).")
    String size;
    @Option(names = "--log-size", paramLabel = "SIZE", description = "Log device size (default 4 x size + 64M, sparse).")
    String logSize;
    @Option(names = "--ext4-files", paramLabel = "N", description = "The built-in workload: mkfs.ext4, then N files written and fsynced.")
    Integer ext4Files;
    @Option(names = "--seed", paramLabel = "S", description = "Seed of the built-in workload's sizes and contents (default 1).")
    long seed = 1;
    // Declared so that picocli accepts and documents them; their order is read from the command line.
    @Option(names = "--run", paramLabel = "'SHELL COMMAND'", description = "A workload step run with sh -c.")
    List<String> runs = new ArrayList<>();
    @Option(names = "--mark", paramLabel = "NAME", description = "A mark logged between steps.")
    List<String> marks = new ArrayList<>();
    @Option(names = "--check-from", paramLabel = "MARK", description = "Replay but do not check the points before this mark.")
    String checkFrom;
    @Option(names = "--check", paramLabel = "CMD", description = "A check run with sh -c at each point; the point's image is $0.")
    List<String> checks = new ArrayList<>();
    @Option(names = "--no-fsck", description = "No e2fsck (for file systems other than ext2/3/4).")
    boolean noFsck;
    @Option(names = "--keep-going", description = "Check every point instead of stopping at the first failure.")
    boolean keepGoing;

    @Override
    public Integer call() {
        CrashHarness.Builder b = CrashHarness.builder().workDir(workDir).size(bytes(size, "--size")).fsck(!noFsck).keepGoing(keepGoing);
        if (logSize != null) {
            b.logSize(bytes(logSize, "--log-size"));
        }
        List<Workload> steps = stepsInOrder();
        if ((ext4Files == null) == steps.isEmpty()) {
            throw new ParameterException(spec.commandLine(), "give either --ext4-files N or --run/--mark steps");
        }
        if (ext4Files != null) {
            Ext4Workload w = Ext4Workload.files(ext4Files, seed);
            b.workload(w).check(w.filesIntact()).checkFrom(Ext4Workload.MKFS_MARK);
        } else {
            b.workload(Workload.sequence(steps));
        }
        if (checkFrom != null) {
            b.checkFrom(checkFrom);
        }
        for (String c : checks) {
            b.check(PointCheck.command(List.of("sh", "-c", c, "{}")));
        }
        AtomicReference<Progress> progress = new AtomicReference<>();
        b.listener(new CrashListener() {
            @Override
            public void recorded(long entries, long pointsToCheck) {
                progress.set(Progress.start("Checking " + pointsToCheck + " flush points", pointsToCheck));
            }

            @Override
            public void pointChecked(long done, long total, LogEntry entry, CrashReport.Failure failure) {
                progress.get().update(done);
            }
        });
        CrashReport report;
        try {
            report = b.build().run();
        } catch (IOException | RuntimeException e) {
            spec.commandLine().getErr().println("jdm: crash-test failed: " + e.getMessage());
            return 2;
        } finally {
            if (progress.get() != null) {
                progress.get().close();
            }
        }
        spec.commandLine().getOut().print(report.describe());
        spec.commandLine().getOut().flush();
        return report.passed() ? 0 : 1;
    }

    /** --run and --mark as the workload's steps, in the order they were given. */
    private List<Workload> stepsInOrder() {
        List<Workload> steps = new ArrayList<>();
        List<String> args = spec.commandLine().getParseResult().originalArgs();
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            for (String name : List.of("--run", "--mark")) {
                String value = a.equals(name) && i + 1 < args.size() ? args.get(++i)
                        : a.startsWith(name + "=") ? a.substring(name.length() + 1) : null;
                if (value != null) {
                    steps.add(name.equals("--run") ? Workload.shell(value) : Workload.mark(value));
                    break;
                }
            }
        }
        return steps;
    }

    /** 4096, 64K, 64M, 1G (binary units, as dd and truncate read them). */
    private long bytes(String text, String option) {
        String t = text.strip().toUpperCase(Locale.ROOT);
        int shift = switch (t.isEmpty() ? ' ' : t.charAt(t.length() - 1)) {
            case 'K' -> 10;
            case 'M' -> 20;
            case 'G' -> 30;
            default -> 0;
        };
        try {
            long n = Long.parseLong(shift == 0 ? t : t.substring(0, t.length() - 1));
            if (n <= 0 || n > Long.MAX_VALUE >> shift) {
                throw new NumberFormatException();
            }
            return n << shift;
        } catch (NumberFormatException e) {
            throw new ParameterException(spec.commandLine(), option + ": not a size: " + text);
        }
    }
}
