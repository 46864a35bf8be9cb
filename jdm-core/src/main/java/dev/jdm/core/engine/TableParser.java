package dev.jdm.core.engine;

import dev.jdm.core.DmException;
import dev.jdm.core.Errno;

import java.util.ArrayList;
import java.util.List;

/**
 * Parses table text the way dmsetup and the kernel do: one target per line, blank lines and lines
 * starting with {@code #} skipped, words split on white space, a backslash keeping the next
 * character (so {@code \ } is a space inside a word). Only syntax is checked here; {@link Table}
 * checks the semantics.
 */
public final class TableParser {
    private TableParser() {
    }

    public static List<TableLine> parse(String text) throws DmException {
        List<TableLine> lines = new ArrayList<>();
        String[] raw = text.split("\n", -1);
        for (int i = 0; i < raw.length; i++) {
            String line = raw[i].strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            lines.add(parseLine(i + 1, line));
        }
        return lines;
    }

    static TableLine parseLine(int lineNumber, String line) throws DmException {
        List<String> words = split(lineNumber, line);
        if (words.size() < 3) {
            throw new DmException(Errno.EINVAL, "table line " + lineNumber
                    + ": expected <start> <length> <target type> [arguments...], got \"" + line + "\"");
        }
        long start = sector(lineNumber, words.get(0), "start sector");
        long length = sector(lineNumber, words.get(1), "length");
        return new TableLine(lineNumber, start, length, words.get(2), List.copyOf(words.subList(3, words.size())));
    }

    private static long sector(int lineNumber, String word, String what) throws DmException {
        if (word.isEmpty() || word.length() > 19 || !word.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new DmException(Errno.EINVAL, "table line " + lineNumber + ": invalid " + what + " \"" + word
                    + "\" (a decimal number of 512-byte sectors)");
        }
        return Long.parseLong(word);
    }

    /** A table line's words; unlike a message, a line may not end in a lone backslash (it would escape nothing). */
    static List<String> split(int lineNumber, String line) throws DmException {
        int trailing = 0;
        while (trailing < line.length() && line.charAt(line.length() - 1 - trailing) == '\\') {
            trailing++;
        }
        if (trailing % 2 == 1) {
            throw new DmException(Errno.EINVAL, "table line " + lineNumber + ": backslash at the end of the line");
        }
        return splitArgs(line);
    }

    /**
     * The kernel's dm_split_args, which splits a table line or a message into words: white space separates
     * them, a backslash keeps the next character in the word (so {@code \ } is a space inside a word and
     * {@code \\} a backslash), and a backslash at the very end stays as it is.
     */
    public static List<String> splitArgs(String text) {
        List<String> words = new ArrayList<>();
        StringBuilder word = new StringBuilder();
        boolean inWord = false;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '\\' && i + 1 < text.length()) {
                word.append(text.charAt(++i));
                inWord = true;
            } else if (Character.isWhitespace(c)) {
                if (inWord) {
                    words.add(word.toString());
                    word.setLength(0);
                    inWord = false;
                }
            } else {
                word.append(c);
                inWord = true;
            }
        }
        if (inWord) {
            words.add(word.toString());
        }
        return words;
    }

    /** Escapes white space and backslashes so {@link #split} gives the word back. */
    static String escape(String word) {
        StringBuilder sb = new StringBuilder(word.length());
        for (int i = 0; i < word.length(); i++) {
            char c = word.charAt(i);
            if (c == '\\' || Character.isWhitespace(c)) {
                sb.append('\\');
            }
            sb.append(c);
        }
        return sb.toString();
    }
}
