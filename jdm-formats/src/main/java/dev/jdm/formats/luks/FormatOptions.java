package dev.jdm.formats.luks;

/**
 * What {@code jdm luks format} (cryptsetup luksFormat) may be told, with cryptsetup 2.6's defaults.
 *
 * @param type          --type luks1|luks2
 * @param cipher        --cipher, e.g. aes-xts-plain64
 * @param keySizeBits   --key-size; 0 = 512 for XTS, 256 otherwise
 * @param kdf           --pbkdf, --hash, --iter-time, --pbkdf-force-iterations, --pbkdf-memory, --pbkdf-parallel;
 *                      null = the defaults of the type
 * @param sectorSize    --sector-size (LUKS2); 0 = 4096 when the data device allows it, as cryptsetup picks
 * @param uuid          --uuid; null = random
 * @param label         --label (LUKS2)
 * @param subsystem     --subsystem (LUKS2)
 * @param offsetSectors --offset: data offset in 512-byte sectors; -1 = default (0 with a detached header)
 * @param alignSectors  --align-payload (LUKS1): payload alignment in sectors
 * @param keySlot       --key-slot for the first passphrase
 * @param volumeKey     --volume-key-file contents; null = random
 */
public record FormatOptions(LuksVersion type, String cipher, int keySizeBits, KdfOptions kdf, int sectorSize,
                            String uuid, String label, String subsystem, long offsetSectors, long alignSectors,
                            int keySlot, byte[] volumeKey) {

    public static final String DEFAULT_CIPHER = "aes-xts-plain64";
    public static final long DEFAULT_ALIGN_SECTORS = 2048;

    public FormatOptions {
        volumeKey = volumeKey == null ? null : volumeKey.clone();
    }

    /** A copy: format wipes the key it uses, and must not wipe the caller's options. */
    @Override
    public byte[] volumeKey() {
        return volumeKey == null ? null : volumeKey.clone();
    }

    public static FormatOptions defaults(LuksVersion type) {
        return new FormatOptions(type, DEFAULT_CIPHER, 0, null, 0, null, "", "", -1, DEFAULT_ALIGN_SECTORS, 0, null);
    }

    public FormatOptions withCipher(String newCipher, int newKeySizeBits) {
        return new FormatOptions(type, newCipher, newKeySizeBits, kdf, sectorSize, uuid, label, subsystem,
                offsetSectors, alignSectors, keySlot, volumeKey);
    }

    public FormatOptions withKdf(KdfOptions newKdf) {
        return new FormatOptions(type, cipher, keySizeBits, newKdf, sectorSize, uuid, label, subsystem,
                offsetSectors, alignSectors, keySlot, volumeKey);
    }

    public FormatOptions withSectorSize(int newSectorSize) {
        return new FormatOptions(type, cipher, keySizeBits, kdf, newSectorSize, uuid, label, subsystem,
                offsetSectors, alignSectors, keySlot, volumeKey);
    }

    public FormatOptions withUuid(String newUuid) {
        return new FormatOptions(type, cipher, keySizeBits, kdf, sectorSize, newUuid, label, subsystem,
                offsetSectors, alignSectors, keySlot, volumeKey);
    }

    public FormatOptions withLabel(String newLabel, String newSubsystem) {
        return new FormatOptions(type, cipher, keySizeBits, kdf, sectorSize, uuid, newLabel, newSubsystem,
                offsetSectors, alignSectors, keySlot, volumeKey);
    }

    public FormatOptions withOffset(long newOffsetSectors, long newAlignSectors) {
        return new FormatOptions(type, cipher, keySizeBits, kdf, sectorSize, uuid, label, subsystem,
                newOffsetSectors, newAlignSectors, keySlot, volumeKey);
    }

    public FormatOptions withKeySlot(int newKeySlot) {
        return new FormatOptions(type, cipher, keySizeBits, kdf, sectorSize, uuid, label, subsystem,
                offsetSectors, alignSectors, newKeySlot, volumeKey);
    }

    public FormatOptions withVolumeKey(byte[] newVolumeKey) {
        return new FormatOptions(type, cipher, keySizeBits, kdf, sectorSize, uuid, label, subsystem,
                offsetSectors, alignSectors, keySlot, newVolumeKey);
    }

    KdfOptions kdfOrDefault() {
        return kdf != null ? kdf : type == LuksVersion.LUKS1 ? KdfOptions.defaultsLuks1() : KdfOptions.defaultsLuks2();
    }
}
