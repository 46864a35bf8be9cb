package dev.jdm.cli;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * {@code dmsetup info -c}: a column report of libdm-report's kind. Aligned output pads every column
 * (the last one too) to the larger of its declared width and its widest value, numbers to the
 * right, text to the left; with a separator the columns are neither aligned nor padded.
 */
final class InfoReport {
    static final String DEFAULT_FIELDS = "name,major,minor,attr,open,segments,events,uuid";

    /** The report fields jdm knows, with dmsetup's ids, headings and widths. */
    enum Field {
        NAME("name", "Name", 16, false, d -> d.path("name").asText()),
        UUID("uuid", "UUID", 32, false, d -> d.path("uuid").asText()),
        READ_AHEAD("read_ahead", "RAhead", 6, true, d -> d.path("readAhead").asText()),
        BLKDEVNAME("blkdevname", "BlkDevName", 16, false, d -> "dm-" + d.path("minor").asInt()),
        ATTR("attr", "Stat", 4, false, InfoReport::attr),
        TABLES_LOADED("tables_loaded", "Tables", 6, false, InfoReport::tablesLoaded),
        SUSPENDED("suspended", "Suspended", 9, false, d -> d.path("suspended").asBoolean() ? "Suspended" : "Active"),
        READONLY("readonly", "Read-only", 9, false, d -> d.path("readOnly").asBoolean() ? "Read-only" : "Writeable"),
        DEVNO("devno", "DevNo", 5, false, d -> d.path("major").asInt() + ":" + d.path("minor").asInt()),
        MAJOR("major", "Maj", 3, true, d -> d.path("major").asText()),
        MINOR("minor", "Min", 3, true, d -> d.path("minor").asText()),
        OPEN("open", "Open", 4, true, d -> d.path("openCount").asText()),
        SEGMENTS("segments", "Targ", 4, true, d -> d.path("targetCount").asText()),
        EVENTS("events", "Event", 6, true, d -> d.path("eventNumber").asText()),
        DEVICE_COUNT("device_count", "#Devs", 5, true, d -> Integer.toString(d.path("deps").size())),
        DEVNOS_USED("devnos_used", "DevNosUsed", 16, false, d -> used(d, InfoReport::devno)),
        BLKDEVS_USED("blkdevs_used", "BlkDevNamesUsed", 16, false, d -> used(d, dep -> dep.path("blkdevname").asText(dep.path("id").asText())));

        final String id;
        final String heading;
        final int width;
        final boolean numeric;
        final Function<JsonNode, String> value;

        Field(String id, String heading, int width, boolean numeric, Function<JsonNode, String> value) {
            this.id = id;
            this.heading = heading;
            this.width = width;
            this.numeric = numeric;
            this.value = value;
        }

        boolean needsDeps() {
            return this == DEVICE_COUNT || this == DEVNOS_USED || this == BLKDEVS_USED;
        }

        static Field of(String id) throws IllegalArgumentException {
            for (Field f : values()) {
                if (f.id.equals(id)) {
                    return f;
                }
            }
            throw new IllegalArgumentException("Unrecognised field: " + id);
        }
    }

    private final List<Field> fields;
    private final boolean headings;
    private final String separator;
    private final boolean aligned;

    private InfoReport(List<Field> fields, boolean headings, String separator, boolean aligned) {
        this.fields = fields;
        this.headings = headings;
        this.separator = separator;
        this.aligned = aligned;
    }

    /**
     * The report dmsetup's options ask for: {@code -o} replaces the default fields, or adds to them
     * when it starts with '+'; {@code --noheadings} means no headings and ':' between unaligned
     * columns; {@code --separator} means unaligned columns with that separator.
     */
    static InfoReport of(String options, boolean noHeadings, String separator) {
        String spec = options == null ? DEFAULT_FIELDS : options.startsWith("+") ? DEFAULT_FIELDS + "," + options.substring(1) : options;
        List<Field> fields = new ArrayList<>();
        for (String id : spec.split(",")) {
            if (!id.isBlank()) {
                fields.add(Field.of(id.trim()));
            }
        }
        String sep = separator != null ? separator : noHeadings ? ":" : " ";
        return new InfoReport(fields, !noHeadings, sep, separator == null && !noHeadings);
    }

    boolean needsDeps() {
        return fields.stream().anyMatch(Field::needsDeps);
    }

    void print(List<JsonNode> devices, PrintWriter out) {
        List<List<String>> rows = devices.stream().map(d -> fields.stream().map(f -> f.value.apply(d)).toList()).toList();
        int[] widths = new int[fields.size()];
        for (int i = 0; i < widths.length; i++) {
            widths[i] = fields.get(i).width;
            for (List<String> row : rows) {
                widths[i] = Math.max(widths[i], row.get(i).length());
            }
        }
        if (headings) {
            List<String> hs = new ArrayList<>();
            for (int i = 0; i < widths.length; i++) {
                // libdm cuts a heading to its column's width.
                String h = fields.get(i).heading;
                hs.add(aligned ? pad(h.substring(0, Math.min(h.length(), widths[i])), widths[i], false) : h);
            }
            out.println(String.join(separator, hs));
        }
        for (List<String> row : rows) {
            List<String> cells = new ArrayList<>();
            for (int i = 0; i < widths.length; i++) {
                cells.add(aligned ? pad(row.get(i), widths[i], fields.get(i).numeric) : row.get(i));
            }
            out.println(String.join(separator, cells));
        }
    }

    private static String pad(String s, int width, boolean right) {
        String fill = " ".repeat(Math.max(0, width - s.length()));
        return right ? fill + s : s + fill;
    }

    static String attr(JsonNode d) {
        return (d.path("liveTable").asBoolean() ? "L" : "-") + (d.path("inactiveTable").asBoolean() ? "I" : "-")
                + (d.path("suspended").asBoolean() ? "s" : "-") + (d.path("readOnly").asBoolean() ? "r" : "w");
    }

    private static String tablesLoaded(JsonNode d) {
        boolean live = d.path("liveTable").asBoolean();
        boolean inactive = d.path("inactiveTable").asBoolean();
        return live ? (inactive ? "Both" : "Live") : inactive ? "Inactive" : "None";
    }

    /** {@code major:minor} of a dependency, or its path when it is a file. */
    static String devno(JsonNode dep) {
        return dep.has("major") ? dep.path("major").asInt() + ":" + dep.path("minor").asInt() : dep.path("path").asText();
    }

    private static String used(JsonNode d, Function<JsonNode, String> each) {
        List<String> parts = new ArrayList<>();
        d.path("deps").forEach(dep -> parts.add(each.apply(dep)));
        return parts.stream().collect(Collectors.joining(","));
    }

    /** {@code dmsetup info}'s long form, blank line included. */
    static void printLong(JsonNode d, PrintWriter out) {
        out.println("Name:              " + d.path("name").asText());
        out.println("State:             " + d.path("state").asText());
        out.println("Read Ahead:        " + d.path("readAhead").asInt());
        out.println("Tables present:    " + d.path("tablesPresent").asText());
        out.println("Open count:        " + d.path("openCount").asInt());
        out.println("Event number:      " + d.path("eventNumber").asLong());
        out.println("Major, minor:      " + d.path("major").asInt() + ", " + d.path("minor").asInt());
        out.println("Number of targets: " + d.path("targetCount").asInt());
        if (!d.path("uuid").asText().isEmpty()) {
            out.println("UUID: " + d.path("uuid").asText());
        }
        out.println();
    }
}
