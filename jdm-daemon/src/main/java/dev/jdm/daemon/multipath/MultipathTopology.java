package dev.jdm.daemon.multipath;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.engine.DeviceInfo;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.core.engine.TargetLine;
import dev.jdm.daemon.Protocol;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The reply of the control op {@code multipath}: each multipath device with its groups and paths as the target's
 * status shows them and the checker's state of each path (what {@code jdm multipath} prints).
 */
public final class MultipathTopology {
    private MultipathTopology() {
    }

    /**
     * The named devices (each must be a multipath device), or with no names every multipath device.
     * {@code checker} is null when the daemon runs none (its paths are then {@code undef}).
     */
    public static ArrayNode of(DeviceMapper dm, List<String> names, PathChecker checker) throws DmException {
        ArrayNode maps = Protocol.JSON.createArrayNode();
        for (String name : names.isEmpty() ? dm.names() : names) {
            if (!names.isEmpty()) {
                dm.info(name); // ENXIO for a name no device has
            }
            Optional<ObjectNode> map = map(dm, name, checker);
            if (map.isPresent()) {
                maps.add(map.get());
            } else if (!names.isEmpty()) {
                throw new DmException(Errno.EINVAL, "device " + name + " is not a multipath device");
            }
        }
        return maps;
    }

    private static Optional<ObjectNode> map(DeviceMapper dm, String name, PathChecker checker) throws DmException {
        DeviceInfo info;
        List<TargetLine> table;
        List<TargetLine> status;
        try {
            info = dm.info(name);
            table = dm.table(name, false);
            status = dm.status(name, false);
        } catch (DmException e) {
            return Optional.empty(); // removed meanwhile
        }
        if (table.size() != 1 || !table.getFirst().type().equals("multipath") || status.size() != 1) {
            return Optional.empty();
        }
        MultipathMap mp;
        try {
            mp = MultipathMap.parse(table.getFirst().params(), status.getFirst().params());
        } catch (MultipathMap.ParseException e) {
            throw new DmException(Errno.EIO, name + ": " + e.getMessage());
        }
        Map<String, PathChecker.PathReport> checked = checker == null ? Map.of() : checker.report(name);
        ObjectNode n = Protocol.JSON.createObjectNode();
        n.put("name", info.name()).put("uuid", info.uuid() == null ? "" : info.uuid()).put("minor", info.minor())
                .put("sizeSectors", info.sizeSectors()).put("readOnly", info.readOnly()).put("suspended", info.suspended())
                .put("features", mp.featuresText()).put("hwHandler", mp.hwHandlerText()).put("queueIo", mp.queueIo())
                .put("pgInitCount", mp.pgInitCount()).put("groupNumber", mp.groupNumber());
        ArrayNode groups = n.putArray("groups");
        for (MultipathMap.Group g : mp.groups()) {
            // multipath writes groups highest priority first; jdm has no prioritizer, so the order is the priority.
            ObjectNode gn = groups.addObject().put("number", g.number()).put("selector", g.selector())
                    .put("policy", g.policy()).put("prio", mp.groups().size() + 1 - g.number()).put("status", g.state().word);
            ArrayNode paths = gn.putArray("paths");
            for (MultipathMap.Path p : g.paths()) {
                PathChecker.PathReport r = checked.getOrDefault(p.dev(), PathChecker.PathReport.UNCHECKED);
                paths.addObject().put("dev", p.dev()).put("device", displayName(dm, p.dev()))
                        .put("dmState", p.active() ? "active" : "failed").put("failCount", p.failCount())
                        .put("checker", r.state().word).put("online", r.online().word)
                        .put("checkerSince", r.since() == null ? "" : r.since().toString());
            }
        }
        return Optional.of(n);
    }

    /** A mapped device's path by its name ({@code 253:3} is {@code /dev/mapper/p3}); other devices as the table names them. */
    private static String displayName(DeviceMapper dm, String dev) {
        int colon = dev.indexOf(':');
        if (colon > 0 && dev.substring(0, colon).equals(Integer.toString(MappedDevice.MAJOR))) {
            try {
                return dm.nameOfDevice(MappedDevice.MAJOR, Integer.parseInt(dev.substring(colon + 1)))
                        .map(n -> "/dev/mapper/" + n).orElse(dev);
            } catch (NumberFormatException e) {
                return dev;
            }
        }
        return dev;
    }
}
