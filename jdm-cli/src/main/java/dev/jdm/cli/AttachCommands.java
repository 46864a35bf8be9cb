package dev.jdm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jdm.daemon.ControlClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * attach, detach, attachments: kernel block devices for the daemon's NBD exports. The daemon makes
 * and keeps them (an attachment must outlive this process), so these are plain requests.
 */
final class AttachCommands {
    private AttachCommands() {
    }

    @Command(name = "attach", description = {
            "Makes a kernel block device for a device and prints its path, e.g. /dev/loop3.",
            "(nbd-client on /dev/nbdN when the nbd module is there, else nbdfuse + a loop device.)",
            "The daemon keeps it until detach, remove --force of the device, or the daemon stops.",
            "Needs root, /dev/fuse and loop devices."})
    static final class Attach extends Action {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Override
        int run(ControlClient daemon) throws Failed {
            String mangled = mangle(name);
            JsonNode reply = call(daemon, request("attach").put("name", mangled), mangled);
            out().println(reply.path("attachment").path("device").asText());
            return 0;
        }
    }

    @Command(name = "detach", description = "Removes the kernel block device attach made for a device (fails while it is in use, e.g. mounted).")
    static final class Detach extends Action {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Override
        int run(ControlClient daemon) throws Failed {
            String mangled = mangle(name);
            call(daemon, request("detach").put("name", mangled), mangled);
            return 0;
        }
    }

    @Command(name = "attachments", description = "Lists the attached devices: NAME<TAB>DEVICE, sorted by name.")
    static final class Attachments extends Action {
        @Option(names = "--json", description = "Print the list as JSON: [{\"name\", \"device\", \"method\"}, ...].")
        boolean json;

        @Override
        int run(ControlClient daemon) throws Failed {
            JsonNode list = call(daemon, request("attachments"), null).path("attachments");
            if (json) {
                out().println(list.toPrettyString());
                return 0;
            }
            for (JsonNode a : list) {
                out().println(a.path("name").asText() + "\t" + a.path("device").asText());
            }
            return 0;
        }
    }
}
