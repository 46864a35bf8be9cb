package dev.jdm.formats.luks;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.Iterator;
import java.util.Map;

/**
 * Prints JSON the way json-c's JSON_C_TO_STRING_PRETTY | NOSLASHESCAPE does, which is what
 * {@code cryptsetup luksDump --dump-json-metadata} shows: two-space indent, no space after the
 * colon, empty containers still broken over two lines.
 */
final class JsonCStyle {

    private JsonCStyle() {
    }

    static String pretty(JsonNode node) {
        StringBuilder out = new StringBuilder();
        write(node, 0, out);
        return out.toString();
    }

    private static void write(JsonNode node, int level, StringBuilder out) {
        if (node.isObject()) {
            out.append("{\n");
            boolean first = true;
            for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> field = it.next();
                out.append(first ? "" : ",\n");
                indent(level + 1, out);
                quote(field.getKey(), out);
                out.append(':');
                write(field.getValue(), level + 1, out);
                first = false;
            }
            close(first, level, '}', out);
        } else if (node.isArray()) {
            out.append("[\n");
            boolean first = true;
            for (JsonNode element : node) {
                out.append(first ? "" : ",\n");
                indent(level + 1, out);
                write(element, level + 1, out);
                first = false;
            }
            close(first, level, ']', out);
        } else if (node.isTextual()) {
            quote(node.asText(), out);
        } else {
            out.append(node.asText());
        }
    }

    private static void close(boolean empty, int level, char bracket, StringBuilder out) {
        if (!empty) {
            out.append('\n');
        }
        indent(level, out);
        out.append(bracket);
    }

    private static void indent(int level, StringBuilder out) {
        out.append("  ".repeat(level));
    }

    private static void quote(String text, StringBuilder out) {
        out.append('"');
        for (char c : text.toCharArray()) {
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\b' -> out.append("\\b");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\f' -> out.append("\\f");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }
}
