package dev.jdm.tools.crash;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Looks at the replayed device at one durable point. */
@FunctionalInterface
public interface PointCheck {

    /** Returns what is wrong (shown in the failure report), or empty if the point is consistent. */
    Optional<String> check(ReplayPoint point) throws IOException;

    /** A short name for reports. */
    default String name() {
        return getClass().getSimpleName();
    }

    /**
     * The default check for ext2/3/4: recovers the journal (e2fsck's journal-only pass, what a mount
     * after a crash does first), then {@code e2fsck -fn}, which must exit 0.
     */
    static PointCheck e2fsck() {
        return new PointCheck() {
            @Override
            public Optional<String> check(ReplayPoint point) throws IOException {
                String image = point.image().toString();
                Command recover = Command.run(List.of("e2fsck", "-E", "journal_only", "-p", image));
                if (!recover.succeeded()) {
                    return Optional.of("journal recovery (e2fsck -E journal_only -p) exited " + recover.exit() + ":\n" + recover.output());
                }
                Command fsck = Command.run(List.of("e2fsck", "-fn", image));
                return fsck.succeeded() ? Optional.empty() : Optional.of("e2fsck -fn exited " + fsck.exit() + ":\n" + fsck.output());
            }

            @Override
            public String name() {
                return "e2fsck";
            }
        };
    }

    /** A program that must exit 0; each argument {@code {}} becomes the point's image path. */
    static PointCheck command(List<String> argv) {
        List<String> template = List.copyOf(argv);
        if (template.isEmpty()) {
            throw new IllegalArgumentException("a check command needs a program to run");
        }
        return new PointCheck() {
            @Override
            public Optional<String> check(ReplayPoint point) throws IOException {
                List<String> resolved = new ArrayList<>();
                for (String arg : template) {
                    resolved.add(arg.equals("{}") ? point.image().toString() : arg);
                }
                Command c = Command.run(resolved);
                return c.succeeded() ? Optional.empty() : Optional.of(String.join(" ", resolved) + " exited " + c.exit() + ":\n" + c.output());
            }

            @Override
            public String name() {
                return template.getFirst();
            }
        };
    }
}
