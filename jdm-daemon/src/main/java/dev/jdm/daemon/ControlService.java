package dev.jdm.daemon;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.core.engine.TableParser;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.spi.TargetType;
import dev.jdm.daemon.multipath.MultipathTopology;
import dev.jdm.daemon.multipath.PathChecker;
import dev.jdm.nbd.Attach;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.locks.ReentrantLock;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Answers control requests (one JSON object each) with the {@link DeviceMapper} operations they name.
 * Changing operations run one at a time, so the state folder sees them in the order they happened.
 */
public final class ControlService {
    /** The largest minor a Linux device number holds (20 bits). */
    private static final int MAX_MINOR = (1 << 20) - 1;
    private static final Pattern DEVICE_NUMBER = Pattern.compile("(\\d{1,9}):(\\d{1,9})");

    private final DeviceMapper dm;
    private final String version;
    private final ReentrantLock changes = new ReentrantLock();
    /** Null when the daemon has no NBD socket to attach from. */
    private final Attachments attachments;
    /** Null when the daemon checks no multipath paths. */
    private final PathChecker pathChecker;

    public ControlService(DeviceMapper dm, String version) {
        this(dm, version, null, null);
    }

    public ControlService(DeviceMapper dm, String version, Attachments attachments, PathChecker pathChecker) {
        this.dm = dm;
        this.version = version;
        this.attachments = attachments;
        this.pathChecker = pathChecker;
    }

    /** One request line in, one reply object out; never throws. */
    public ObjectNode handle(String line) {
        JsonNode req;
        try {
            req = Protocol.JSON.readTree(line);
        } catch (JsonProcessingException e) {
            return Protocol.error(Errno.EINVAL, "bad request: invalid JSON at column " + e.getLocation().getColumnNr());
        }
        if (req == null || !req.isObject()) {
            return Protocol.error(Errno.EINVAL, "bad request: a request is one JSON object per line");
        }
        JsonNode op = req.get("op");
        if (op == null || !op.isTextual()) {
            return Protocol.error(Errno.EINVAL, "bad request: missing field \"op\"");
        }
        try {
            return dispatch(op.textValue(), req);
        } catch (DmException e) {
            return Protocol.error(e);
        } catch (RuntimeException e) {
            return Protocol.error(Errno.EIO, op.textValue() + ": internal error: " + e);
        }
    }

    private ObjectNode dispatch(String op, JsonNode req) throws DmException {
        return switch (op) {
            case "version" -> Protocol.ok().put("library", "jdm " + version).put("driver", DeviceMapper.IOCTL_VERSION);
            case "create" -> create(req);
            case "load" -> load(req);
            case "clear" -> change(() -> dm.clear(device(req, op)));
            case "suspend" -> change(() -> dm.suspend(device(req, op), Protocol.flag(req, op, "noflush")));
            case "resume" -> change(() -> dm.resume(device(req, op)));
            case "remove" -> change(() -> remove(device(req, op), Protocol.flag(req, op, "force"), Protocol.flag(req, op, "deferred")));
            case "remove_all" -> removeAll(req);
            case "rename" -> rename(req);
            case "info" -> Protocol.ok().set("info", Protocol.info(dm.info(device(req, op))));
            case "list" -> list();
            case "deps" -> Protocol.ok().set("deps", deps(device(req, op), Protocol.flag(req, op, "inactive")));
            case "status" -> Protocol.ok().set("targets", Protocol.targetLines(dm.status(device(req, op), Protocol.flag(req, op, "inactive"))));
            case "table" -> Protocol.ok().set("targets", Protocol.targetLines(dm.table(device(req, op), Protocol.flag(req, op, "inactive"))));
            case "message" -> message(req);
            case "wait" -> Protocol.ok().set("info", Protocol.info(dm.waitEvent(device(req, op),
                    Protocol.number(req, op, "eventNr", 0), Protocol.number(req, op, "timeout", -1))));
            case "targets" -> targets();
            case "attach" -> attach(device(req, op));
            case "detach" -> change(() -> attachments(op).detach(device(req, op)));
            case "attachments" -> listAttachments();
            case "multipath" -> Protocol.ok().set("maps", MultipathTopology.of(dm, names(req, op), pathChecker));
            default -> throw new DmException(Errno.EINVAL, "unknown op \"" + op + "\"");
        };
    }

    @FunctionalInterface
    private interface Change {
        void run() throws DmException;
    }

    private ObjectNode change(Change c) throws DmException {
        changes.lock();
        try {
            c.run();
            return Protocol.ok();
        } finally {
            changes.unlock();
        }
    }

    /**
     * The device a request names: by "name", else by "uuid", else by "major" and "minor", the
     * way dmsetup selects with a name, -u or -j/-m.
     */
    private String device(JsonNode req, String op) throws DmException {
        String name = Protocol.optionalText(req, op, "name");
        if (name != null) {
            return name;
        }
        String uuid = Protocol.optionalText(req, op, "uuid");
        if (uuid != null) {
            return dm.nameOfUuid(uuid).orElseThrow(() -> new DmException(Errno.ENXIO, "no device with uuid " + uuid));
        }
        long major = Protocol.number(req, op, "major", -1);
        long minor = Protocol.number(req, op, "minor", -1);
        if (major >= 0 && minor >= 0) {
            return dm.nameOfDevice((int) major, (int) minor)
                    .orElseThrow(() -> new DmException(Errno.ENXIO, "no device with number " + major + ":" + minor));
        }
        throw new DmException(Errno.EINVAL, op + ": missing field \"name\" (or \"uuid\", or \"major\" and \"minor\")");
    }

    /** The optional field "names": an array of device names. */
    private static List<String> names(JsonNode req, String op) throws DmException {
        JsonNode v = req.get("names");
        if (v == null || v.isNull()) {
            return List.of();
        }
        List<String> names = new ArrayList<>();
        for (JsonNode n : v) {
            names.add(n.textValue());
        }
        if (!v.isArray() || names.contains(null)) {
            throw new DmException(Errno.EINVAL, op + ": \"names\" must be an array of strings");
        }
        return names;
    }

    private ObjectNode create(JsonNode req) throws DmException {
        String op = "create";
        String name = Protocol.requiredText(req, op, "name");
        String uuid = Protocol.optionalText(req, op, "uuid");
        String table = Protocol.optionalText(req, op, "table");
        boolean readOnly = Protocol.flag(req, op, "readOnly");
        boolean notPersisted = Protocol.flag(req, op, "transient");
        long minor = Protocol.number(req, op, "minor", -1);
        if (req.hasNonNull("minor") && (minor < 0 || minor > MAX_MINOR)) {
            throw new DmException(Errno.EINVAL, "create: minor " + minor + " is outside 0.." + MAX_MINOR);
        }
        DeviceMapper.NewDevice device = DeviceMapper.NewDevice.named(name).withUuid(uuid).withMinor((int) minor)
                .withTable(table, readOnly).asEphemeral(notPersisted);
        changes.lock();
        try {
            return Protocol.ok().set("info", Protocol.info(dm.create(device)));
        } finally {
            changes.unlock();
        }
    }

    private ObjectNode load(JsonNode req) throws DmException {
        String name = device(req, "load");
        String table = Protocol.requiredText(req, "load", "table");
        boolean readOnly = Protocol.flag(req, "load", "readOnly");
        return change(() -> dm.load(name, table, readOnly));
    }

    /** An attached device is in use by its block device: only --force removes it, detaching it first. */
    private void remove(String name, boolean force, boolean deferred) throws DmException {
        if (attachments != null && attachments.isAttached(name)) {
            if (!force) {
                throw new DmException(Errno.EBUSY, "device " + name + " is attached: detach it first (or remove --force)");
            }
            attachments.detach(name);
        }
        dm.remove(name, force, deferred);
    }

    private Attachments attachments(String op) throws DmException {
        if (attachments == null) {
            throw new DmException(Errno.EOPNOTSUPP, op + ": this daemon serves no NBD socket to attach from");
        }
        return attachments;
    }

    private ObjectNode attach(String name) throws DmException {
        Attachments a = attachments("attach");
        changes.lock();
        try {
            dm.info(name); // ENXIO for a device that does not exist, before any helper starts.
            return Protocol.ok().set("attachment", attachment(a.attach(name)));
        } finally {
            changes.unlock();
        }
    }

    private ObjectNode listAttachments() {
        ObjectNode reply = Protocol.ok();
        ArrayNode list = reply.putArray("attachments");
        if (attachments != null) {
            attachments.list().forEach(a -> list.add(attachment(a)));
        }
        return reply;
    }

    private static ObjectNode attachment(Attach.Attachment a) {
        return Protocol.JSON.createObjectNode().put("name", a.exportName()).put("device", a.device().toString())
                .put("method", a.method().name().toLowerCase(Locale.ROOT));
    }

    private ObjectNode rename(JsonNode req) throws DmException {
        String op = "rename";
        String name = device(req, op);
        String newName = Protocol.optionalText(req, op, "newName");
        String newUuid = Protocol.optionalText(req, op, "setUuid");
        if ((newName == null) == (newUuid == null)) {
            throw new DmException(Errno.EINVAL, "rename: give exactly one of \"newName\" and \"setUuid\"");
        }
        if (newName != null && attachments != null && attachments.isAttached(name)) {
            // The attachment is recorded under the export's name, which a rename would change.
            throw new DmException(Errno.EBUSY, "device " + name + " is attached: detach it before renaming");
        }
        return change(() -> {
            if (newName != null) {
                dm.rename(name, newName);
            } else {
                dm.setUuid(name, newUuid);
            }
        });
    }

    private ObjectNode removeAll(JsonNode req) throws DmException {
        boolean force = Protocol.flag(req, "remove_all", "force");
        changes.lock();
        try {
            ObjectNode reply = Protocol.ok();
            ArrayNode failed = reply.putArray("failed");
            if (force && attachments != null) {
                attachments.close();
            }
            dm.removeAll(force).forEach(failed::add);
            return reply;
        } finally {
            changes.unlock();
        }
    }

    private ObjectNode list() throws DmException {
        ObjectNode reply = Protocol.ok();
        ArrayNode devices = reply.putArray("devices");
        for (var info : dm.list()) {
            ObjectNode n = Protocol.info(info);
            try {
                n.set("deps", deps(info.name(), false));
            } catch (DmException e) {
                // Removed between the listing and this look: leave it out, as if listed a moment later.
                continue;
            }
            if (attachments != null) {
                attachments.deviceOf(info.name()).ifPresent(dev -> n.put("attachedAs", dev.toString()));
            }
            devices.add(n);
        }
        return reply;
    }

    /** Each device a table uses: mapped devices with their number and name, block devices with their number, files by path. */
    private ArrayNode deps(String name, boolean inactive) throws DmException {
        ArrayNode a = Protocol.JSON.createArrayNode();
        for (BlockDevice d : dm.dependencies(name, inactive)) {
            ObjectNode n = a.addObject().put("id", d.id());
            Matcher m = DEVICE_NUMBER.matcher(d.id());
            if (d instanceof MappedDevice md) {
                n.put("major", MappedDevice.MAJOR).put("minor", md.minor()).put("name", md.name())
                        .put("blkdevname", "dm-" + md.minor());
            } else if (m.matches()) {
                n.put("major", Integer.parseInt(m.group(1))).put("minor", Integer.parseInt(m.group(2)));
                String kernelName = kernelName(d.id());
                if (kernelName != null) {
                    n.put("name", kernelName).put("blkdevname", kernelName);
                }
            } else {
                n.put("path", d.id());
            }
        }
        return a;
    }

    /** The kernel's name of a block device (loop0, sda1) from sysfs, or null. */
    private static String kernelName(String majorMinor) {
        try {
            for (String line : Files.readAllLines(Path.of("/sys/dev/block", majorMinor, "uevent"))) {
                if (line.startsWith("DEVNAME=")) {
                    return line.substring("DEVNAME=".length());
                }
            }
        } catch (IOException e) {
            // No sysfs entry: the number is all there is to show.
        }
        return null;
    }

    private ObjectNode message(JsonNode req) throws DmException {
        String op = "message";
        String name = device(req, op);
        JsonNode sector = req.get("sector");
        if (sector == null || sector.isNull()) {
            throw new DmException(Errno.EINVAL, "message: missing field \"sector\"");
        }
        long s = Protocol.number(req, op, "sector", 0);
        List<String> words = messageWords(req);
        changes.lock();
        try {
            String response = dm.message(name, s, words);
            ObjectNode reply = Protocol.ok();
            return response == null ? reply : reply.put("response", response);
        } finally {
            changes.unlock();
        }
    }

    /**
     * A message's words: {@code text}, one string split as the kernel splits what dmsetup sends
     * (dm_split_args), or {@code argv}, the words already split.
     */
    private static List<String> messageWords(JsonNode req) throws DmException {
        JsonNode text = req.get("text");
        if (text != null && !text.isNull()) {
            if (!text.isTextual() || req.has("argv")) {
                throw new DmException(Errno.EINVAL, "message: \"text\" must be a string, and not given with \"argv\"");
            }
            return TableParser.splitArgs(text.textValue());
        }
        JsonNode argv = req.get("argv");
        if (argv == null || !argv.isArray()) {
            throw new DmException(Errno.EINVAL, "message: missing field \"text\" (a string) or \"argv\" (an array of strings)");
        }
        List<String> words = new ArrayList<>();
        for (JsonNode w : argv) {
            if (!w.isTextual()) {
                throw new DmException(Errno.EINVAL, "message: \"argv\" must hold only strings");
            }
            words.add(w.textValue());
        }
        return words;
    }

    private ObjectNode targets() {
        ObjectNode reply = Protocol.ok();
        ArrayNode a = reply.putArray("targets");
        for (TargetType t : dm.targets()) {
            ObjectNode n = a.addObject().put("name", t.name());
            n.putArray("version").add(t.version().major()).add(t.version().minor()).add(t.version().patch());
        }
        return reply;
    }
}
