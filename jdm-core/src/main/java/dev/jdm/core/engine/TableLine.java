package dev.jdm.core.engine;

import java.util.List;

/** One parsed line of a table: {@code <start> <length> <type> <args...>}, in sectors. */
public record TableLine(int lineNumber, long start, long length, String type, List<String> args) {

    /** The line as the kernel would read it back with these arguments. */
    public String text() {
        StringBuilder sb = new StringBuilder().append(start).append(' ').append(length).append(' ').append(type);
        for (String a : args) {
            sb.append(' ').append(TableParser.escape(a));
        }
        return sb.toString();
    }
}
