package dev.jdm.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Option;
import dev.jdm.core.engine.MappedDevice;

/** How a command names its device besides by name: {@code -u UUID}, or {@code -j MAJOR -m MINOR}, as in dmsetup. */
final class Selection {
    @Option(names = {"-u", "--uuid"}, paramLabel = "UUID", description = "Select the device by uuid.")
    String uuid;

    @Option(names = {"-j", "--major"}, paramLabel = "MAJOR", description = "Select the device by number (with -m).")
    Integer major;

    @Option(names = {"-m", "--minor"}, paramLabel = "MINOR", description = "Select the device by number (with -j).")
    Integer minor;

    boolean given() {
        return uuid != null || minor != null;
    }

    /** Puts the selection into a request; a name, when given, wins. Returns how messages call the device. */
    String apply(ObjectNode req, String name, NameMangling mangling) throws NameMangling.MangleException {
        if (name != null) {
            String mangled = mangling.mangle(name, "name");
            req.put("name", mangled);
            return mangled;
        }
        if (uuid != null) {
            String mangled = mangling.mangle(uuid, "UUID");
            req.put("uuid", mangled);
            return mangled;
        }
        if (minor != null) {
            int maj = major != null ? major : MappedDevice.MAJOR;
            req.put("major", maj).put("minor", minor);
            return maj + ":" + minor;
        }
        return null;
    }
}
