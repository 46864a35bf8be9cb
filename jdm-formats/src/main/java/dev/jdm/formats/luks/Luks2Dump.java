package dev.jdm.formats.luks;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * LUKS2 metadata as {@code cryptsetup luksDump} prints it, byte for byte (LUKS2_hdr_dump and the
 * keyslot/digest dump handlers): objects in numeric id order, salts and digests as hex lines of 16.
 */
final class Luks2Dump {

    private final Luks2Header header;
    private final JsonNode json;
    private final StringBuilder out = new StringBuilder();

    private Luks2Dump(Luks2Header header) {
        this.header = header;
        this.json = header.json;
    }

    static String text(Luks2Header header) {
        Luks2Dump dump = new Luks2Dump(header);
        dump.binaryHeaderAndConfig();
        dump.segments();
        dump.keyslots();
        dump.tokens();
        dump.digests();
        return dump.out.toString();
    }

    private void binaryHeaderAndConfig() {
        JsonNode config = json.path("config");
        out.append("LUKS header information\n");
        out.append("Version:       \t2\n");
        out.append("Epoch:         \t").append(header.seqid).append('\n');
        out.append("Metadata area: \t").append(header.hdrSize).append(" [bytes]\n");
        out.append("Keyslots area: \t").append(config.path("keyslots_size").asText("0")).append(" [bytes]\n");
        out.append("UUID:          \t").append(orElse(header.uuid, "(no UUID)")).append('\n');
        out.append("Label:         \t").append(orElse(header.label, "(no label)")).append('\n');
        out.append("Subsystem:     \t").append(orElse(header.subsystem, "(no subsystem)")).append('\n');
        JsonNode flags = config.path("flags");
        out.append("Flags:       \t");
        flags.forEach(flag -> out.append(flag.asText()).append(' '));
        out.append(flags.isEmpty() ? "(no flags)" : "").append('\n');
        JsonNode mandatory = config.path("requirements").path("mandatory");
        if (!mandatory.isEmpty()) {
            out.append("Requirements:\t");
            mandatory.forEach(requirement -> out.append(requirement.asText()).append(' '));
            out.append("\n\n");
        } else {
            out.append('\n');
        }
    }

    private void segments() {
        out.append("Data segments:\n");
        for (Map.Entry<String, JsonNode> entry : numbered(json.path("segments"))) {
            JsonNode segment = entry.getValue();
            out.append("  ").append(entry.getKey()).append(": ").append(segment.path("type").asText()).append('\n');
            out.append("\toffset: ").append(segment.path("offset").asText()).append(" [bytes]\n");
            String size = segment.path("size").asText();
            out.append("\tlength: ").append("dynamic".equals(size) ? "(whole device)" : size + " [bytes]").append('\n');
            out.append("\tcipher: ").append(segment.has("encryption") ? segment.path("encryption").asText()
                    : "(no SW encryption)").append('\n');
            if (segment.has("sector_size")) {
                out.append("\tsector: ").append(segment.path("sector_size").asInt()).append(" [bytes]\n");
            }
            JsonNode segmentFlags = segment.path("flags");
            if (!segmentFlags.isEmpty()) {
                List<String> names = new ArrayList<>();
                segmentFlags.forEach(flag -> names.add(flag.asText()));
                out.append("\tflags : ").append(String.join(", ", names)).append('\n');
            }
            out.append('\n');
        }
    }

    private void keyslots() {
        out.append("Keyslots:\n");
        for (Map.Entry<String, JsonNode> entry : numbered(json.path("keyslots"))) {
            JsonNode slot = entry.getValue();
            out.append("  ").append(entry.getKey()).append(": ").append(slot.path("type").asText())
                    .append(boundToSegment(entry.getKey()) ? "" : " (unbound)").append('\n');
            if (slot.has("key_size")) {
                out.append("\tKey:        ").append(slot.path("key_size").asInt() * 8).append(" bits\n");
            }
            out.append("\tPriority:   ").append(switch (slot.path("priority").asInt(1)) {
                case 0 -> "ignored";
                case 2 -> "preferred";
                default -> "normal";
            }).append('\n');
            JsonNode area = slot.path("area");
            JsonNode kdf = slot.path("kdf");
            JsonNode af = slot.path("af");
            out.append("\tCipher:     ").append(area.path("encryption").asText()).append('\n');
            out.append("\tCipher key: ").append(area.path("key_size").asInt() * 8).append(" bits\n");
            out.append("\tPBKDF:      ").append(kdf.path("type").asText()).append('\n');
            if ("pbkdf2".equals(kdf.path("type").asText())) {
                out.append("\tHash:       ").append(kdf.path("hash").asText()).append('\n');
                out.append("\tIterations: ").append(kdf.path("iterations").asLong()).append('\n');
            } else {
                out.append("\tTime cost:  ").append(kdf.path("time").asLong()).append('\n');
                out.append("\tMemory:     ").append(kdf.path("memory").asLong()).append('\n');
                out.append("\tThreads:    ").append(kdf.path("cpus").asLong()).append('\n');
            }
            out.append("\tSalt:       ").append(hexLines(kdf.path("salt")));
            out.append("\tAF stripes: ").append(af.path("stripes").asInt()).append('\n');
            out.append("\tAF hash:    ").append(af.path("hash").asText()).append('\n');
            out.append("\tArea offset:").append(area.path("offset").asText()).append(" [bytes]\n");
            out.append("\tArea length:").append(area.path("size").asText()).append(" [bytes]\n");
            for (Map.Entry<String, JsonNode> digest : numbered(json.path("digests"))) {
                if (Luks2Volume.containsText(digest.getValue().path("keyslots"), entry.getKey())) {
                    out.append("\tDigest ID:  ").append(digest.getKey()).append('\n');
                }
            }
        }
    }

    /** A keyslot is bound when a digest lists both it and the data segment. */
    private boolean boundToSegment(String keyslot) {
        for (JsonNode digest : json.path("digests")) {
            if (Luks2Volume.containsText(digest.path("keyslots"), keyslot)
                    && Luks2Volume.containsText(digest.path("segments"), "0")) {
                return true;
            }
        }
        return false;
    }

    private void tokens() {
        out.append("Tokens:\n");
        for (Map.Entry<String, JsonNode> token : numbered(json.path("tokens"))) {
            out.append("  ").append(token.getKey()).append(": ").append(token.getValue().path("type").asText())
                    .append('\n');
            token.getValue().path("keyslots").forEach(k -> out.append("\tKeyslot:    ").append(k.asText()).append('\n'));
        }
    }

    private void digests() {
        out.append("Digests:\n");
        for (Map.Entry<String, JsonNode> entry : numbered(json.path("digests"))) {
            JsonNode digest = entry.getValue();
            out.append("  ").append(entry.getKey()).append(": ").append(digest.path("type").asText()).append('\n');
            out.append("\tHash:       ").append(digest.path("hash").asText()).append('\n');
            out.append("\tIterations: ").append(digest.path("iterations").asLong()).append('\n');
            out.append("\tSalt:       ").append(hexLines(digest.path("salt")));
            out.append("\tDigest:     ").append(hexLines(digest.path("digest")));
        }
    }

    /**
     * A base64 field as hex, 16 bytes per line, continuation lines indented under the first, as
     * cryptsetup's hexprint_base64 (which prints nothing, not even the newline, for invalid base64).
     */
    private static String hexLines(JsonNode base64) {
        byte[] bytes;
        try {
            bytes = Base64.getDecoder().decode(base64.asText());
        } catch (IllegalArgumentException e) {
            return "";
        }
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < bytes.length; i += 16) {
            if (i > 0) {
                lines.append("\n\t            ");
            }
            lines.append(Fields.hexBytes(bytes, i, Math.min(16, bytes.length - i)));
        }
        return lines.append('\n').toString();
    }

    /** Object members with numeric names in numeric order (cryptsetup dumps ids 0..N). */
    private static List<Map.Entry<String, JsonNode>> numbered(JsonNode object) {
        List<Map.Entry<String, JsonNode>> entries = new ArrayList<>();
        object.fields().forEachRemaining(entries::add);
        entries.removeIf(entry -> !entry.getKey().matches("\\d+"));
        entries.sort(Comparator.comparingInt(entry -> Integer.parseInt(entry.getKey())));
        return entries;
    }

    private static String orElse(String value, String fallback) {
        return value == null || value.isEmpty() ? fallback : value;
    }
}
