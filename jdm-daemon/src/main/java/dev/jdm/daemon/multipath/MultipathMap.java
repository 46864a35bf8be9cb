package dev.jdm.daemon.multipath;

import java.util.ArrayList;
import java.util.List;

/**
 * A multipath device as its table and status lines describe it (dm-mpath's {@code multipath_status}, the text
 * multipathd's dmparser reads): features, hardware handler, priority groups with their selector and paths, and the
 * live state of each. The only reader of that text, for the path checker and {@code jdm multipath}.
 *
 * @param features       the feature words of the table, without their count
 * @param hwHandler      the hardware handler's name and arguments, without their count (empty for {@code 0})
 * @param queueIo        status {@code queue_io} (the kernel's MPATHF_QUEUE_IO: I/O waits for a group's initialisation)
 * @param pgInitCount    pg_init calls so far
 * @param groupNumber    the group I/O goes to next (1-based; 0 with no groups)
 */
public record MultipathMap(List<String> features, List<String> hwHandler, boolean queueIo, int pgInitCount,
                           int groupNumber, List<Group> groups) {

    /** The state of a group in status: the one in use, one I/O may go to, one bypassed. */
    public enum GroupState {
        ACTIVE("active"), ENABLED("enabled"), DISABLED("disabled");

        /** As multipath -ll prints it. */
        public final String word;

        GroupState(String word) {
            this.word = word;
        }
    }

    /**
     * @param number       1-based, in table order (the first is the highest priority)
     * @param selector     the path selector's name
     * @param selectorArgs its group arguments as the table prints them (historical-service-time's two)
     */
    public record Group(int number, String selector, List<String> selectorArgs, GroupState state, List<Path> paths) {
        /** The selector with its argument count and arguments, as multipath prints it: {@code service-time 0}. */
        public String policy() {
            return counted(selector + " ", selectorArgs);
        }

        /** Whether I/O can use a path of this group now. */
        public boolean hasActivePath() {
            return paths.stream().anyMatch(Path::active);
        }
    }

    /**
     * @param dev          the path's device as the target prints it (what fail_path and reinstate_path take)
     * @param tableArgs    its per-path table arguments (the selector's repeat count, ...)
     * @param active       A (usable) or F (failed) in status
     * @param failCount    how often it failed
     * @param selectorInfo the selector's status words for it (in-flight I/O, ...)
     */
    public record Path(String dev, List<String> tableArgs, boolean active, int failCount, List<String> selectorInfo) {
    }

    /** The features as the table counts them: {@code 1 queue_if_no_path}, {@code 0}. */
    public String featuresText() {
        return counted("", features);
    }

    /** The hardware handler as the table counts it: {@code 0}, {@code 1 alua}. */
    public String hwHandlerText() {
        return counted("", hwHandler);
    }

    private static String counted(String prefix, List<String> words) {
        return prefix + words.size() + (words.isEmpty() ? "" : " " + String.join(" ", words));
    }

    /** The group numbered {@code number}, 1-based. */
    public Group group(int number) {
        return groups.get(number - 1);
    }

    /** Thrown for text that is not a multipath table or status line, or a status that does not fit the table. */
    public static final class ParseException extends Exception {
        ParseException(String message) {
            super(message);
        }
    }

    /** Reads a multipath device from the params of its table line and of its status line. */
    public static MultipathMap parse(String table, String status) throws ParseException {
        Words t = new Words("table", table);
        List<String> features = t.counted("features");
        List<String> hw = t.counted("hardware handler");
        int groupCount = t.number("group count");
        t.number("initial group");

        Words s = new Words("status", status);
        List<String> statusFeatures = s.counted("features");
        if (statusFeatures.size() != 2) {
            throw new ParseException("status: expected 2 feature values (queue_io, pg_init_count), got " + statusFeatures.size());
        }
        boolean queueIo = Words.parseNumber("status", "queue_io", statusFeatures.get(0)) != 0;
        int pgInitCount = Words.parseNumber("status", "pg_init_count", statusFeatures.get(1));
        s.counted("hardware handler status");
        s.expect(groupCount, "group count");
        int groupNumber = s.number("group number");

        List<Group> groups = new ArrayList<>();
        for (int g = 1; g <= groupCount; g++) {
            String selector = t.word("selector of group " + g);
            List<String> selectorArgs = t.counted("selector arguments of group " + g);
            int pathCount = t.number("path count of group " + g);
            int pathArgCount = t.number("path argument count of group " + g);

            GroupState state = switch (s.word("state of group " + g)) {
                case "A" -> GroupState.ACTIVE;
                case "E" -> GroupState.ENABLED;
                case "D" -> GroupState.DISABLED;
                default -> throw new ParseException("status: group " + g + " state must be A, E or D");
            };
            s.counted("selector status of group " + g);
            s.expect(pathCount, "path count of group " + g);
            int infoCount = s.number("selector info count of group " + g);

            List<Path> paths = new ArrayList<>();
            for (int p = 1; p <= pathCount; p++) {
                String where = "path " + p + " of group " + g;
                String dev = t.word("device of " + where);
                List<String> args = t.words(pathArgCount, "arguments of " + where);
                s.expectWord(dev, "device of " + where);
                boolean active = switch (s.word("state of " + where)) {
                    case "A" -> true;
                    case "F" -> false;
                    default -> throw new ParseException("status: " + where + " state must be A or F");
                };
                int failCount = s.number("fail count of " + where);
                paths.add(new Path(dev, args, active, failCount, s.words(infoCount, "selector info of " + where)));
            }
            groups.add(new Group(g, selector, selectorArgs, state, List.copyOf(paths)));
        }
        t.end();
        s.end();
        return new MultipathMap(features, hw, queueIo, pgInitCount, groupNumber, List.copyOf(groups));
    }

    /** A cursor over the words of one line, with errors that say which line and which field. */
    private static final class Words {
        private final String line;
        private final String[] words;
        private int next;

        Words(String line, String text) {
            this.line = line;
            String trimmed = text.strip();
            this.words = trimmed.isEmpty() ? new String[0] : trimmed.split("\\s+");
        }

        String word(String what) throws ParseException {
            if (next >= words.length) {
                throw new ParseException(line + ": ends before the " + what);
            }
            return words[next++];
        }

        int number(String what) throws ParseException {
            return parseNumber(line, what, word(what));
        }

        static int parseNumber(String line, String what, String word) throws ParseException {
            try {
                int n = Integer.parseInt(word);
                if (n >= 0) {
                    return n;
                }
            } catch (NumberFormatException e) {
                // Reported below with the field's name.
            }
            throw new ParseException(line + ": the " + what + " must be a number, not \"" + word + "\"");
        }

        List<String> words(int count, String what) throws ParseException {
            List<String> out = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                out.add(word(what));
            }
            return List.copyOf(out);
        }

        /** A count followed by that many words. */
        List<String> counted(String what) throws ParseException {
            return words(number(what), what);
        }

        void expect(int value, String what) throws ParseException {
            int n = number(what);
            if (n != value) {
                throw new ParseException(line + ": the " + what + " is " + n + ", the table says " + value);
            }
        }

        void expectWord(String value, String what) throws ParseException {
            String w = word(what);
            if (!w.equals(value)) {
                throw new ParseException(line + ": the " + what + " is " + w + ", the table says " + value);
            }
        }

        void end() throws ParseException {
            if (next != words.length) {
                throw new ParseException(line + ": unexpected \"" + words[next] + "\" after the last path");
            }
        }
    }
}
