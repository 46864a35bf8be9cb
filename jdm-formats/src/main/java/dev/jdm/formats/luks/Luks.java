package dev.jdm.formats.luks;

import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.FileBlockDevice;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;

/**
 * LUKS1 and LUKS2 volumes, compatible with cryptsetup: one method per {@code jdm luks} command.
 * Passphrases are bytes (see {@link PassphraseSource}); this class never keeps them, and wipes
 * every key it derives. Operations that fail write nothing.
 */
public final class Luks {

    private static final byte[] LUKS_MAGIC = {'L', 'U', 'K', 'S', (byte) 0xBA, (byte) 0xBE};
    /** cryptsetup's default LUKS2 data offset: 16 MiB. */
    private static final long LUKS2_DEFAULT_DATA_OFFSET = 16L * 1024 * 1024;
    private static final int WIPE_CHUNK = 1024 * 1024;

    private static final SecureRandom RANDOM = new SecureRandom();

    private Luks() {
    }

    /** What {@link #format} made. */
    public record Formatted(LuksVersion version, String uuid, int keyslot, long dataOffsetSectors, int sectorSize) {
    }

    /** luksFormat: writes a new header with one keyslot for the passphrase; the data area is not touched. */
    public static Formatted format(LuksDevice device, FormatOptions options, byte[] passphrase) throws IOException {
        CipherSpec cipher = CipherSpec.parse(options.cipher());
        byte[] givenKey = options.volumeKey();
        int keyBytes = givenKey != null ? givenKey.length
                : options.keySizeBits() != 0 ? options.keySizeBits() / 8
                : "xts".equals(cipher.chainMode()) ? 64 : 32;
        if (options.keySizeBits() % 8 != 0 || (givenKey != null && options.keySizeBits() != 0
                && options.keySizeBits() != keyBytes * 8)) {
            throw new LuksException("Invalid key size.");
        }
        cipher.checkKeySize(keyBytes);
        KdfOptions kdf = options.kdfOrDefault();
        boolean luks1 = options.type() == LuksVersion.LUKS1;
        if (luks1 && !kdf.isPbkdf2()) {
            throw new LuksException("PBKDF " + kdf.pbkdf() + " is not supported for LUKS1.");
        }
        if (luks1 && options.sectorSize() != 0 && options.sectorSize() != 512) {
            throw new LuksException("Unsupported encryption sector size.");
        }
        int slot = options.keySlot();
        if (slot < 0 || slot >= (luks1 ? Luks1Header.KEYSLOTS : Luks2Volume.MAX_KEYSLOTS)) {
            throw new LuksException("Key slot " + slot + " is invalid.");
        }
        String uuid = options.uuid() != null ? UUID.fromString(options.uuid()).toString() : UUID.randomUUID().toString();
        if (device.isDetached() && !Files.exists(device.header())) {
            Files.createFile(device.header());
        }
        byte[] volumeKey = givenKey != null ? givenKey : randomBytes(keyBytes);
        // One open when the header is not detached: block devices are claimed exclusively.
        try (FileBlockDevice header = FileBlockDevice.open(device.header(), FileBlockDevice.Options.READ_WRITE);
             FileBlockDevice data = device.isDetached()
                     ? FileBlockDevice.open(device.data(), FileBlockDevice.Options.READ_ONLY) : header) {
            // cryptsetup's volume-key digest: the minimum 1000 iterations when costs are forced, else ~125 ms.
            int digestIterations = kdf.forcedIterations() != 0 ? KdfOptions.PBKDF2_MIN_ITERATIONS
                    : KdfOptions.benchmark(cost -> new Kdf.Pbkdf2(kdf.hash(), cost, new byte[32]),
                    KdfOptions.PBKDF2_MIN_ITERATIONS, 125, keyBytes);
            NewHeader layout = luks1
                    ? newLuks1(options, device, cipher, volumeKey, kdf, uuid, digestIterations)
                    : newLuks2(options, device, data, cipher, volumeKey, kdf, uuid, digestIterations);
            LuksVolume volume = layout.volume();
            long dataStart = volume.dataOffsetSectors() * 512;
            if (!device.isDetached() && data.size() <= dataStart) {
                throw new LuksException("Device " + device.data() + " is too small. (LUKS" + options.type().number()
                        + " requires at least " + (dataStart + 512) + " bytes.)");
            }
            if (header.isBlockDevice() && header.size() < layout.metadataEnd()) {
                throw new LuksException("Device " + device.header() + " is too small.");
            }
            wipeMetadata(header, volume.version(), layout.metadataEnd());
            volume.storeKeyslot(header, slot, volumeKey, passphrase, kdf, RANDOM);
            volume.write(header, RANDOM);
            return new Formatted(volume.version(), uuid, slot, volume.dataOffsetSectors(), volume.sectorSize());
        } finally {
            Arrays.fill(volumeKey, (byte) 0);
        }
    }

    /** A header made in memory, and where its metadata (headers and keyslot areas) ends on the device. */
    private record NewHeader(LuksVolume volume, long metadataEnd) {
    }

    private static NewHeader newLuks1(FormatOptions options, LuksDevice device, CipherSpec cipher, byte[] volumeKey,
                                      KdfOptions kdf, String uuid, int digestIterations) throws LuksException {
        long offset = options.offsetSectors() >= 0 ? options.offsetSectors() : device.isDetached() ? 0 : -1;
        Luks1Volume volume = Luks1Volume.create(cipher, volumeKey, kdf.hash(), uuid, offset, options.alignSectors(),
                digestIterations, RANDOM);
        return new NewHeader(volume, volume.metadataBytes());
    }

    /** A detached LUKS2 header keeps the default 16 MiB layout whatever the data offset. */
    private static NewHeader newLuks2(FormatOptions options, LuksDevice device, FileBlockDevice data,
                                      CipherSpec cipher, byte[] volumeKey, KdfOptions kdf, String uuid,
                                      int digestIterations) throws LuksException {
        long dataOffset = options.offsetSectors() >= 0 ? options.offsetSectors() * 512
                : device.isDetached() ? 0 : LUKS2_DEFAULT_DATA_OFFSET;
        long keyslotsSize = Luks2Volume.keyslotsSizeFor(device.isDetached()
                ? Math.max(dataOffset, LUKS2_DEFAULT_DATA_OFFSET) : dataOffset);
        if (keyslotsSize < KeyslotArea.materialBytes(volumeKey.length, KeyslotArea.STRIPES)) {
            throw new LuksException("Requested data offset is too small.");
        }
        int sectorSize = chooseSectorSize(options.sectorSize(), data, dataOffset);
        Luks2Volume volume = Luks2Volume.create(cipher, volumeKey, sectorSize, uuid, options.label(),
                options.subsystem(), dataOffset, keyslotsSize, kdf.hash(), digestIterations, RANDOM);
        return new NewHeader(volume, 2 * Luks2Volume.DEFAULT_METADATA_SIZE + keyslotsSize);
    }

    /**
     * cryptsetup's automatic choice: 4096 when the device's I/O unit suggests it (regular files report
     * 4096-byte blocks) and the data area is a whole number of 4096-byte sectors, else 512.
     */
    private static int chooseSectorSize(int requested, FileBlockDevice data, long dataOffset)
            throws LuksException {
        long dataBytes = data.size() - dataOffset;
        if (requested != 0) {
            if (requested < 512 || requested > 4096 || Integer.bitCount(requested) != 1) {
                throw new LuksException("Unsupported encryption sector size.");
            }
            if (dataBytes % requested != 0 || dataOffset % requested != 0) {
                throw new LuksException("Device size is not aligned to requested sector size.");
            }
            return requested;
        }
        boolean prefers4k = !data.isBlockDevice() || data.logicalBlockSize() >= 4096;
        return prefers4k && dataBytes % 4096 == 0 && dataOffset % 4096 == 0 ? 4096 : 512;
    }

    /** Zeroes the metadata and fills the keyslots area with noise, as cryptsetup does before writing a header. */
    private static void wipeMetadata(BlockDevice header, LuksVersion version, long metadataEnd) throws IOException {
        long zeroEnd = version == LuksVersion.LUKS1 ? 4096 : 2 * Luks2Volume.DEFAULT_METADATA_SIZE;
        header.write(0, ByteBuffer.allocate((int) zeroEnd), false);
        byte[] noise = new byte[WIPE_CHUNK];
        for (long at = zeroEnd; at < metadataEnd; at += WIPE_CHUNK) {
            int length = (int) Math.min(WIPE_CHUNK, metadataEnd - at);
            RANDOM.nextBytes(noise);
            header.write(at, ByteBuffer.wrap(noise, 0, length), false);
        }
        header.flush();
    }

    /**
     * luksOpen without activation: finds the keyslot the passphrase opens, and returns the volume key
     * with the crypt table line cryptsetup would load for it.
     */
    public static Unlocked open(LuksDevice device, OpenOptions options, byte[] passphrase) throws IOException {
        try (FileBlockDevice header = FileBlockDevice.open(device.header(), FileBlockDevice.Options.READ_ONLY);
             FileBlockDevice data = device.isDetached()
                     ? FileBlockDevice.open(device.data(), FileBlockDevice.Options.READ_ONLY) : header) {
            LuksVolume volume = readVolume(header, device.header().toString());
            Unlock unlock = unlock(volume, header, passphrase, options.keySlot());
            try {
                long offset = volume.dataOffsetSectors();
                long sectors = volume.dataSizeSectors() >= 0 ? volume.dataSizeSectors() : data.size() / 512 - offset;
                int sectorSize = volume.sectorSize();
                if (sectors <= 0) {
                    throw new LuksException("Device " + device.data() + " is too small.");
                }
                if (sectors % (sectorSize / 512) != 0) {
                    throw new LuksException("Device size is not aligned to requested sector size.");
                }
                Set<String> features = new LinkedHashSet<>(options.features());
                features.addAll(volume.persistentFlags());
                String line = CryptTableLine.format(sectors, volume.cipher(), unlock.key(), volume.ivOffsetSectors(),
                        data.id(), offset, sectorSize, features);
                return new Unlocked(volume.version(), volume.uuid(), unlock.keyslot(), unlock.key().clone(), line,
                        volume.headerCopy(), volume.headerProblems());
            } finally {
                unlock.wipe();
            }
        }
    }

    /** --test-passphrase: the keyslot the passphrase opens. */
    public static int testPassphrase(LuksDevice device, byte[] passphrase, int keySlot) throws IOException {
        try (FileBlockDevice header = FileBlockDevice.open(device.header(), FileBlockDevice.Options.READ_ONLY)) {
            Unlock unlock = unlock(readVolume(header, device.header().toString()), header, passphrase, keySlot);
            unlock.wipe();
            return unlock.keyslot();
        }
    }

    /** luksAddKey: a new keyslot (the given one, or the first free) for {@code newPassphrase}. */
    public static int addKey(LuksDevice device, byte[] passphrase, byte[] newPassphrase, int newKeySlot,
                             KdfOptions kdf) throws IOException {
        try (FileBlockDevice header = FileBlockDevice.open(device.header(), FileBlockDevice.Options.READ_WRITE)) {
            LuksVolume volume = readVolume(header, device.header().toString());
            int slot = freeSlot(volume, newKeySlot);
            Unlock unlock = unlock(volume, header, passphrase, -1);
            try {
                volume.storeKeyslot(header, slot, unlock.key(), newPassphrase, kdfFor(volume, kdf), RANDOM);
                volume.write(header, RANDOM);
                return slot;
            } finally {
                unlock.wipe();
            }
        }
    }

    /** luksAddKey --volume-key-file: a new keyslot for {@code newPassphrase} holding the given volume key. */
    public static int addKeyWithVolumeKey(LuksDevice device, byte[] volumeKey, byte[] newPassphrase, int newKeySlot,
                                          KdfOptions kdf) throws IOException {
        try (FileBlockDevice header = FileBlockDevice.open(device.header(), FileBlockDevice.Options.READ_WRITE)) {
            LuksVolume volume = readVolume(header, device.header().toString());
            if (!volume.isVolumeKey(volumeKey, -1)) {
                throw new LuksException("Volume key does not match the volume.");
            }
            int slot = freeSlot(volume, newKeySlot);
            volume.storeKeyslot(header, slot, volumeKey, newPassphrase, kdfFor(volume, kdf), RANDOM);
            volume.write(header, RANDOM);
            return slot;
        }
    }

    /** The requested slot if it is free, or the first free one when none is requested. */
    private static int freeSlot(LuksVolume volume, int requested) throws LuksException {
        int slot = requested >= 0 ? requested : volume.freeKeyslot();
        if (slot < 0) {
            throw new LuksException("All key slots full.");
        }
        if (slot >= volume.maxKeyslots()) {
            throw new LuksException("Key slot " + slot + " is invalid.");
        }
        if (volume.isActive(slot)) {
            throw new LuksException("Key slot " + slot + " is full, please select another one.");
        }
        return slot;
    }

    /** luksRemoveKey: destroys the keyslot the passphrase opens; returns its number. */
    public static int removeKey(LuksDevice device, byte[] passphrase) throws IOException {
        try (FileBlockDevice header = FileBlockDevice.open(device.header(), FileBlockDevice.Options.READ_WRITE)) {
            LuksVolume volume = readVolume(header, device.header().toString());
            Unlock unlock = unlock(volume, header, passphrase, -1);
            unlock.wipe();
            volume.destroyKeyslot(header, unlock.keyslot(), RANDOM);
            volume.write(header, RANDOM);
            return unlock.keyslot();
        }
    }

    /**
     * luksKillSlot: destroys a keyslot by number. With a passphrase (cryptsetup asks for one unless in
     * batch mode) it must open some keyslot first; null skips that check.
     */
    public static void killSlot(LuksDevice device, int keySlot, byte[] otherPassphrase) throws IOException {
        try (FileBlockDevice header = FileBlockDevice.open(device.header(), FileBlockDevice.Options.READ_WRITE)) {
            LuksVolume volume = readVolume(header, device.header().toString());
            if (!volume.isActive(keySlot)) {
                throw new LuksException("Keyslot " + keySlot + " is not active.");
            }
            if (otherPassphrase != null) {
                unlock(volume, header, otherPassphrase, -1).wipe();
            }
            volume.destroyKeyslot(header, keySlot, RANDOM);
            volume.write(header, RANDOM);
        }
    }

    /**
     * luksChangeKey: replaces the passphrase of the keyslot the old one opens. LUKS1 moves the key to
     * the first free slot (or overwrites in place when none is free); LUKS2 keeps the slot number and
     * writes the new key material to a free area first, as cryptsetup 2.x does. Returns the new slot.
     */
    public static int changeKey(LuksDevice device, byte[] passphrase, byte[] newPassphrase, int keySlot,
                                KdfOptions kdf) throws IOException {
        try (FileBlockDevice header = FileBlockDevice.open(device.header(), FileBlockDevice.Options.READ_WRITE)) {
            LuksVolume volume = readVolume(header, device.header().toString());
            Unlock unlock = unlock(volume, header, passphrase, keySlot);
            try {
                int oldSlot = unlock.keyslot();
                int newSlot = oldSlot;
                if (volume.version() == LuksVersion.LUKS1 && volume.freeKeyslot() >= 0) {
                    newSlot = volume.freeKeyslot();
                }
                if (newSlot == oldSlot && volume.version() == LuksVersion.LUKS1) {
                    volume.destroyKeyslot(header, oldSlot, RANDOM);
                }
                volume.storeKeyslot(header, newSlot, unlock.key(), newPassphrase, kdfFor(volume, kdf), RANDOM);
                // Commit the new slot before the old one goes, so a crash in between loses no passphrase.
                volume.write(header, RANDOM);
                if (newSlot != oldSlot) {
                    volume.destroyKeyslot(header, oldSlot, RANDOM);
                    volume.write(header, RANDOM);
                }
                return newSlot;
            } finally {
                unlock.wipe();
            }
        }
    }

    /** luksDump: the header as cryptsetup prints it. */
    public static String dump(LuksDevice device) throws IOException {
        try (FileBlockDevice header = FileBlockDevice.open(device.header(), FileBlockDevice.Options.READ_ONLY)) {
            return readVolume(header, device.header().toString()).dump(device.header().toString());
        }
    }

    /** luksDump --dump-json-metadata (LUKS2 only). */
    public static String dumpJson(LuksDevice device) throws IOException {
        try (FileBlockDevice header = FileBlockDevice.open(device.header(), FileBlockDevice.Options.READ_ONLY)) {
            if (!(readVolume(header, device.header().toString()) instanceof Luks2Volume luks2)) {
                throw new LuksException("Dump operation is not supported for this device type.");
            }
            return luks2.dumpJson();
        }
    }

    /** luksDump --dump-volume-key: the cryptsetup text with the volume key the passphrase unlocks. */
    public static String dumpVolumeKey(LuksDevice device, byte[] passphrase) throws IOException {
        try (FileBlockDevice header = FileBlockDevice.open(device.header(), FileBlockDevice.Options.READ_ONLY)) {
            LuksVolume volume = readVolume(header, device.header().toString());
            Unlock unlock = unlock(volume, header, passphrase, -1);
            try {
                CipherSpec cipher = volume.cipher();
                StringBuilder out = new StringBuilder("LUKS header information for ").append(device.header()).append('\n')
                        .append("Cipher name:   \t").append(cipher.cipher()).append('\n')
                        .append("Cipher mode:   \t").append(cipher.mode()).append('\n')
                        .append("Payload offset:\t").append(volume.dataOffsetSectors()).append('\n')
                        .append("UUID:          \t").append(volume.uuid()).append('\n')
                        .append("MK bits:       \t").append(unlock.key().length * 8).append('\n')
                        .append("MK dump:\t");
                byte[] key = unlock.key();
                for (int i = 0; i < key.length; i += 16) {
                    out.append(i == 0 ? "" : "\n\t\t").append(Fields.hexBytes(key, i, Math.min(16, key.length - i)));
                }
                return out.append('\n').toString();
            } finally {
                unlock.wipe();
            }
        }
    }

    /**
     * repair: rewrites a damaged or outdated LUKS2 header copy from the good one.
     * Returns the copy that was used (BOTH: nothing needed repair, nothing written).
     */
    public static HeaderCopy repair(LuksDevice device) throws IOException {
        try (FileBlockDevice header = FileBlockDevice.open(device.header(), FileBlockDevice.Options.READ_WRITE)) {
            LuksVolume volume = readVolume(header, device.header().toString());
            if (volume instanceof Luks2Volume luks2 && volume.headerCopy() != HeaderCopy.BOTH) {
                luks2.repair(header, RANDOM);
            }
            return volume.headerCopy();
        }
    }

    /** The version and damage state of a header without a passphrase (isLuks, and what repair would do). */
    public static HeaderCopy inspect(LuksDevice device, List<String> problems) throws IOException {
        try (FileBlockDevice header = FileBlockDevice.open(device.header(), FileBlockDevice.Options.READ_ONLY)) {
            LuksVolume volume = readVolume(header, device.header().toString());
            problems.addAll(volume.headerProblems());
            return volume.headerCopy();
        }
    }

    /** The LUKS version a header has. */
    public static LuksVersion version(LuksDevice device) throws IOException {
        try (FileBlockDevice header = FileBlockDevice.open(device.header(), FileBlockDevice.Options.READ_ONLY)) {
            return readVolume(header, device.header().toString()).version();
        }
    }

    static LuksVolume readVolume(BlockDevice header, String name) throws IOException {
        if (header.size() < 4096) {
            throw new LuksException("Device " + name + " is not a valid LUKS device.");
        }
        byte[] start = Luks2Header.readBytes(header, 0, 8);
        if (Arrays.equals(Arrays.copyOf(start, 6), LUKS_MAGIC)) {
            int version = ((start[6] & 0xFF) << 8) | (start[7] & 0xFF);
            return switch (version) {
                case 1 -> Luks1Volume.read(header, name);
                case 2 -> Luks2Volume.read(header, name);
                default -> throw new LuksException("Unsupported LUKS version " + version + ".");
            };
        }
        // A damaged primary LUKS2 header: the secondary copy may still be found at its usual offsets.
        try {
            return Luks2Volume.read(header, name);
        } catch (LuksException e) {
            throw new LuksException("Device " + name + " is not a valid LUKS device.", e);
        }
    }

    /** A keyslot opened by a passphrase, with the volume key it holds. */
    private record Unlock(int keyslot, byte[] key) {
        void wipe() {
            Arrays.fill(key, (byte) 0);
        }
    }

    /** Tries the passphrase on one keyslot or on all in cryptsetup's order; the key must match the digest. */
    private static Unlock unlock(LuksVolume volume, BlockDevice header, byte[] passphrase, int keySlot)
            throws IOException {
        List<Integer> slots = keySlot >= 0 ? List.of(keySlot) : volume.unlockOrder();
        if (keySlot >= volume.maxKeyslots()) {
            throw new LuksException("Key slot " + keySlot + " is invalid.");
        }
        if (keySlot >= 0 && !volume.isActive(keySlot)) {
            throw new LuksException("Keyslot " + keySlot + " is not active.");
        }
        for (int slot : slots) {
            byte[] candidate = volume.recoverKey(header, slot, passphrase);
            if (volume.isVolumeKey(candidate, slot)) {
                return new Unlock(slot, candidate);
            }
            Arrays.fill(candidate, (byte) 0);
        }
        throw LuksException.noKeyAvailable();
    }

    /** New LUKS1 keyslots are PBKDF2 whatever the default says. */
    private static KdfOptions kdfFor(LuksVolume volume, KdfOptions kdf) {
        if (kdf != null) {
            return kdf;
        }
        return volume.version() == LuksVersion.LUKS1 ? KdfOptions.defaultsLuks1() : KdfOptions.defaultsLuks2();
    }

    private static byte[] randomBytes(int length) {
        byte[] bytes = new byte[length];
        RANDOM.nextBytes(bytes);
        return bytes;
    }
}
