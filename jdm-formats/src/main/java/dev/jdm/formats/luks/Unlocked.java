package dev.jdm.formats.luks;

import java.util.Arrays;
import java.util.List;

/**
 * An opened LUKS volume: the volume key and the crypt table line cryptsetup would load for it.
 * Holds key material: close it (or use try-with-resources) to wipe the key when done.
 */
public final class Unlocked implements AutoCloseable {

    private final LuksVersion version;
    private final String uuid;
    private final int keyslot;
    private final byte[] volumeKey;
    private final String tableLine;
    private final HeaderCopy headerCopy;
    private final List<String> headerProblems;

    Unlocked(LuksVersion version, String uuid, int keyslot, byte[] volumeKey, String tableLine, HeaderCopy headerCopy,
             List<String> headerProblems) {
        this.version = version;
        this.uuid = uuid;
        this.keyslot = keyslot;
        this.volumeKey = volumeKey;
        this.tableLine = tableLine;
        this.headerCopy = headerCopy;
        this.headerProblems = List.copyOf(headerProblems);
    }

    public LuksVersion version() {
        return version;
    }

    /** The LUKS header's UUID. */
    public String uuid() {
        return uuid;
    }

    /**
     * The device-mapper UUID cryptsetup gives the mapping, {@code CRYPT-LUKS2-<uuid without dashes>-<name>},
     * which tools use to recognise a LUKS mapping.
     */
    public String dmUuid(String mappingName) {
        return "CRYPT-" + version + "-" + uuid.replace("-", "") + "-" + mappingName;
    }

    /** The keyslot the passphrase opened. */
    public int keyslot() {
        return keyslot;
    }

    /** A copy of the volume key; the caller wipes it. */
    public byte[] volumeKey() {
        return volumeKey.clone();
    }

    /** {@code 0 <sectors> crypt <cipher> <hexkey> 0 <dev> <offset>[ <n> <features>]}. Contains the key. */
    public String tableLine() {
        return tableLine;
    }

    /** Which LUKS2 header copy was used (BOTH when neither was damaged). */
    public HeaderCopy headerCopy() {
        return headerCopy;
    }

    /** What was wrong with the copy that was not used. */
    public List<String> headerProblems() {
        return headerProblems;
    }

    @Override
    public void close() {
        Arrays.fill(volumeKey, (byte) 0);
    }

    @Override
    public String toString() {
        return "Unlocked[" + version + ", keyslot " + keyslot + "]";
    }
}
