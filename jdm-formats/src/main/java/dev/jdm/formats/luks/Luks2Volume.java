package dev.jdm.formats.luks;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jdm.core.io.BlockDevice;

import java.io.IOException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;

/**
 * A LUKS2 volume: the binary headers plus JSON metadata with keyslots (LUKS1-style AF keyslots
 * with PBKDF2 or Argon2), one crypt data segment and a PBKDF2 digest of the volume key.
 */
final class Luks2Volume implements LuksVolume {

    static final long DEFAULT_METADATA_SIZE = 0x4000;
    static final long MAX_KEYSLOTS_SIZE = 128L * 1024 * 1024;
    static final int MAX_KEYSLOTS = 32;
    private static final int AREA_ALIGNMENT = 4096;
    private static final int DIGEST_SALT_SIZE = 32;
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private final Luks2Header header;
    private final HeaderCopy copy;
    private final List<String> problems;
    /** Areas of replaced keyslots, wiped only once the header no longer points at them. */
    private final List<long[]> areasToWipe = new ArrayList<>();

    private Luks2Volume(Luks2Header header, HeaderCopy copy, List<String> problems) {
        this.header = header;
        this.copy = copy;
        this.problems = List.copyOf(problems);
    }

    static Luks2Volume read(BlockDevice device, String deviceName) throws IOException {
        Luks2Header.Read read = Luks2Header.read(device, deviceName);
        Luks2Volume volume = new Luks2Volume(read.header(), read.used(), read.problems());
        volume.checkSegment();
        return volume;
    }

    /**
     * New metadata as cryptsetup's LUKS2 format makes it: 16 KiB metadata copies, keyslots area up
     * to the data offset (or the default 16 MiB layout for a detached header), one dynamic crypt segment.
     */
    static Luks2Volume create(CipherSpec cipher, byte[] volumeKey, int sectorSize, String uuid, String label,
                              String subsystem, long dataOffsetBytes, long keyslotsSize, HashAlgorithm digestHash,
                              int digestIterations, SecureRandom random) throws LuksException {
        ObjectNode json = NODES.objectNode();
        json.putObject("keyslots");
        json.putObject("tokens");
        ObjectNode segment = json.putObject("segments").putObject("0");
        segment.put("type", "crypt");
        segment.put("offset", Long.toString(dataOffsetBytes));
        segment.put("size", "dynamic");
        segment.put("iv_tweak", "0");
        segment.put("encryption", cipher.toString());
        segment.put("sector_size", sectorSize);
        byte[] salt = new byte[DIGEST_SALT_SIZE];
        random.nextBytes(salt);
        byte[] digest = new Kdf.Pbkdf2(digestHash, digestIterations, salt).derive(volumeKey, digestHash.size());
        ObjectNode digestNode = json.putObject("digests").putObject("0");
        digestNode.put("type", "pbkdf2");
        digestNode.putArray("keyslots");
        digestNode.putArray("segments").add("0");
        digestNode.put("hash", digestHash.luksName());
        digestNode.put("iterations", digestIterations);
        digestNode.put("salt", Base64.getEncoder().encodeToString(salt));
        digestNode.put("digest", Base64.getEncoder().encodeToString(digest));
        ObjectNode config = json.putObject("config");
        config.put("json_size", Long.toString(DEFAULT_METADATA_SIZE - Luks2Header.BINARY_SIZE));
        config.put("keyslots_size", Long.toString(keyslotsSize));
        byte[] primarySalt = new byte[64];
        byte[] secondarySalt = new byte[64];
        random.nextBytes(primarySalt);
        random.nextBytes(secondarySalt);
        Luks2Header header = new Luks2Header(DEFAULT_METADATA_SIZE, 0, label, subsystem, "sha256", uuid,
                primarySalt, secondarySalt, json);
        return new Luks2Volume(header, HeaderCopy.BOTH, List.of());
    }

    /** Keyslots area size for a data offset: what lies between the two metadata copies and the data. */
    static long keyslotsSizeFor(long dataOffsetBytes) {
        long size = Math.min(dataOffsetBytes - 2 * DEFAULT_METADATA_SIZE, MAX_KEYSLOTS_SIZE);
        return size - size % AREA_ALIGNMENT;
    }

    /** The parameters of one keyslot as its JSON states them. */
    private record Keyslot(int keySize, KeyslotArea area, long areaSize, Kdf kdf, int priority) {
    }

    private Keyslot keyslot(int id) throws LuksException {
        JsonNode node = header.json.path("keyslots").path(Integer.toString(id));
        String what = "LUKS2 keyslot " + id;
        if (!node.isObject()) {
            throw new LuksException("Keyslot " + id + " is not active.");
        }
        if (!"luks2".equals(node.path("type").asText())) {
            throw new LuksException(what + " has unsupported type " + node.path("type") + ".");
        }
        JsonNode af = node.path("af");
        JsonNode area = node.path("area");
        JsonNode kdf = node.path("kdf");
        if (!"luks1".equals(af.path("type").asText()) || !"raw".equals(area.path("type").asText())) {
            throw new LuksException(what + " has an unsupported AF or area type.");
        }
        try {
            KeyslotArea keyslotArea = new KeyslotArea(Long.parseLong(area.path("offset").asText()),
                    CipherSpec.parse(area.path("encryption").asText()), requireInt(area, "key_size", what),
                    requireInt(af, "stripes", what), HashAlgorithm.byName(af.path("hash").asText()));
            Kdf derivation = switch (kdf.path("type").asText()) {
                case "pbkdf2" -> new Kdf.Pbkdf2(HashAlgorithm.byName(kdf.path("hash").asText()),
                        requireInt(kdf, "iterations", what), base64(kdf, "salt", what));
                case "argon2i", "argon2id" -> new Kdf.Argon2("argon2id".equals(kdf.path("type").asText()),
                        requireInt(kdf, "time", what), requireInt(kdf, "memory", what), requireInt(kdf, "cpus", what),
                        base64(kdf, "salt", what));
                default -> throw new LuksException(what + " has unsupported KDF " + kdf.path("type") + ".");
            };
            return new Keyslot(requireInt(node, "key_size", what), keyslotArea,
                    Long.parseLong(area.path("size").asText()), derivation, node.path("priority").asInt(1));
        } catch (NumberFormatException e) {
            throw new LuksException(what + " has an invalid area offset or size.", e);
        } catch (IllegalArgumentException e) {
            throw new LuksException(what + ": " + e.getMessage(), e);
        }
    }

    private static int requireInt(JsonNode node, String field, String what) throws LuksException {
        JsonNode value = node.path(field);
        if (!value.canConvertToInt() || !value.isIntegralNumber()) {
            throw new LuksException(what + " lacks a valid \"" + field + "\".");
        }
        return value.asInt();
    }

    private static byte[] base64(JsonNode node, String field, String what) throws LuksException {
        try {
            return Base64.getDecoder().decode(node.path(field).asText());
        } catch (IllegalArgumentException e) {
            throw new LuksException(what + " has an invalid base64 \"" + field + "\".", e);
        }
    }

    /** Refuses what jdm cannot activate: several segments (reencryption), non-crypt segments, integrity. */
    private void checkSegment() throws LuksException {
        JsonNode segments = header.json.path("segments");
        if (segments.size() != 1 || !segments.path("0").isObject()) {
            throw new LuksException("LUKS2 header with " + segments.size()
                    + " data segments (reencryption in progress?) is not supported.");
        }
        JsonNode segment = segments.path("0");
        if (!"crypt".equals(segment.path("type").asText())) {
            throw new LuksException("LUKS2 segment type " + segment.path("type") + " is not supported.");
        }
        if (segment.has("integrity")) {
            throw new LuksException("LUKS2 segments with integrity protection are not supported.");
        }
        try {
            long offset = Long.parseLong(segment.path("offset").asText());
            String size = segment.path("size").asText();
            long ivTweak = Long.parseLong(segment.path("iv_tweak").asText());
            if (offset < 0 || ivTweak < 0 || (!"dynamic".equals(size) && Long.parseLong(size) <= 0)) {
                throw new NumberFormatException("negative");
            }
        } catch (NumberFormatException e) {
            throw new LuksException("LUKS2 segment 0 has an invalid offset, size or iv_tweak.", e);
        }
        int sectorSize = segment.path("sector_size").asInt(-1);
        if (sectorSize < 512 || sectorSize > 4096 || Integer.bitCount(sectorSize) != 1) {
            throw new LuksException("LUKS2 segment 0 has an invalid sector_size " + segment.path("sector_size") + ".");
        }
        CipherSpec.parse(segment.path("encryption").asText());
    }

    /** The keyslots object (known to be an object since the header was parsed). */
    private ObjectNode keyslotsNode() {
        return (ObjectNode) header.json.get("keyslots");
    }

    /** The single crypt segment, checked when the header was read. */
    private JsonNode segment() {
        return header.json.path("segments").path("0");
    }

    private void checkRequirements() throws LuksException {
        JsonNode mandatory = header.json.path("config").path("requirements").path("mandatory");
        if (mandatory.isArray() && !mandatory.isEmpty()) {
            throw new LuksException("Operation incompatible with device marked with unmet requirements "
                    + mandatory + ".");
        }
    }

    /** The digest a keyslot is bound to, or the one bound to the segment when keyslot is -1. */
    private JsonNode digestFor(int keyslot) throws LuksException {
        String key = keyslot < 0 ? "0" : Integer.toString(keyslot);
        String list = keyslot < 0 ? "segments" : "keyslots";
        for (JsonNode digest : header.json.path("digests")) {
            for (JsonNode id : digest.path(list)) {
                if (id.asText().equals(key)) {
                    return digest;
                }
            }
        }
        throw new LuksException(keyslot < 0 ? "No digest is bound to the data segment."
                : "Keyslot " + keyslot + " is not bound to any digest.");
    }

    @Override
    public LuksVersion version() {
        return LuksVersion.LUKS2;
    }

    @Override
    public String uuid() {
        return header.uuid;
    }

    @Override
    public CipherSpec cipher() throws LuksException {
        return CipherSpec.parse(segment().path("encryption").asText());
    }

    @Override
    public long dataOffsetSectors() {
        return Long.parseLong(segment().path("offset").asText()) / 512;
    }

    @Override
    public long dataSizeSectors() {
        String size = segment().path("size").asText();
        return "dynamic".equals(size) ? -1 : Long.parseLong(size) / 512;
    }

    @Override
    public long ivOffsetSectors() {
        return Long.parseLong(segment().path("iv_tweak").asText("0"));
    }

    @Override
    public int sectorSize() {
        return segment().path("sector_size").asInt(512);
    }

    @Override
    public List<String> persistentFlags() {
        List<String> flags = new ArrayList<>();
        header.json.path("config").path("flags").forEach(flag -> flags.add(flag.asText()));
        return flags;
    }

    @Override
    public HeaderCopy headerCopy() {
        return copy;
    }

    @Override
    public List<String> headerProblems() {
        return problems;
    }

    @Override
    public List<Integer> activeKeyslots() {
        List<Integer> ids = new ArrayList<>();
        header.json.path("keyslots").fieldNames().forEachRemaining(name -> ids.add(Integer.parseInt(name)));
        ids.sort(Comparator.naturalOrder());
        return ids;
    }

    /**
     * cryptsetup's order: "prefer" slots first, then "normal"; "ignore" slots only when named. Only
     * luks2-type slots bound to the data segment's digest can open it (not e.g. a reencrypt slot).
     */
    @Override
    public List<Integer> unlockOrder() {
        List<Integer> order = new ArrayList<>();
        JsonNode bound;
        try {
            bound = digestFor(-1).path("keyslots");
        } catch (LuksException noDigest) {
            return order;
        }
        for (int wanted : new int[] {2, 1}) {
            for (int id : activeKeyslots()) {
                JsonNode slot = header.json.path("keyslots").path(Integer.toString(id));
                if (slot.path("priority").asInt(1) == wanted && "luks2".equals(slot.path("type").asText())
                        && containsText(bound, Integer.toString(id))) {
                    order.add(id);
                }
            }
        }
        return order;
    }

    @Override
    public boolean isActive(int keyslot) {
        return header.json.path("keyslots").has(Integer.toString(keyslot));
    }

    @Override
    public int maxKeyslots() {
        return MAX_KEYSLOTS;
    }

    @Override
    public byte[] recoverKey(BlockDevice device, int id, byte[] passphrase) throws IOException {
        checkRequirements();
        Keyslot slot = keyslot(id);
        return slot.area().recover(device, slot.kdf(), passphrase, slot.keySize());
    }

    @Override
    public boolean isVolumeKey(byte[] key, int keyslot) throws LuksException {
        JsonNode digest = digestFor(keyslot);
        if (!"pbkdf2".equals(digest.path("type").asText())) {
            throw new LuksException("LUKS2 digest type " + digest.path("type") + " is not supported.");
        }
        byte[] expected = base64(digest, "digest", "LUKS2 digest");
        Kdf.Pbkdf2 kdf = new Kdf.Pbkdf2(HashAlgorithm.byName(digest.path("hash").asText()),
                requireInt(digest, "iterations", "LUKS2 digest"), base64(digest, "salt", "LUKS2 digest"));
        byte[] actual = kdf.derive(key, expected.length);
        boolean equal = MessageDigest.isEqual(actual, expected);
        java.util.Arrays.fill(actual, (byte) 0);
        return equal;
    }

    @Override
    public int freeKeyslot() {
        for (int id = 0; id < MAX_KEYSLOTS; id++) {
            if (!isActive(id)) {
                return id;
            }
        }
        return -1;
    }

    @Override
    public void storeKeyslot(BlockDevice device, int id, byte[] volumeKey, byte[] passphrase, KdfOptions kdf,
                             SecureRandom random) throws IOException {
        checkRequirements();
        CipherSpec cipher = cipher();
        long length = roundUp(KeyslotArea.materialBytes(volumeKey.length, KeyslotArea.STRIPES), AREA_ALIGNMENT);
        Keyslot replaced = isActive(id) ? keyslot(id) : null;
        long offset = findFreeArea(length);
        if (offset < 0 && replaced != null && replaced.areaSize() >= length) {
            offset = replaced.area().offset(); // no room elsewhere: overwrite in place, as cryptsetup does
        }
        if (offset < 0) {
            throw new LuksException("No space for new keyslot.");
        }
        Kdf derivation = kdf.newKdf(random, volumeKey.length);
        new KeyslotArea(offset, cipher, volumeKey.length, KeyslotArea.STRIPES, kdf.hash())
                .store(device, derivation, passphrase, volumeKey, random);
        keyslotsNode().set(Integer.toString(id), keyslotJson(volumeKey.length, cipher, kdf.hash(),
                offset, length, derivation));
        ArrayNode bound = (ArrayNode) digestFor(-1).path("keyslots");
        if (!containsText(bound, Integer.toString(id))) {
            bound.add(Integer.toString(id));
            sortTexts(bound);
        }
        if (replaced != null && replaced.area().offset() != offset) {
            areasToWipe.add(new long[] {replaced.area().offset(), replaced.areaSize()});
        }
    }

    private static ObjectNode keyslotJson(int keySize, CipherSpec cipher, HashAlgorithm afHash, long offset,
                                          long length, Kdf kdf) {
        ObjectNode slot = NODES.objectNode();
        slot.put("type", "luks2");
        slot.put("key_size", keySize);
        ObjectNode af = slot.putObject("af");
        af.put("type", "luks1");
        af.put("stripes", KeyslotArea.STRIPES);
        af.put("hash", afHash.luksName());
        ObjectNode area = slot.putObject("area");
        area.put("type", "raw");
        area.put("offset", Long.toString(offset));
        area.put("size", Long.toString(length));
        area.put("encryption", cipher.toString());
        area.put("key_size", keySize);
        ObjectNode kdfNode = slot.putObject("kdf");
        kdfNode.put("type", kdf.typeName());
        switch (kdf) {
            case Kdf.Pbkdf2 pbkdf2 -> {
                kdfNode.put("hash", pbkdf2.hash().luksName());
                kdfNode.put("iterations", pbkdf2.iterations());
            }
            case Kdf.Argon2 argon2 -> {
                kdfNode.put("time", argon2.time());
                kdfNode.put("memory", argon2.memoryKiB());
                kdfNode.put("cpus", argon2.parallel());
            }
        }
        kdfNode.put("salt", Base64.getEncoder().encodeToString(kdf.salt()));
        return slot;
    }

    /**
     * Lowest 4 KiB-aligned gap in the keyslots area that fits. A slot being replaced still counts as
     * used: its old key material must stay until the new header is written.
     */
    private long findFreeArea(long length) throws LuksException {
        List<long[]> used = new ArrayList<>(areasToWipe);
        for (int id : activeKeyslots()) {
            Keyslot slot = keyslot(id);
            used.add(new long[] {slot.area().offset(), slot.areaSize()});
        }
        used.sort(Comparator.comparingLong(area -> area[0]));
        long start = 2 * header.hdrSize;
        long end = start + keyslotsSize();
        long offset = start;
        for (long[] area : used) {
            if (offset + length <= area[0]) {
                break;
            }
            offset = Math.max(offset, roundUp(area[0] + area[1], AREA_ALIGNMENT));
        }
        return offset + length <= end ? offset : -1;
    }

    private long keyslotsSize() {
        return Long.parseLong(header.json.path("config").path("keyslots_size").asText("0"));
    }

    @Override
    public void destroyKeyslot(BlockDevice device, int id, SecureRandom random) throws IOException {
        Keyslot slot = keyslot(id);
        KeyslotArea.wipe(device, slot.area().offset(), slot.areaSize(), random);
        keyslotsNode().remove(Integer.toString(id));
        for (String section : List.of("digests", "tokens")) {
            for (JsonNode owner : header.json.path(section)) {
                if (owner.path("keyslots") instanceof ArrayNode keyslots) {
                    removeText(keyslots, Integer.toString(id));
                }
            }
        }
    }

    @Override
    public void write(BlockDevice device, SecureRandom random) throws IOException {
        checkRequirements();
        header.renewSalt(copy, random);
        header.seqid++;
        header.write(device);
        for (long[] area : areasToWipe) {
            KeyslotArea.wipe(device, area[0], area[1], random);
        }
        areasToWipe.clear();
    }

    /** Rewrites both copies from the one in use, without other changes (cryptsetup repair). */
    void repair(BlockDevice device, SecureRandom random) throws IOException {
        write(device, random);
    }

    /** The JSON metadata as {@code cryptsetup luksDump --dump-json-metadata} prints it. */
    String dumpJson() {
        return JsonCStyle.pretty(header.json);
    }

    @Override
    public String dump(String deviceName) {
        return Luks2Dump.text(header);
    }

    static boolean containsText(JsonNode array, String text) {
        for (JsonNode element : array) {
            if (element.asText().equals(text)) {
                return true;
            }
        }
        return false;
    }

    private static void removeText(ArrayNode array, String text) {
        for (Iterator<JsonNode> it = array.elements(); it.hasNext(); ) {
            if (it.next().asText().equals(text)) {
                it.remove();
            }
        }
    }

    private static void sortTexts(ArrayNode array) {
        List<String> values = new ArrayList<>();
        array.forEach(value -> values.add(value.asText()));
        values.sort(Comparator.comparingInt(Integer::parseInt));
        array.removeAll();
        values.forEach(array::add);
    }

    private static long roundUp(long value, long alignment) {
        return (value + alignment - 1) / alignment * alignment;
    }
}
