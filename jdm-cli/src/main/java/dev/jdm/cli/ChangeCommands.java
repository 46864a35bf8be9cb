package dev.jdm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jdm.daemon.ControlClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** The commands that change devices: create, load, clear, suspend, resume, remove, remove_all, rename, message, mangle. */
final class ChangeCommands {
    private ChangeCommands() {
    }

    /** Where a table comes from: --table TEXT, a file, or standard input. */
    static String readTable(String inline, Path file) throws Action.Failed {
        if (inline != null) {
            return inline;
        }
        try {
            return file != null ? Files.readString(file) : new String(System.in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new Action.Failed("cannot read the table from " + (file != null ? file : "standard input") + ": " + e.getMessage());
        }
    }

    @Command(name = "create", description = {
            "Creates a device.",
            "Its table (--table, TABLE_FILE, or standard input) is loaded and made live at once;",
            "with --notable the device starts with no table."})
    static final class Create extends Action {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;
        @Parameters(index = "1", arity = "0..1", paramLabel = "TABLE_FILE")
        Path tableFile;
        @Option(names = "--table", paramLabel = "TABLE", description = "The table text (lines separated by newlines).")
        String table;
        @Option(names = "--notable", description = "Create the device without a table.")
        boolean notable;
        @Option(names = {"-u", "--uuid"}, paramLabel = "UUID", description = "The device's uuid.")
        String uuid;
        @Option(names = {"-r", "--readonly"}, description = "Make the table read-only.")
        boolean readOnly;
        @Option(names = {"-m", "--minor"}, paramLabel = "MINOR", description = "Ask for this minor number.")
        Integer minor;

        @Override
        int run(ControlClient daemon) throws Failed {
            String mangled = mangle(name);
            ObjectNode req = request("create").put("name", mangled).put("readOnly", readOnly);
            try {
                if (uuid != null) {
                    req.put("uuid", mangling().mangle(uuid, "UUID"));
                }
            } catch (NameMangling.MangleException e) {
                throw new Failed("create failed: " + e.getMessage());
            }
            if (minor != null) {
                req.put("minor", minor);
            }
            if (!notable) {
                req.put("table", readTable(table, tableFile));
            }
            call(daemon, req, mangled);
            return 0;
        }
    }

    @Command(name = "load", aliases = "reload", description = "Loads a table into the inactive slot; resume makes it live.")
    static final class Load extends Action {
        @Parameters(index = "0", arity = "0..1", paramLabel = "NAME")
        String name;
        @Parameters(index = "1", arity = "0..1", paramLabel = "TABLE_FILE")
        Path tableFile;
        @Option(names = "--table", paramLabel = "TABLE", description = "The table text.")
        String table;
        @Option(names = {"-r", "--readonly"}, description = "Make the table read-only.")
        boolean readOnly;
        @Mixin
        Selection selection;

        @Override
        int run(ControlClient daemon) throws Failed {
            ObjectNode req = request("load");
            String subject = select(req, name, selection);
            req.put("table", readTable(table, tableFile)).put("readOnly", readOnly);
            call(daemon, req, subject);
            return 0;
        }
    }

    /** A command that only names a device: clear, resume. */
    abstract static class OnDevice extends Action {
        @Parameters(index = "0", arity = "0..1", paramLabel = "NAME")
        String name;
        @Mixin
        Selection selection;

        abstract String op();

        void addFlags(ObjectNode req) {
        }

        @Override
        int run(ControlClient daemon) throws Failed {
            ObjectNode req = request(op());
            String subject = select(req, name, selection);
            addFlags(req);
            call(daemon, req, subject);
            return 0;
        }
    }

    @Command(name = "clear", description = "Drops the inactive table.")
    static final class Clear extends OnDevice {
        @Override
        String op() {
            return "clear";
        }
    }

    @Command(name = "suspend", description = "Stops I/O to the device, waiting for I/O in flight.")
    static final class Suspend extends OnDevice {
        @Option(names = "--noflush", description = "Do not flush queued I/O.")
        boolean noflush;
        @Option(names = "--nolockfs", description = "Accepted for dmsetup compatibility (no file system to freeze).")
        boolean nolockfs;

        @Override
        String op() {
            return "suspend";
        }

        @Override
        void addFlags(ObjectNode req) {
            req.put("noflush", noflush);
        }
    }

    @Command(name = "resume", description = "Makes the inactive table live, if there is one, and lets I/O flow.")
    static final class Resume extends OnDevice {
        @Override
        String op() {
            return "resume";
        }
    }

    @Command(name = "remove", description = "Removes devices.")
    static final class Remove extends Action {
        @Parameters(arity = "0..*", paramLabel = "NAME")
        List<String> names = List.of();
        @Option(names = {"-f", "--force"}, description = "Replace the table of an open device with one that fails all I/O, then remove it.")
        boolean force;
        @Option(names = "--deferred", description = "Remove an open device once its last user closes it.")
        boolean deferred;
        @Mixin
        Selection selection;

        @Override
        int run(ControlClient daemon) throws Failed {
            if (names.isEmpty()) {
                return removeOne(daemon, null);
            }
            for (String n : names) {
                removeOne(daemon, n);
            }
            return 0;
        }

        private int removeOne(ControlClient daemon, String n) throws Failed {
            ObjectNode req = request("remove");
            String subject = select(req, n, selection);
            call(daemon, req.put("force", force).put("deferred", deferred), subject);
            return 0;
        }
    }

    @Command(name = "remove_all", description = "Removes every device that is not in use (with -f, every device).")
    static final class RemoveAll extends Action {
        @Option(names = {"-f", "--force"}, description = "Wipe the tables of open devices and remove them too.")
        boolean force;

        @Override
        int run(ControlClient daemon) throws Failed {
            JsonNode reply = call(daemon, request("remove_all").put("force", force), null);
            ArrayNode failed = (ArrayNode) reply.path("failed");
            if (failed.isEmpty()) {
                return 0;
            }
            StringBuilder why = new StringBuilder("remove_all failed:");
            failed.forEach(f -> why.append(" ").append(f.asText()).append(";"));
            throw new Failed(why.substring(0, why.length() - 1));
        }
    }

    @Command(name = "rename", description = "Renames a device (NEW), or gives a device without a uuid one (--setuuid).")
    static final class Rename extends Action {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;
        @Parameters(index = "1", arity = "0..1", paramLabel = "NEW")
        String newName;
        @Option(names = "--setuuid", paramLabel = "UUID", description = "Set the uuid instead of renaming.")
        String setUuid;

        @Override
        int run(ControlClient daemon) throws Failed {
            if ((newName == null) == (setUuid == null)) {
                throw new Failed("rename failed: give either NEW or --setuuid UUID");
            }
            String subject = mangle(name);
            ObjectNode req = request("rename").put("name", subject);
            if (newName != null) {
                req.put("newName", mangle(newName));
            } else {
                try {
                    req.put("setUuid", mangling().mangle(setUuid, "UUID"));
                } catch (NameMangling.MangleException e) {
                    throw new Failed("rename failed: " + e.getMessage());
                }
            }
            call(daemon, req, subject);
            return 0;
        }
    }

    @Command(name = "message", description = "Sends a message to the target at SECTOR (or to the core, for @... messages) and prints its answer.")
    static final class Message extends Action {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;
        @Parameters(index = "1", paramLabel = "SECTOR")
        long sector;
        @Parameters(index = "2..*", arity = "1..*", paramLabel = "MSG")
        List<String> words;

        @Override
        int run(ControlClient daemon) throws Failed {
            String subject = mangle(name);
            // As dmsetup: the words joined with spaces, for the daemon to split as the kernel does (so
            // "create_thin 0" is two words and a backslash keeps a space inside one).
            ObjectNode req = request("message").put("name", subject).put("sector", sector).put("text", String.join(" ", words));
            JsonNode reply = call(daemon, req, subject);
            if (reply.hasNonNull("response")) {
                out().println(reply.get("response").asText());
            }
            return 0;
        }
    }

    @Command(name = "mangle", description = "Renames devices whose names are not in the form --manglename asks for (default: auto = mangled).")
    static final class Mangle extends Action {
        @Parameters(arity = "0..1", paramLabel = "NAME")
        String name;

        @Override
        int run(ControlClient daemon) throws Failed {
            JsonNode devices = call(daemon, request("list"), null).path("devices");
            boolean ok = true;
            for (JsonNode d : devices) {
                String current = d.path("name").asText();
                if (name == null || name.equals(current)) {
                    ok &= mangleOne(daemon, current, d.path("uuid").asText());
                }
            }
            return ok ? 0 : 1;
        }

        private boolean mangleOne(ControlClient daemon, String current, String uuid) throws Failed {
            NameMangling target = mangling();
            String wanted;
            String wantedUuid;
            if (target == NameMangling.NONE) {
                wanted = NameMangling.unmangle(current);
                wantedUuid = NameMangling.unmangle(uuid);
            } else {
                if (current.contains("\\x5cx")) {
                    spec.commandLine().getErr().println("jdm: The name \"" + current
                            + "\" seems to be mangled more than once. Manual intervention required to rename the device.");
                    return false;
                }
                try {
                    wanted = target.mangle(current, "name");
                    wantedUuid = target.mangle(uuid, "UUID");
                } catch (NameMangling.MangleException e) {
                    spec.commandLine().getErr().println("jdm: " + e.getMessage());
                    return false;
                }
            }
            if (!uuid.equals(wantedUuid)) {
                spec.commandLine().getErr().println("jdm: " + current + ": " + uuid + ": UUID in incorrect form. "
                        + "Unable to change device UUID. The device must be deactivated first.");
                return false;
            }
            if (current.equals(wanted)) {
                out().println(current + ": " + (uuid.isEmpty() ? "[no UUID]" : uuid) + ": name "
                        + (uuid.isEmpty() ? "" : "and UUID ") + "already in correct form");
                return true;
            }
            out().println(current + ": renaming to " + wanted);
            call(daemon, request("rename").put("name", current).put("newName", wanted), current);
            return true;
        }
    }
}
