package dev.jdm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jdm.daemon.ControlClient;
import dev.jdm.daemon.Protocol;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.ArrayList;
import java.util.List;
import dev.jdm.daemon.JdmDaemon;
import com.fasterxml.jackson.core.JsonProcessingException;

/** The commands that only look: info, deps, ls, status, table, wait, targets, version. */
final class QueryCommands {
    private QueryCommands() {
    }

    static final String NO_DEVICES = "No devices found";

    /** A query about one device (NAME, -u, -j/-m) or, given none, every device. */
    abstract static class Query extends Action {
        @Parameters(index = "0", arity = "0..1", paramLabel = "NAME")
        String name;
        @Mixin
        Selection selection;
        @Option(names = "--json", description = "Print the daemon's answer as JSON, for scripts.")
        boolean json;

        boolean oneDevice() {
            return name != null || selection.given();
        }

        /** The info of the device NAME, -u or -j/-m names. */
        ObjectNode selectedInfo(ControlClient daemon) throws Failed {
            ObjectNode req = request("info");
            String subject = select(req, name, selection);
            return (ObjectNode) call(daemon, req, subject).path("info");
        }

        /** Every device's info, with its dependencies, sorted by name. */
        List<JsonNode> allDevices(ControlClient daemon) throws Failed {
            List<JsonNode> all = new ArrayList<>();
            call(daemon, request("list"), null).path("devices").forEach(all::add);
            return all;
        }

        void printJson(JsonNode node) {
            out().println(indented(node));
        }
    }

    /** JSON for scripts and people: indented, as every --json prints it. */
    static String indented(JsonNode node) {
        try {
            return Protocol.JSON.writer().with(SerializationFeature.INDENT_OUTPUT).writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    @Command(name = "info", description = "Shows devices' state: dmsetup's long form, or a column report with -c.")
    static final class Info extends Query {
        @Option(names = {"-c", "-C", "--columns"}, description = "A column report (one line per device).")
        boolean columns;
        @Option(names = {"-o", "--options"}, paramLabel = "FIELDS", description = {
                "Report fields (with -c), comma-separated; a leading '+' adds to the default " + InfoReport.DEFAULT_FIELDS + ".",
                "Known: name, uuid, major, minor, attr, open, segments, events, read_ahead, blkdevname, tables_loaded,",
                "suspended, readonly, devno, device_count, devnos_used, blkdevs_used."})
        String options;
        @Option(names = "--noheadings", description = "No heading line; columns separated by ':' (with -c).")
        boolean noHeadings;
        @Option(names = "--separator", paramLabel = "SEP", description = "Separate columns with SEP instead of aligning them (with -c).")
        String separator;

        @Override
        int run(ControlClient daemon) throws Failed {
            InfoReport report;
            try {
                report = columns ? InfoReport.of(options, noHeadings, separator) : null;
            } catch (IllegalArgumentException e) {
                throw new Failed("info failed: " + e.getMessage());
            }
            List<JsonNode> devices = new ArrayList<>();
            if (oneDevice()) {
                ObjectNode req = request("info");
                String subject = select(req, name, selection);
                ObjectNode info = (ObjectNode) call(daemon, req, subject).path("info");
                if (report != null && report.needsDeps()) {
                    ObjectNode deps = request("deps").put("name", info.path("name").asText());
                    info.set("deps", call(daemon, deps, subject).path("deps"));
                }
                devices.add(info);
            } else {
                devices = allDevices(daemon);
            }
            if (json) {
                printJson(oneDevice() ? devices.getFirst() : Protocol.JSON.valueToTree(devices));
            } else if (devices.isEmpty()) {
                out().println(NO_DEVICES);
            } else if (report != null) {
                report.print(devices, out());
            } else {
                devices.forEach(d -> InfoReport.printLong(d, out()));
            }
            return 0;
        }
    }

    @Command(name = "deps", description = "Lists the devices each table uses: (major, minor), or with -o devname/blkdevname their names; files by path.")
    static final class Deps extends Query {
        @Option(names = {"-o", "--options"}, paramLabel = "devno|devname|blkdevname", description = "How to show each device (default: devno).")
        String options = "devno";
        @Option(names = "--inactive", description = "Use the inactive table.")
        boolean inactive;

        @Override
        int run(ControlClient daemon) throws Failed {
            if (!List.of("devno", "devname", "blkdevname").contains(options)) {
                throw new Failed("deps failed: unknown device name type \"" + options + "\" (devno, devname or blkdevname)");
            }
            List<String> names = new ArrayList<>();
            (oneDevice() ? List.<JsonNode>of(selectedInfo(daemon)) : allDevices(daemon)).forEach(d -> names.add(d.path("name").asText()));
            ArrayNode all = Protocol.JSON.createArrayNode();
            if (names.isEmpty() && !json) {
                out().println(NO_DEVICES);
            }
            for (String devName : names) {
                JsonNode deps = call(daemon, request("deps").put("name", devName).put("inactive", inactive), devName).path("deps");
                if (json) {
                    all.addObject().put("name", devName).set("deps", deps);
                    continue;
                }
                StringBuilder line = new StringBuilder(oneDevice() ? "" : devName + ": ");
                line.append(deps.size()).append(" dependencies\t:");
                deps.forEach(dep -> line.append(" (").append(show(dep)).append(')'));
                out().println(line);
            }
            if (json) {
                printJson(oneDevice() ? all.get(0).path("deps") : all);
            }
            return 0;
        }

        private String show(JsonNode dep) {
            if (!dep.has("major")) {
                return dep.path("path").asText();
            }
            return switch (options) {
                case "devname" -> dep.path("name").asText(dep.path("major").asInt() + ", " + dep.path("minor").asInt());
                case "blkdevname" -> dep.path("blkdevname").asText(dep.path("major").asInt() + ", " + dep.path("minor").asInt());
                default -> dep.path("major").asInt() + ", " + dep.path("minor").asInt();
            };
        }
    }

    @Command(name = "ls", description = "Lists devices: NAME<TAB>(MAJOR:MINOR); --target TYPE keeps those with such a target; --tree draws what uses what.")
    static final class Ls extends Action {
        @Option(names = "--target", paramLabel = "TYPE", description = "Only devices with a target of this type.")
        String target;
        @Option(names = "--tree", description = "Draw the devices as a tree of dependencies.")
        boolean tree;
        @Option(names = {"-o", "--options"}, paramLabel = "OPTIONS", description = {
                "Without --tree: devno (default), devname or blkdevname.",
                "With --tree: a comma list of ascii, utf, device, nodevice, blkdevname, active, rw, open, uuid, notrunc."})
        String options;
        @Option(names = "--json", description = "Print the device list as JSON (with each device's dependencies).")
        boolean json;

        @Override
        int run(ControlClient daemon) throws Failed {
            List<JsonNode> devices = new ArrayList<>();
            call(daemon, request("list"), null).path("devices").forEach(devices::add);
            if (target != null) {
                devices = withTarget(daemon, devices);
            }
            if (json) {
                out().println(Protocol.JSON.valueToTree(devices).toPrettyString());
                return 0;
            }
            if (devices.isEmpty()) {
                if (target == null) {
                    out().println(NO_DEVICES);
                }
                return 0;
            }
            if (tree) {
                try {
                    DeviceTree.of(options, DeviceTree.localeIsUtf8()).print(devices, out());
                } catch (IllegalArgumentException e) {
                    throw new Failed("ls failed: " + e.getMessage());
                }
                return 0;
            }
            for (JsonNode d : devices) {
                String number = d.path("major").asInt() + (target != null ? ", " : ":") + d.path("minor").asInt();
                String shown = "blkdevname".equals(options) ? "dm-" + d.path("minor").asInt()
                        : "devname".equals(options) ? d.path("name").asText() : number;
                out().println(d.path("name").asText() + "\t(" + (target != null ? number : shown) + ")");
            }
            return 0;
        }

        private List<JsonNode> withTarget(ControlClient daemon, List<JsonNode> devices) throws Failed {
            List<JsonNode> kept = new ArrayList<>();
            for (JsonNode d : devices) {
                JsonNode lines = call(daemon, request("table").put("name", d.path("name").asText()), d.path("name").asText()).path("targets");
                for (JsonNode l : lines) {
                    if (l.path("type").asText().equals(target)) {
                        kept.add(d);
                        break;
                    }
                }
            }
            return kept;
        }
    }

    /** status and table: {@code start length type params} per target, prefixed by {@code NAME: } when listing every device. */
    abstract static class Lines extends Query {
        @Option(names = "--target", paramLabel = "TYPE", description = "Only targets of this type.")
        String target;
        @Option(names = "--inactive", description = "Use the inactive table.")
        boolean inactive;

        abstract String op();

        String shown(String type, String params) {
            return params;
        }

        /** dmsetup's --concise form (table only): every device on one line. */
        boolean concise() {
            return false;
        }

        @Override
        int run(ControlClient daemon) throws Failed {
            List<JsonNode> devices = oneDevice() ? List.of(selectedInfo(daemon)) : allDevices(daemon);
            if (devices.isEmpty() && !json) {
                out().println(NO_DEVICES);
            }
            ArrayNode all = Protocol.JSON.createArrayNode();
            StringBuilder conciseLine = new StringBuilder();
            for (JsonNode d : devices) {
                String devName = d.path("name").asText();
                JsonNode lines = call(daemon, request(op()).put("name", devName).put("inactive", inactive), devName).path("targets");
                List<JsonNode> kept = new ArrayList<>();
                for (JsonNode l : lines) {
                    if (target == null || l.path("type").asText().equals(target)) {
                        ((ObjectNode) l).put("params", shown(l.path("type").asText(), l.path("params").asText()));
                        kept.add(l);
                    }
                }
                // A device shows when a target matched, or, without --target, when it has no table at all.
                boolean shows = !kept.isEmpty() || (lines.isEmpty() && target == null);
                if (json) {
                    all.addObject().put("name", devName).set("targets", Protocol.JSON.valueToTree(kept));
                } else if (concise()) {
                    if (shows) {
                        appendConcise(conciseLine, d, kept);
                    }
                } else {
                    String prefix = oneDevice() ? "" : devName + ": ";
                    if (lines.isEmpty() && shows) {
                        // dmsetup prints an empty line for a device without a table.
                        out().println(prefix);
                    }
                    for (JsonNode l : kept) {
                        out().println(prefix + l.path("start").asLong() + " " + l.path("length").asLong() + " "
                                + l.path("type").asText() + " " + l.path("params").asText());
                    }
                }
            }
            if (json) {
                printJson(oneDevice() ? all.get(0).path("targets") : all);
            } else if (!conciseLine.isEmpty()) {
                out().println(conciseLine);
            }
            return 0;
        }

        /** {@code name,uuid,minor,ro|rw,start length type params,...}; devices joined by ';', with ',' ';' '\' escaped. */
        private static void appendConcise(StringBuilder line, JsonNode d, List<JsonNode> targets) {
            if (!line.isEmpty()) {
                line.append(';');
            }
            line.append(quoted(d.path("name").asText())).append(',').append(quoted(d.path("uuid").asText()))
                    .append(',').append(d.path("minor").asInt()).append(',').append(d.path("readOnly").asBoolean() ? "ro" : "rw");
            for (JsonNode l : targets) {
                line.append(',').append(l.path("start").asLong()).append(' ').append(l.path("length").asLong()).append(' ')
                        .append(l.path("type").asText()).append(' ').append(quoted(l.path("params").asText()));
            }
        }

        private static String quoted(String s) {
            return s.replaceAll("([,;\\\\])", "\\\\$1");
        }
    }

    @Command(name = "status", description = "Shows each target's status line.")
    static final class Status extends Lines {
        @Override
        String op() {
            return "status";
        }
    }

    @Command(name = "table", description = "Shows the table as the targets print it (crypt and integrity keys zeroed unless --showkeys).")
    static final class Table extends Lines {
        @Option(names = "--showkeys", description = "Show encryption keys.")
        boolean showKeys;
        @Option(names = "--concise", description = "Every device on one line: name,uuid,minor,ro|rw,target,...; devices separated by ';'.")
        boolean concise;

        @Override
        boolean concise() {
            return concise;
        }

        @Override
        String op() {
            return "table";
        }

        @Override
        String shown(String type, String params) {
            return showKeys ? params : KeyHiding.hide(type, params);
        }
    }

    @Command(name = "wait", description = "Waits until the device's event number is not EVENT_NR (default 0), then shows its info.")
    static final class Wait extends Action {
        @Parameters(index = "0", arity = "0..1", paramLabel = "NAME")
        String name;
        @Parameters(index = "1", arity = "0..1", paramLabel = "EVENT_NR")
        long eventNr;
        @Option(names = "--timeout", paramLabel = "SECONDS", description = "Give up after this long (exit 1).")
        Long timeoutSeconds;
        @Option(names = "--noudevsync", description = "Accepted for dmsetup compatibility.")
        boolean noUdevSync;
        @Option(names = "--json", description = "Print the info as JSON.")
        boolean json;
        @Mixin
        Selection selection;

        @Override
        int run(ControlClient daemon) throws Failed {
            ObjectNode req = request("wait").put("eventNr", eventNr);
            String subject = select(req, name, selection);
            if (timeoutSeconds != null) {
                req.put("timeout", timeoutSeconds * 1000);
            }
            JsonNode info = call(daemon, req, subject).path("info");
            if (timeoutSeconds != null && info.path("eventNumber").asLong() == eventNr) {
                throw new Failed("wait " + subject + " failed: no event within " + timeoutSeconds + " s");
            }
            if (json) {
                out().println(info.toPrettyString());
            } else {
                InfoReport.printLong(info, out());
            }
            return 0;
        }
    }

    @Command(name = "targets", description = "Lists the target types the daemon knows, with their versions.")
    static final class Targets extends Action {
        @Option(names = "--json", description = "Print the list as JSON.")
        boolean json;

        @Override
        int run(ControlClient daemon) throws Failed {
            JsonNode targets = call(daemon, request("targets"), null).path("targets");
            if (json) {
                out().println(targets.toPrettyString());
                return 0;
            }
            for (JsonNode t : targets) {
                JsonNode v = t.path("version");
                out().println(String.format("%-16s v%d.%d.%d", t.path("name").asText(), v.get(0).asInt(), v.get(1).asInt(), v.get(2).asInt()));
            }
            return 0;
        }
    }

    @Command(name = "version", description = "Shows the versions of the jdm command and of the daemon's device-mapper interface.")
    static final class Version extends Action {
        @Option(names = "--json", description = "Print the versions as JSON.")
        boolean json;

        @Override
        void beforeConnecting() {
            if (!json) {
                out().println("Library version:   jdm " + JdmDaemon.version());
            }
        }

        @Override
        int run(ControlClient daemon) throws Failed {
            JsonNode v = call(daemon, request("version"), null);
            if (json) {
                ObjectNode o = Protocol.JSON.createObjectNode().put("library", "jdm " + JdmDaemon.version())
                        .put("daemon", v.path("library").asText()).put("driver", v.path("driver").asText());
                out().println(o.toPrettyString());
                return 0;
            }
            out().println("Driver version:    " + v.path("driver").asText() + " (" + v.path("library").asText() + " daemon)");
            return 0;
        }
    }
}
