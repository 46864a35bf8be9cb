package dev.jdm.core.spi;

import java.util.List;

/**
 * A table line's arguments with the kernel's strict parsing (decimal digits only, nothing after
 * them, ranges checked) and errors that name the argument: {@code argument 2 ("x1"): invalid offset}.
 * Arguments are numbered from 1, after the target type.
 */
public final class Args {
    private final List<String> values;

    public Args(List<String> values) {
        this.values = List.copyOf(values);
    }

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

    public List<String> from(int index) {
        return values.subList(Math.min(index, values.size()), values.size());
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
            return new TargetException("argument " + (index + 1) + " is missing: " + why);
        }
        return new TargetException("argument " + (index + 1) + " (\"" + values.get(index) + "\"): " + why);
    }

    /** An unsigned 64-bit decimal, parsed the way the kernel's {@code sscanf("%llu%c")} accepts it. */
    public long u64(int index, String what) throws TargetException {
        return number(index, what, 0, Long.MAX_VALUE);
    }

    /** An unsigned 32-bit decimal. */
    public long u32(int index, String what) throws TargetException {
        return number(index, what, 0, 0xffff_ffffL);
    }

    /** A decimal in [min, max]. */
    public long number(int index, String what, long min, long max) throws TargetException {
        if (index >= values.size()) {
            throw error(index, what);
        }
        String s = values.get(index);
        if (s.isEmpty() || s.length() > 19 || !s.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw error(index, "invalid " + what);
        }
        long v = Long.parseLong(s);
        if (v < min || v > max) {
            throw error(index, what + " out of range (" + min + ".." + max + ")");
        }
        return v;
    }
}
