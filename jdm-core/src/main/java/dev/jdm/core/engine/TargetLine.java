package dev.jdm.core.engine;

/** One line of {@code status} or {@code table} output: sectors, type, and the target's own text. */
public record TargetLine(long start, long length, String type, String params) {

    /** {@code <start> <length> <type> <params>}, with the space dmsetup prints even when params are empty. */
    public String format() {
        return start + " " + length + " " + type + " " + params;
    }
}
