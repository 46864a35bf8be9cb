package dev.jdm.tools.crash;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/** What the harness records: something that writes to the attached block device. */
@FunctionalInterface
public interface Workload {

    /** The environment variable that tells a command workload the device's path. */
    String DEVICE_VARIABLE = "JDM_CRASH_DEVICE";

    /** Runs against the attached device; throwing aborts the harness before any replay. */
    void run(Session session) throws Exception;

    /** What a workload gets: the kernel block device, a private directory, and marks in the log. */
    interface Session {
        /** The attached block device, e.g. /dev/loop3. */
        Path device();

        /** A directory the workload may use (mount points, temporary files); it is the harness's work directory. */
        Path workDir();

        /** Logs a mark entry now ({@code message <dev> 0 mark <text>}); one word. */
        void mark(String text) throws IOException;
    }

    /**
     * A program run once: each argument {@code {}} becomes the device's path, and the path is also in
     * {@value #DEVICE_VARIABLE}. It must exit 0.
     */
    static Workload command(List<String> argv) {
        List<String> template = List.copyOf(argv);
        if (template.isEmpty()) {
            throw new IllegalArgumentException("a command workload needs a program to run");
        }
        return session -> {
            List<String> resolved = new ArrayList<>();
            for (String arg : template) {
                resolved.add(arg.equals("{}") ? session.device().toString() : arg);
            }
            Command.run(resolved, Map.of(DEVICE_VARIABLE, session.device().toString())).orThrow();
        };
    }
    /**
     * A shell script run once with {@code sh -c}: each {@code {}} in it becomes the device's path, which
     * is also in {@value #DEVICE_VARIABLE}. It must exit 0.
     */
    static Workload shell(String script) {
        Objects.requireNonNull(script);
        return session -> Command.run(List.of("sh", "-c", script.replace("{}", session.device().toString())),
                Map.of(DEVICE_VARIABLE, session.device().toString())).orThrow();
    }

    /** Logs a mark between steps of a {@link #sequence}, e.g. after mkfs: a point to check from. */
    static Workload mark(String text) {
        Objects.requireNonNull(text);
        return session -> session.mark(text);
    }

    /** Runs steps in order (the CLI's {@code --run} and {@code --mark} options, as given). */
    static Workload sequence(List<Workload> steps) {
        List<Workload> all = List.copyOf(steps);
        return session -> {
            for (Workload step : all) {
                step.run(session);
            }
        };
    }
}
