package dev.jdm.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.engine.DeviceInfo;
import dev.jdm.core.engine.TargetLine;

import java.util.List;

/**
 * The JSON shapes of the control protocol (docs/protocol.md), shared by the daemon and
 * {@link ControlClient}: one request object per line, one reply object per line.
 */
public final class Protocol {
    public static final ObjectMapper JSON = new ObjectMapper();

    private Protocol() {
    }

    public static ObjectNode ok() {
        return JSON.createObjectNode().put("ok", true);
    }

    public static ObjectNode error(Errno errno, String message) {
        return JSON.createObjectNode().put("ok", false).put("errno", errno.name()).put("code", errno.number)
                .put("error", message);
    }

    public static ObjectNode error(DmException e) {
        return error(e.errno(), e.getMessage());
    }

    public static ObjectNode info(DeviceInfo i) {
        ObjectNode n = JSON.createObjectNode();
        n.put("name", i.name());
        n.put("uuid", i.uuid() == null ? "" : i.uuid());
        n.put("major", i.major());
        n.put("minor", i.minor());
        n.put("state", i.state());
        n.put("suspended", i.suspended());
        n.put("readOnly", i.readOnly());
        n.put("liveTable", i.liveTable());
        n.put("inactiveTable", i.inactiveTable());
        n.put("tablesPresent", i.tablesPresent());
        n.put("openCount", i.openCount());
        n.put("eventNumber", i.eventNumber());
        n.put("targetCount", i.targetCount());
        n.put("deferredRemove", i.deferredRemove());
        n.put("sizeSectors", i.sizeSectors());
        n.put("readAhead", i.readAhead());
        return n;
    }

    public static ArrayNode targetLines(List<TargetLine> lines) {
        ArrayNode a = JSON.createArrayNode();
        for (TargetLine l : lines) {
            a.addObject().put("start", l.start()).put("length", l.length()).put("type", l.type()).put("params", l.params());
        }
        return a;
    }

    /** A request field that must be there and be text. */
    static String requiredText(JsonNode req, String op, String field) throws DmException {
        JsonNode v = req.get(field);
        if (v == null || v.isNull()) {
            throw new DmException(Errno.EINVAL, op + ": missing field \"" + field + "\"");
        }
        if (!v.isTextual()) {
            throw new DmException(Errno.EINVAL, op + ": field \"" + field + "\" must be a string");
        }
        return v.textValue();
    }

    static String optionalText(JsonNode req, String op, String field) throws DmException {
        JsonNode v = req.get(field);
        return v == null || v.isNull() ? null : requiredText(req, op, field);
    }

    static boolean flag(JsonNode req, String op, String field) throws DmException {
        JsonNode v = req.get(field);
        if (v == null || v.isNull()) {
            return false;
        }
        if (!v.isBoolean()) {
            throw new DmException(Errno.EINVAL, op + ": field \"" + field + "\" must be true or false");
        }
        return v.booleanValue();
    }

    static long number(JsonNode req, String op, String field, long absent) throws DmException {
        JsonNode v = req.get(field);
        if (v == null || v.isNull()) {
            return absent;
        }
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw new DmException(Errno.EINVAL, op + ": field \"" + field + "\" must be an integer");
        }
        return v.longValue();
    }
}
