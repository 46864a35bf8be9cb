package dev.jdm.core.spi;

import dev.jdm.core.Sectors;

import java.util.List;
import java.util.OptionalLong;

/**
 * A table line's (or a message's) arguments and a cursor over them, the kernel's {@code struct dm_arg_set}
 * with {@code dm_shift_arg}, {@code dm_read_arg} and {@code dm_read_arg_group}. Numbers are parsed by the
 * rule of the kernel function the target uses ({@link Rule}); errors name the argument:
 * {@code argument 2 ("x1"): invalid offset}. Arguments are numbered from 1, after the target type.
 * <p>
 * The cursor reads a window of the line: the whole line, or a group handed out by {@link #group} or
 * {@link #take}, which keeps the line's numbering so its errors name the right argument. The indexed
 * accessors ({@link #get}, {@link #u64(int, String)}, ...) always address the whole line.
 */
public final class Args {
    private final List<String> values;
    private final int start;
    private final int end;
    private int position;

    public Args(List<String> values) {
        this(List.copyOf(values), 0, values.size());
    }

    private Args(List<String> values, int start, int end) {
        this.values = values;
        this.start = start;
        this.position = start;
        this.end = end;
    }

    /** How the kernel turns an argument into a number; values are unsigned, 2^63 and above come back negative. */
    public enum Rule {
        /**
         * {@code sscanf(s, "%llu%c", &v, &dummy) == 1}: leading white space skipped, then decimal digits and
         * nothing after them; no sign; a value past 2^64 - 1 wraps (vsscanf does not check overflow).
         */
        SCANF_U64,
        /** {@code sscanf(s, "%u%c")}, what {@code dm_read_arg} uses: as {@link #SCANF_U64}, keeping the low 32 bits. */
        SCANF_U32,
        /**
         * {@code kstrtoull(s, 10)} ({@code kstrtoul} on 64-bit): an optional leading '+', decimal digits, one
         * optional trailing newline; overflow is refused.
         */
        KSTRTOULL,
        /** {@code kstrtouint(s, 10)}: as {@link #KSTRTOULL}, refusing values above 2^32 - 1. */
        KSTRTOUINT;

        public OptionalLong parse(String s) {
            return switch (this) {
                case SCANF_U64 -> scanf(s);
                case SCANF_U32 -> {
                    OptionalLong v = scanf(s);
                    yield v.isPresent() ? OptionalLong.of(v.getAsLong() & 0xffff_ffffL) : v;
                }
                case KSTRTOULL -> kstrtoull(s);
                case KSTRTOUINT -> {
                    OptionalLong v = kstrtoull(s);
                    yield v.isPresent() && Long.compareUnsigned(v.getAsLong(), 0xffff_ffffL) > 0 ? OptionalLong.empty() : v;
                }
            };
        }

        private static OptionalLong scanf(String s) {
            int i = 0;
            while (i < s.length() && isSpace(s.charAt(i))) {
                i++;
            }
            int first = i;
            long v = 0;
            for (; i < s.length() && isDigit(s.charAt(i)); i++) {
                v = v * 10 + (s.charAt(i) - '0');
            }
            return i > first && i == s.length() ? OptionalLong.of(v) : OptionalLong.empty();
        }

        private static OptionalLong kstrtoull(String s) {
            int i = s.startsWith("+") ? 1 : 0;
            int digitsEnd = s.endsWith("\n") ? s.length() - 1 : s.length();
            if (i >= digitsEnd) {
                return OptionalLong.empty();
            }
            long v = 0;
            for (; i < digitsEnd; i++) {
                char c = s.charAt(i);
                if (!isDigit(c)) {
                    return OptionalLong.empty();
                }
                long times10 = v * 10;
                if (Long.compareUnsigned(v, Long.divideUnsigned(-1L, 10)) > 0
                        || Long.compareUnsigned(times10 + (c - '0'), times10) < 0) {
                    return OptionalLong.empty();
                }
                v = times10 + (c - '0');
            }
            return OptionalLong.of(v);
        }

        private static boolean isDigit(char c) {
            return c >= '0' && c <= '9';
        }

        /** The kernel's isspace: space, \t, \n, \v, \f, \r. */
        private static boolean isSpace(char c) {
            return c == ' ' || (c >= '\t' && c <= '\r');
        }
    }

    /** The kernel's {@code struct dm_arg}: a count or small number in [min, max] and the error text when it is not. */
    public record Range(long min, long max, String error) {
    }

    /** A {@code key:value} option; {@code value} is null when the word has no colon. */
    public record Option(String key, String value) {
    }

    /** One argument of the line, kept to name it later (a device opened after the arguments that place it). */
    public record Arg(Args args, int index, String text) {
        public TargetException error(String why) {
            return args.error(index, why);
        }
    }

    // ---- the whole line, by index ------------------------------------------------------------------

    public int count() {
        return values.size();
    }

    public List<String> all() {
        return values;
    }

    /** The argument at a 0-based index. */
    public String get(int index) {
        return values.get(index);
    }

    /** Refuses any count but {@code expected}, naming the syntax. */
    public void requireCount(int expected, String syntax) throws TargetException {
        if (values.size() != expected) {
            throw new TargetException("expected " + expected + " argument" + (expected == 1 ? "" : "s")
                    + " (" + syntax + "), got " + values.size());
        }
    }

    public void requireAtLeast(int minimum, String syntax) throws TargetException {
        if (values.size() < minimum) {
            throw new TargetException("expected at least " + minimum + " arguments (" + syntax + "), got " + values.size());
        }
    }

    /** An error about the argument at a 0-based index. */
    public TargetException error(int index, String why) {
        if (index >= values.size()) {
            return missing(index, why);
        }
        return new TargetException("argument " + (index + 1) + " (\"" + values.get(index) + "\"): " + why);
    }

    private static TargetException missing(int index, String why) {
        return new TargetException("argument " + (index + 1) + " is missing: " + why);
    }

    /** An unsigned 64-bit decimal ({@link Rule#SCANF_U64}) up to 2^63 - 1. */
    public long u64(int index, String what) throws TargetException {
        return number(index, what, 0, Long.MAX_VALUE);
    }

    /** An unsigned 32-bit decimal ({@link Rule#SCANF_U64} range-checked). */
    public long u32(int index, String what) throws TargetException {
        return number(index, what, 0, 0xffff_ffffL);
    }

    /** A decimal ({@link Rule#SCANF_U64}) in [min, max]. */
    public long number(int index, String what, long min, long max) throws TargetException {
        return number(Rule.SCANF_U64, index, what, min, max);
    }

    private long number(Rule rule, int index, String what, long min, long max) throws TargetException {
        if (index >= values.size()) {
            throw error(index, what);
        }
        OptionalLong v = rule.parse(values.get(index));
        if (v.isEmpty()) {
            throw error(index, "invalid " + what);
        }
        long n = v.getAsLong();
        if (Long.compareUnsigned(n, min) < 0 || Long.compareUnsigned(n, max) > 0) {
            throw error(index, what + " out of range (" + Long.toUnsignedString(min) + ".." + Long.toUnsignedString(max) + ")");
        }
        return n;
    }

    // ---- the cursor ---------------------------------------------------------------------------------

    /** The 0-based index (in the whole line) of the next argument. */
    public int position() {
        return position;
    }

    public int remaining() {
        return end - position;
    }

    public boolean hasMore() {
        return position < end;
    }

    /** The next argument without moving, or null at the end. */
    public String peek() {
        return hasMore() ? values.get(position) : null;
    }

    /** {@code dm_shift_arg}: the next argument, or null at the end. */
    public String shiftOrNull() {
        return hasMore() ? values.get(position++) : null;
    }

    /** The next argument; at the end, an error saying {@code what} is missing. */
    public String shift(String what) throws TargetException {
        return next(what).text();
    }

    /** The next argument with its place, to name it in an error later. */
    public Arg next(String what) throws TargetException {
        if (!hasMore()) {
            throw missing(position, what);
        }
        String text = values.get(position);
        return new Arg(this, position++, text);
    }

    /**
     * The next argument lower-cased, for the kernel's {@code strcasecmp} matching of feature words
     * (ASCII only, as the kernel's tolower); errors through {@link #error(String)} still show it as given.
     */
    public String shiftWord(String what) throws TargetException {
        return lowerCase(shift(what));
    }

    /** ASCII lower case, as the kernel's tolower in {@code strcasecmp}. */
    public static String lowerCase(String word) {
        StringBuilder lower = new StringBuilder(word.length());
        for (int i = 0; i < word.length(); i++) {
            char c = word.charAt(i);
            lower.append(c >= 'A' && c <= 'Z' ? (char) (c + ('a' - 'A')) : c);
        }
        return lower.toString();
    }

    /** The next argument split at its first ':' ({@code sector_size:4096}, {@code internal_hash:crc32c}). */
    public Option shiftOption(String what) throws TargetException {
        String word = shift(what);
        int colon = word.indexOf(':');
        return colon < 0 ? new Option(word, null) : new Option(word.substring(0, colon), word.substring(colon + 1));
    }

    /** The next argument as a number by {@code rule}; "invalid {@code what}" when it is not one. */
    public long shiftNumber(Rule rule, String what) throws TargetException {
        return shiftNumber(rule, what, 0, -1L);
    }

    /** The next argument as a number by {@code rule} in [min, max] (compared unsigned). */
    public long shiftNumber(Rule rule, String what, long min, long max) throws TargetException {
        if (!hasMore()) {
            throw missing(position, what);
        }
        return number(rule, position++, what, min, max);
    }

    /**
     * The next argument as a sector count ({@link Rule#SCANF_U64}) small enough that
     * {@link Sectors#toBytes} takes it: targets convert with that, never by shifting themselves.
     */
    public long shiftSectors(String what) throws TargetException {
        return shiftNumber(Rule.SCANF_U64, what, 0, Sectors.MAX_SECTORS);
    }

    /** {@code dm_read_arg}: a {@code %u} number in the range, or the range's error. */
    public long read(Range range) throws TargetException {
        int index = position;
        String text = shiftOrNull();
        OptionalLong v = text == null ? OptionalLong.empty() : Rule.SCANF_U32.parse(text);
        if (v.isEmpty() || v.getAsLong() < range.min() || v.getAsLong() > range.max()) {
            throw error(index, range.error());
        }
        return v.getAsLong();
    }

    /**
     * {@code dm_read_arg_group}: a count in the range followed by that many arguments, handed back as
     * their own cursor; this cursor moves past them. A bad count and a count larger than what follows
     * give the one error of the range, as in the kernel.
     */
    public Args group(Range range) throws TargetException {
        int countIndex = position;
        int count = (int) read(range);
        if (count > remaining()) {
            throw error(countIndex, range.error());
        }
        return take(count);
    }

    /** {@link #group}, or an empty cursor when no argument is left (the kernel's "if (!argc) return 0"). */
    public Args optionalGroup(Range range) throws TargetException {
        return hasMore() ? group(range) : take(0);
    }

    /** The next {@code n} arguments as their own cursor (the caller has checked {@link #remaining()}). */
    public Args take(int n) {
        if (n < 0 || n > remaining()) {
            throw new IllegalArgumentException("take(" + n + ") with " + remaining() + " arguments left");
        }
        Args group = new Args(values, position, position + n);
        position += n;
        return group;
    }

    /** {@code dm_consume_args}: steps over {@code n} arguments read by index (the caller has checked {@link #remaining()}). */
    public void skip(int n) {
        take(n);
    }

    /** For targets whose constructor checks {@code argc}: an error naming the first argument too many. */
    public void requireEnd(String why) throws TargetException {
        if (hasMore()) {
            throw error(position, why);
        }
    }

    /** For targets whose constructor, like the kernel's, never looks at arguments past what it parsed. */
    public void ignoreRest() {
        position = end;
    }

    /** An error about the argument last shifted (or, before any, the first of this window). */
    public TargetException error(String why) {
        return error(Math.max(position - 1, start), why);
    }
}
