package dev.jdm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jdm.daemon.ControlClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.List;

/** {@code jdm multipath}: the multipath devices' topology, as {@code multipath -ll} prints it. */
@Command(name = "multipath", description = {
        "Shows each multipath device with its path groups and paths, as multipath -ll does: the device's name, (uuid),"
                + " dm-MINOR and jdm,multipath; its size, features, hardware handler and write protection; each group's"
                + " selector with its arguments, priority (the table's order: the first group is the highest) and status"
                + " (active, enabled or disabled); each path's device, its state in the target (active or failed), the"
                + " daemon's path checker's state (ready, faulty, i/o timeout, i/o pending, or undef before the first"
                + " check) and whether its device could be opened (running, offline, unknown)."})
final class MultipathCommand extends Action {
    @Parameters(arity = "0..*", paramLabel = "NAME", description = "A multipath device to show (default: every one).")
    List<String> names = new ArrayList<>();

    @Option(names = "--json", description = "Print the topology as JSON, with the same fields and each path's fail count.")
    boolean json;

    @Override
    int run(ControlClient daemon) throws Failed {
        ObjectNode req = request("multipath");
        ArrayNode wanted = req.putArray("names");
        for (String n : names) {
            wanted.add(mangle(n));
        }
        JsonNode maps = call(daemon, req, names.isEmpty() ? null : String.join(" ", names)).path("maps");
        if (json) {
            out().println(QueryCommands.indented(maps));
        } else {
            render(maps).forEach(out()::println);
        }
        return 0;
    }

    /** The lines of multipath -ll for these maps (the "maps" of the daemon's reply). */
    static List<String> render(JsonNode maps) {
        // As multipath, each path column is as wide as its widest value among all paths shown.
        int[] widths = new int[3];
        for (JsonNode m : maps) {
            for (JsonNode g : m.path("groups")) {
                for (JsonNode p : g.path("paths")) {
                    String[] cols = pathColumns(p);
                    for (int i = 0; i < widths.length; i++) {
                        widths[i] = Math.max(widths[i], cols[i].length());
                    }
                }
            }
        }
        List<String> lines = new ArrayList<>();
        for (JsonNode m : maps) {
            String uuid = m.path("uuid").asText();
            lines.add(m.path("name").asText() + (uuid.isEmpty() || uuid.equals(m.path("name").asText()) ? "" : " (" + uuid + ")")
                    + " dm-" + m.path("minor").asInt() + " jdm,multipath");
            lines.add("size=" + size(m.path("sizeSectors").asLong()) + " features='" + m.path("features").asText()
                    + "' hwhandler='" + m.path("hwHandler").asText() + "' wp=" + (m.path("readOnly").asBoolean() ? "ro" : "rw"));
            JsonNode groups = m.path("groups");
            for (int gi = 0; gi < groups.size(); gi++) {
                JsonNode g = groups.get(gi);
                boolean lastGroup = gi == groups.size() - 1;
                lines.add((lastGroup ? '`' : '|') + "-+- policy='" + g.path("policy").asText() + "' prio=" + g.path("prio").asInt()
                        + " status=" + g.path("status").asText());
                JsonNode paths = g.path("paths");
                for (int pi = 0; pi < paths.size(); pi++) {
                    String[] cols = pathColumns(paths.get(pi));
                    StringBuilder line = new StringBuilder().append(lastGroup ? ' ' : '|').append(' ')
                            .append(pi == paths.size() - 1 ? '`' : '|').append("- ");
                    for (int i = 0; i < widths.length; i++) {
                        line.append(cols[i]).append(" ".repeat(widths[i] - cols[i].length())).append(' ');
                    }
                    lines.add(line.append(cols[3]).toString());
                }
            }
        }
        return lines;
    }

    private static String[] pathColumns(JsonNode p) {
        return new String[]{p.path("device").asText(), p.path("dmState").asText(), p.path("checker").asText(), p.path("online").asText()};
    }

    /** multipath's size: sectors in K, M, G, T or P, one decimal below 10 (its float arithmetic, rounded as printf does). */
    static String size(long sectors) {
        float s = (float) (sectors >> 1);
        String units = "KMGTP";
        int u = 0;
        while (s >= 1024 && u < units.length() - 1) {
            s = s / 1024;
            u++;
        }
        // glibc rounds the exact binary value half to even.
        return new BigDecimal(s).setScale(s < 10 ? 1 : 0, RoundingMode.HALF_EVEN).toPlainString() + units.charAt(u);
    }
}
