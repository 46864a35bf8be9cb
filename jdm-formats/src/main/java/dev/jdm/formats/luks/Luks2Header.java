package dev.jdm.formats.luks;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jdm.core.io.BlockDevice;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The LUKS2 header: two copies, each a 4096-byte binary header followed by a JSON area, the
 * secondary right after the primary. Each copy carries its own salt and a checksum over the whole
 * copy with the checksum field zeroed. The JSON (keyslots, segments, digests, config) is kept as a
 * tree so that fields this class does not know (tokens, flags) survive a rewrite.
 */
final class Luks2Header {

    static final int BINARY_SIZE = 4096;
    static final long[] SECONDARY_OFFSETS = {0x4000, 0x8000, 0x10000, 0x20000, 0x40000, 0x80000, 0x100000,
        0x200000, 0x400000};
    private static final byte[] MAGIC_PRIMARY = {'L', 'U', 'K', 'S', (byte) 0xBA, (byte) 0xBE};
    private static final byte[] MAGIC_SECONDARY = {'S', 'K', 'U', 'L', (byte) 0xBA, (byte) 0xBE};
    private static final int LABEL_SIZE = 48;
    private static final int CHECKSUM_ALG_SIZE = 32;
    private static final int SALT_SIZE = 64;
    private static final int UUID_SIZE = 40;
    private static final int CHECKSUM_OFFSET = 448;
    private static final int CHECKSUM_SIZE = 64;
    static final ObjectMapper JSON = new ObjectMapper();
    private static final String BAD_MAGIC = "bad magic at offset ";

    long hdrSize;
    long seqid;
    String label;
    String subsystem;
    String checksumAlg;
    String uuid;
    byte[] primarySalt;
    byte[] secondarySalt;
    ObjectNode json;

    Luks2Header(long hdrSize, long seqid, String label, String subsystem, String checksumAlg, String uuid,
                byte[] primarySalt, byte[] secondarySalt, ObjectNode json) {
        this.hdrSize = hdrSize;
        this.seqid = seqid;
        this.label = label;
        this.subsystem = subsystem;
        this.checksumAlg = checksumAlg;
        this.uuid = uuid;
        this.primarySalt = primarySalt.clone();
        this.secondarySalt = secondarySalt.clone();
        this.json = json;
    }

    /** The header chosen from the two copies, the copy it came from, and what was wrong with the other. */
    record Read(Luks2Header header, HeaderCopy used, List<String> problems) {
    }

    /** One copy as found on disk, or why it was refused. */
    private record Copy(Luks2Header header, String problem) {
    }

    static Read read(BlockDevice device, String deviceName) throws IOException {
        Copy primary = readCopy(device, 0, false);
        Copy secondary;
        if (primary.header() != null) {
            secondary = readCopy(device, primary.header().hdrSize, true);
        } else {
            // Without a primary we do not know the metadata size: try every size LUKS2 allows.
            // A candidate with the right magic but another fault says more than "not found".
            secondary = new Copy(null, "no secondary header found at any known offset");
            for (long offset : SECONDARY_OFFSETS) {
                Copy candidate = readCopy(device, offset, true);
                if (candidate.header() != null) {
                    secondary = candidate;
                    break;
                }
                if (!candidate.problem().startsWith(BAD_MAGIC) && secondary.problem().startsWith("no secondary")) {
                    secondary = candidate;
                }
            }
        }
        List<String> problems = new ArrayList<>();
        if (primary.problem() != null) {
            problems.add("primary header: " + primary.problem());
        }
        if (secondary.problem() != null) {
            problems.add("secondary header: " + secondary.problem());
        }
        if (primary.header() != null && secondary.header() != null) {
            long p = primary.header().seqid;
            long s = secondary.header().seqid;
            if (p == s) {
                primary.header().secondarySalt = secondary.header().secondarySalt;
                return new Read(primary.header(), HeaderCopy.BOTH, List.of());
            }
            problems.add((p > s ? "secondary" : "primary") + " header is older (seqid " + Math.min(p, s)
                    + " < " + Math.max(p, s) + ")");
            return p > s ? new Read(primary.header(), HeaderCopy.PRIMARY, problems)
                    : new Read(secondary.header(), HeaderCopy.SECONDARY, problems);
        }
        if (primary.header() != null) {
            return new Read(primary.header(), HeaderCopy.PRIMARY, problems);
        }
        if (secondary.header() != null) {
            return new Read(secondary.header(), HeaderCopy.SECONDARY, problems);
        }
        throw new LuksException("Device " + deviceName + " is not a valid LUKS2 device: "
                + String.join("; ", problems) + ".");
    }

    private static Copy readCopy(BlockDevice device, long offset, boolean secondary) throws IOException {
        if (device.size() < offset + BINARY_SIZE) {
            return new Copy(null, "device too small");
        }
        byte[] binary = readBytes(device, offset, BINARY_SIZE);
        ByteBuffer in = ByteBuffer.wrap(binary);
        byte[] magic = new byte[6];
        in.get(magic);
        if (!Arrays.equals(magic, secondary ? MAGIC_SECONDARY : MAGIC_PRIMARY)) {
            return new Copy(null, BAD_MAGIC + offset);
        }
        int version = Short.toUnsignedInt(in.getShort());
        if (version != 2) {
            return new Copy(null, "unsupported version " + version);
        }
        long hdrSize = in.getLong();
        long seqid = in.getLong();
        String label = Fields.text(in, LABEL_SIZE);
        String checksumAlg = Fields.text(in, CHECKSUM_ALG_SIZE);
        byte[] salt = Fields.bytes(in, SALT_SIZE);
        String uuid = Fields.text(in, UUID_SIZE);
        String subsystem = Fields.text(in, LABEL_SIZE);
        long hdrOffset = in.getLong();
        if (hdrOffset != offset) {
            return new Copy(null, "header offset " + hdrOffset + " differs from its position " + offset);
        }
        if (Arrays.binarySearch(SECONDARY_OFFSETS, hdrSize) < 0) {
            return new Copy(null, "bogus header size " + hdrSize);
        }
        if (secondary && offset != hdrSize) {
            return new Copy(null, "secondary header at " + offset + " does not match header size " + hdrSize);
        }
        if (device.size() < offset + hdrSize) {
            return new Copy(null, "device too small for header size " + hdrSize);
        }
        HashAlgorithm checksumHash;
        try {
            checksumHash = HashAlgorithm.byName(checksumAlg);
        } catch (LuksException e) {
            return new Copy(null, "unsupported checksum algorithm '" + checksumAlg + "'");
        }
        byte[] jsonArea = readBytes(device, offset + BINARY_SIZE, (int) (hdrSize - BINARY_SIZE));
        byte[] stored = Arrays.copyOfRange(binary, CHECKSUM_OFFSET, CHECKSUM_OFFSET + checksumHash.size());
        if (!MessageDigest.isEqual(stored, checksum(checksumHash, binary, jsonArea))) {
            return new Copy(null, "checksum mismatch");
        }
        ObjectNode json;
        try {
            json = parseJson(jsonArea, hdrSize);
        } catch (LuksException e) {
            return new Copy(null, e.getMessage());
        }
        return new Copy(new Luks2Header(hdrSize, seqid, label, subsystem, checksumAlg, uuid, salt, salt, json), null);
    }

    private static ObjectNode parseJson(byte[] area, long hdrSize) throws LuksException {
        int end = 0;
        while (end < area.length && area[end] != 0) {
            end++;
        }
        if (end == area.length || end == 0 || area[0] != '{') {
            throw new LuksException("JSON area is not a NUL-terminated JSON object");
        }
        JsonNode node;
        try {
            node = JSON.readTree(new String(area, 0, end, StandardCharsets.UTF_8));
        } catch (JsonProcessingException e) {
            throw new LuksException("invalid JSON: " + e.getOriginalMessage());
        }
        if (!(node instanceof ObjectNode object)) {
            throw new LuksException("JSON metadata is not an object");
        }
        for (String section : List.of("keyslots", "tokens", "segments", "digests", "config")) {
            if (!object.path(section).isObject()) {
                throw new LuksException("JSON metadata lacks the \"" + section + "\" object");
            }
        }
        String jsonSize = object.path("config").path("json_size").asText();
        if (!jsonSize.equals(Long.toString(hdrSize - BINARY_SIZE))) {
            throw new LuksException("config json_size " + jsonSize + " does not match header size " + hdrSize);
        }
        return object;
    }

    /** Writes both copies (seqid already set by the caller). */
    void write(BlockDevice device) throws IOException {
        byte[] jsonArea = jsonArea();
        device.write(0, ByteBuffer.wrap(copyBytes(false, jsonArea)), false);
        device.write(hdrSize, ByteBuffer.wrap(copyBytes(true, jsonArea)), false);
        device.flush();
    }

    /** Gives a copy that was found damaged a new salt, as cryptsetup does when it rewrites it. */
    void renewSalt(HeaderCopy damaged, SecureRandom random) {
        byte[] salt = new byte[SALT_SIZE];
        random.nextBytes(salt);
        if (damaged == HeaderCopy.PRIMARY) {
            secondarySalt = salt;
        } else if (damaged == HeaderCopy.SECONDARY) {
            primarySalt = salt;
        }
    }

    private byte[] jsonArea() throws LuksException {
        byte[] text;
        try {
            text = JSON.writeValueAsBytes(json);
        } catch (JsonProcessingException e) {
            throw new LuksException("cannot serialise the LUKS2 JSON metadata", e);
        }
        byte[] area = new byte[(int) (hdrSize - BINARY_SIZE)];
        if (text.length >= area.length) {
            throw new LuksException("LUKS2 JSON metadata too large (" + text.length + " >= " + area.length + " bytes).");
        }
        System.arraycopy(text, 0, area, 0, text.length);
        return area;
    }

    byte[] copyBytes(boolean secondary, byte[] jsonArea) throws LuksException {
        ByteBuffer out = ByteBuffer.allocate((int) hdrSize);
        out.put(secondary ? MAGIC_SECONDARY : MAGIC_PRIMARY).putShort((short) 2).putLong(hdrSize).putLong(seqid);
        Fields.putText(out, label, LABEL_SIZE);
        Fields.putText(out, checksumAlg, CHECKSUM_ALG_SIZE);
        out.put(secondary ? secondarySalt : primarySalt);
        Fields.putText(out, uuid, UUID_SIZE);
        Fields.putText(out, subsystem, LABEL_SIZE);
        out.putLong(secondary ? hdrSize : 0);
        byte[] binary = Arrays.copyOf(out.array(), BINARY_SIZE);
        byte[] checksum = checksum(HashAlgorithm.byName(checksumAlg), binary, jsonArea);
        System.arraycopy(checksum, 0, binary, CHECKSUM_OFFSET, checksum.length);
        byte[] copy = new byte[(int) hdrSize];
        System.arraycopy(binary, 0, copy, 0, BINARY_SIZE);
        System.arraycopy(jsonArea, 0, copy, BINARY_SIZE, jsonArea.length);
        return copy;
    }

    private static byte[] checksum(HashAlgorithm hash, byte[] binary, byte[] jsonArea) {
        byte[] zeroed = binary.clone();
        Arrays.fill(zeroed, CHECKSUM_OFFSET, CHECKSUM_OFFSET + CHECKSUM_SIZE, (byte) 0);
        MessageDigest digest = hash.newDigest();
        digest.update(zeroed);
        return digest.digest(jsonArea);
    }

    static byte[] readBytes(BlockDevice device, long offset, int length) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(length);
        device.read(offset, buffer);
        return buffer.array();
    }
}
