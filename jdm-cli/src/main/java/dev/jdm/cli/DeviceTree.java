package dev.jdm.cli;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.Locale;

/**
 * {@code dmsetup ls --tree}: each device not used by another one, with the devices its table uses
 * below it, drawn the way dmsetup draws them (pstree's symbols, UTF-8 when the locale is).
 */
final class DeviceTree {
    private record Symbols(String branch, String vertical, String last) {
    }

    private static final Symbols ASCII = new Symbols("|-", "| ", "`-");
    private static final Symbols UTF = new Symbols("\u251c\u2500", "\u2502 ", "\u2514\u2500");

    private Symbols symbols;
    private boolean device = true;
    private boolean blkdevname;
    private boolean active;
    private boolean rw;
    private boolean open;
    private boolean uuid;

    private final Map<String, JsonNode> mappedById = new HashMap<>();
    private final List<Boolean> more = new ArrayList<>();

    private DeviceTree(boolean utf) {
        symbols = utf ? UTF : ASCII;
    }

    /** The tree options of {@code ls --tree -o}: ascii, utf, device, nodevice, blkdevname, active, rw, open, uuid, notrunc. */
    static DeviceTree of(String options, boolean utf) {
        DeviceTree t = new DeviceTree(utf);
        if (options == null) {
            return t;
        }
        for (String o : options.split(",")) {
            switch (o) {
                case "ascii" -> t.symbols = ASCII;
                case "utf" -> t.symbols = UTF;
                case "device" -> t.device = true;
                case "nodevice" -> t.device = false;
                case "blkdevname" -> t.blkdevname = true;
                case "active" -> t.active = true;
                case "rw" -> t.rw = true;
                case "open" -> t.open = true;
                case "uuid" -> t.uuid = true;
                // jdm never truncates lines, so asking it not to is already done.
                case "notrunc" -> { }
                default -> throw new IllegalArgumentException("Tree option not recognised: " + o + ".");
            }
        }
        return t;
    }

    /** Whether the locale asks for UTF-8, as nl_langinfo(CODESET) would say. */
    static boolean localeIsUtf8() {
        for (String var : new String[]{"LC_ALL", "LC_CTYPE", "LANG"}) {
            String v = System.getenv(var);
            if (v != null && !v.isEmpty()) {
                String lower = v.toLowerCase(Locale.ROOT);
                return lower.contains("utf-8") || lower.contains("utf8");
            }
        }
        return false;
    }

    void print(List<JsonNode> devices, PrintWriter out) {
        Set<String> used = new HashSet<>();
        for (JsonNode d : devices) {
            mappedById.put(d.path("major").asInt() + ":" + d.path("minor").asInt(), d);
            d.path("deps").forEach(dep -> used.add(dep.path("id").asText()));
        }
        List<JsonNode> roots = devices.stream()
                .filter(d -> !used.contains(d.path("major").asInt() + ":" + d.path("minor").asInt())).toList();
        walk(roots, 0, out);
    }

    private void walk(List<JsonNode> nodes, int depth, PrintWriter out) {
        for (int i = 0; i < nodes.size(); i++) {
            JsonNode node = nodes.get(i);
            List<JsonNode> children = children(node);
            setMore(depth, i < nodes.size() - 1);
            printNode(node, depth, out);
            if (!children.isEmpty()) {
                walk(children, depth + 1, out);
            }
        }
    }

    /** A mapped device's dependencies (mapped ones as their full entries); other devices have none. */
    private List<JsonNode> children(JsonNode node) {
        if (!node.has("deps")) {
            return List.of();
        }
        List<JsonNode> c = new ArrayList<>();
        for (JsonNode dep : node.path("deps")) {
            c.add(mappedById.getOrDefault(dep.path("id").asText(), dep));
        }
        return c;
    }

    private void setMore(int depth, boolean value) {
        while (more.size() <= depth) {
            more.add(false);
        }
        more.set(depth, value);
    }

    private void printNode(JsonNode node, int depth, PrintWriter out) {
        boolean mapped = node.has("deps");
        String name = mapped ? node.path("name").asText() : "";
        String kernelName = node.path("blkdevname").asText(mapped ? "dm-" + node.path("minor").asInt() : "");
        if (name.isEmpty() && !device && (!blkdevname || kernelName.isEmpty())) {
            // Nothing to show: a file has neither a name nor a kernel name.
            return;
        }
        StringBuilder line = new StringBuilder();
        for (int d = 0; d < depth; d++) {
            line.append(' ');
            if (d == depth - 1) {
                line.append(more.get(depth) ? symbols.branch : symbols.last);
            } else {
                line.append(more.get(d + 1) ? symbols.vertical : "  ");
            }
        }
        line.append(name);
        if (blkdevname && !kernelName.isEmpty()) {
            line.append(" <").append(kernelName).append('>');
        }
        if (device) {
            line.append(" (").append(InfoReport.devno(node)).append(')');
        }
        if (mapped) {
            appendAttributes(node, line);
        }
        out.println(line);
    }

    private void appendAttributes(JsonNode node, StringBuilder line) {
        List<String> attrs = new ArrayList<>();
        if (active) {
            attrs.add(node.path("suspended").asBoolean() ? "SUSPENDED" : "ACTIVE");
        }
        if (rw) {
            attrs.add(node.path("readOnly").asBoolean() ? "RO" : "RW");
        }
        if (open) {
            attrs.add(node.path("openCount").asText());
        }
        if (uuid) {
            attrs.add(node.path("uuid").asText());
        }
        if (!attrs.isEmpty()) {
            line.append(" [").append(String.join(", ", attrs)).append(']');
        }
    }
}
