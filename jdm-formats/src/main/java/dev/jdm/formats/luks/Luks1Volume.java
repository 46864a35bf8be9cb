package dev.jdm.formats.luks;

import dev.jdm.core.io.BlockDevice;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** A LUKS1 volume: one 592-byte header, eight PBKDF2 keyslots, a PBKDF2 digest of the volume key. */
final class Luks1Volume implements LuksVolume {

    /** Keyslot areas start and are aligned on 4096-byte boundaries (LUKS_ALIGN_KEYSLOTS). */
    private static final int KEYSLOT_ALIGNMENT_SECTORS = 8;

    private Luks1Header header;

    private Luks1Volume(Luks1Header header) {
        this.header = header;
    }

    static Luks1Volume read(BlockDevice device, String deviceName) throws IOException {
        if (device.size() < Luks1Header.SIZE) {
            throw new LuksException("Device " + deviceName + " is too small to hold a LUKS header.");
        }
        return new Luks1Volume(Luks1Header.parse(Luks2Header.readBytes(device, 0, Luks1Header.SIZE), deviceName));
    }

    /**
     * A new header with all keyslots disabled, laid out as cryptsetup lays it out: keyslot areas
     * from sector 8, each aligned to 8 sectors; the payload after them aligned to {@code alignSectors},
     * or at {@code dataOffsetSectors} when given (always so for a detached header).
     */
    static Luks1Volume create(CipherSpec cipher, byte[] volumeKey, HashAlgorithm hash, String uuid,
                              long dataOffsetSectors, long alignSectors, int digestIterations, SecureRandom random)
            throws LuksException {
        int keyBytes = volumeKey.length;
        long areaSectors = KeyslotArea.materialBytes(keyBytes, KeyslotArea.STRIPES) / KeyslotArea.SECTOR;
        Luks1Header.Keyslot[] slots = new Luks1Header.Keyslot[Luks1Header.KEYSLOTS];
        long sector = KEYSLOT_ALIGNMENT_SECTORS;
        for (int i = 0; i < slots.length; i++) {
            slots[i] = new Luks1Header.Keyslot(false, 0, new byte[Luks1Header.SALT_SIZE], (int) sector,
                    KeyslotArea.STRIPES);
            sector = roundUp(sector + areaSectors, KEYSLOT_ALIGNMENT_SECTORS);
        }
        long payload = dataOffsetSectors >= 0 ? dataOffsetSectors : roundUp(sector, alignSectors);
        if (payload != 0 && payload < sector) {
            throw new LuksException("Requested data offset is too small.");
        }
        byte[] salt = new byte[Luks1Header.SALT_SIZE];
        random.nextBytes(salt);
        byte[] digest = new Kdf.Pbkdf2(hash, digestIterations, salt).derive(volumeKey, Luks1Header.DIGEST_SIZE);
        return new Luks1Volume(new Luks1Header(cipher.cipher(), cipher.mode(), hash.luksName(), (int) payload,
                keyBytes, digest, salt, digestIterations, uuid, slots));
    }

    /** Bytes the header and all keyslot areas take: the size of a detached LUKS1 header. */
    long metadataBytes() {
        long end = 0;
        for (Luks1Header.Keyslot slot : header.keyslots) {
            end = Math.max(end, slot.keyMaterialOffset() + header.areaSectors());
        }
        return end * KeyslotArea.SECTOR;
    }

    private static long roundUp(long value, long alignment) {
        return alignment <= 0 ? value : (value + alignment - 1) / alignment * alignment;
    }

    @Override
    public LuksVersion version() {
        return LuksVersion.LUKS1;
    }

    @Override
    public String uuid() {
        return header.uuid;
    }

    @Override
    public CipherSpec cipher() throws LuksException {
        return header.cipher();
    }

    @Override
    public long dataOffsetSectors() {
        return Integer.toUnsignedLong(header.payloadOffset);
    }

    @Override
    public long dataSizeSectors() {
        return -1;
    }

    @Override
    public int sectorSize() {
        return 512;
    }

    @Override
    public List<String> persistentFlags() {
        return List.of();
    }

    @Override
    public HeaderCopy headerCopy() {
        return HeaderCopy.BOTH;
    }

    @Override
    public List<String> headerProblems() {
        return List.of();
    }

    @Override
    public List<Integer> activeKeyslots() {
        List<Integer> active = new ArrayList<>();
        for (int i = 0; i < Luks1Header.KEYSLOTS; i++) {
            if (header.keyslots[i].active()) {
                active.add(i);
            }
        }
        return active;
    }

    @Override
    public boolean isActive(int keyslot) {
        return keyslot >= 0 && keyslot < Luks1Header.KEYSLOTS && header.keyslots[keyslot].active();
    }

    @Override
    public int maxKeyslots() {
        return Luks1Header.KEYSLOTS;
    }

    private KeyslotArea area(int keyslot) throws LuksException {
        Luks1Header.Keyslot slot = header.keyslots[keyslot];
        return new KeyslotArea((long) slot.keyMaterialOffset() * KeyslotArea.SECTOR, header.cipher(),
                header.keyBytes, slot.stripes(), HashAlgorithm.byName(header.hashSpec));
    }

    @Override
    public byte[] recoverKey(BlockDevice device, int keyslot, byte[] passphrase) throws IOException {
        Luks1Header.Keyslot slot = header.keyslots[keyslot];
        Kdf kdf = new Kdf.Pbkdf2(HashAlgorithm.byName(header.hashSpec), slot.iterations(), slot.salt());
        return area(keyslot).recover(device, kdf, passphrase, header.keyBytes);
    }

    @Override
    public boolean isVolumeKey(byte[] key, int keyslot) throws LuksException {
        if (key.length != header.keyBytes) {
            return false;
        }
        byte[] digest = new Kdf.Pbkdf2(HashAlgorithm.byName(header.hashSpec), header.mkDigestIterations,
                header.mkDigestSalt).derive(key, Luks1Header.DIGEST_SIZE);
        boolean equal = MessageDigest.isEqual(digest, header.mkDigest);
        Arrays.fill(digest, (byte) 0);
        return equal;
    }

    @Override
    public int freeKeyslot() {
        for (int i = 0; i < Luks1Header.KEYSLOTS; i++) {
            if (!header.keyslots[i].active()) {
                return i;
            }
        }
        return -1;
    }

    @Override
    public void storeKeyslot(BlockDevice device, int keyslot, byte[] volumeKey, byte[] passphrase, KdfOptions kdf,
                             SecureRandom random) throws IOException {
        if (!kdf.isPbkdf2()) {
            throw new LuksException("PBKDF " + kdf.pbkdf() + " is not supported for LUKS1.");
        }
        // LUKS1 keyslots always use the header's hash.
        KdfOptions withHeaderHash = new KdfOptions("pbkdf2", HashAlgorithm.byName(header.hashSpec), kdf.iterTimeMs(),
                kdf.forcedIterations(), 0, 0);
        Kdf.Pbkdf2 derivation = (Kdf.Pbkdf2) withHeaderHash.newKdf(random, header.keyBytes);
        area(keyslot).store(device, derivation, passphrase, volumeKey, random);
        Luks1Header.Keyslot old = header.keyslots[keyslot];
        header = header.withKeyslot(keyslot, new Luks1Header.Keyslot(true, derivation.iterations(), derivation.salt(),
                old.keyMaterialOffset(), old.stripes()));
    }

    @Override
    public void destroyKeyslot(BlockDevice device, int keyslot, SecureRandom random) throws IOException {
        Luks1Header.Keyslot slot = header.keyslots[keyslot];
        KeyslotArea.wipe(device, (long) slot.keyMaterialOffset() * KeyslotArea.SECTOR,
                header.areaSectors() * KeyslotArea.SECTOR, random);
        header = header.withKeyslot(keyslot, slot.disabled());
    }

    @Override
    public void write(BlockDevice device, SecureRandom random) throws IOException {
        device.write(0, ByteBuffer.wrap(header.toBytes()), false);
        device.flush();
    }

    @Override
    public String dump(String deviceName) {
        StringBuilder out = new StringBuilder();
        out.append("LUKS header information for ").append(deviceName).append("\n\n");
        out.append("Version:       \t1\n");
        out.append("Cipher name:   \t").append(header.cipherName).append('\n');
        out.append("Cipher mode:   \t").append(header.cipherMode).append('\n');
        out.append("Hash spec:     \t").append(header.hashSpec).append('\n');
        out.append("Payload offset:\t").append(dataOffsetSectors()).append('\n');
        out.append("MK bits:       \t").append(header.keyBytes * 8).append('\n');
        out.append("MK digest:     \t").append(Fields.hexBytes(header.mkDigest, 0, Luks1Header.DIGEST_SIZE)).append('\n');
        out.append("MK salt:       \t").append(Fields.hexBytes(header.mkDigestSalt, 0, 16)).append('\n');
        out.append("               \t").append(Fields.hexBytes(header.mkDigestSalt, 16, 16)).append('\n');
        out.append("MK iterations: \t").append(Integer.toUnsignedString(header.mkDigestIterations)).append('\n');
        out.append("UUID:          \t").append(header.uuid).append("\n\n");
        for (int i = 0; i < Luks1Header.KEYSLOTS; i++) {
            Luks1Header.Keyslot slot = header.keyslots[i];
            if (!slot.active()) {
                out.append("Key Slot ").append(i).append(": DISABLED\n");
                continue;
            }
            out.append("Key Slot ").append(i).append(": ENABLED\n");
            out.append("\tIterations:         \t").append(Integer.toUnsignedString(slot.iterations())).append('\n');
            out.append("\tSalt:               \t").append(Fields.hexBytes(slot.salt(), 0, 16)).append('\n');
            out.append("\t                      \t").append(Fields.hexBytes(slot.salt(), 16, 16)).append('\n');
            out.append("\tKey material offset:\t").append(slot.keyMaterialOffset()).append('\n');
            out.append("\tAF stripes:            \t").append(slot.stripes()).append('\n');
        }
        return out.toString();
    }
}
