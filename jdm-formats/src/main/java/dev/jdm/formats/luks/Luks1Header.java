package dev.jdm.formats.luks;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * The LUKS1 partition header (592 bytes, big-endian) as the LUKS1 on-disk format specification
 * defines it: cipher, volume-key digest and eight keyslots pointing at their key material.
 */
final class Luks1Header {

    static final int SIZE = 592;
    static final int KEYSLOTS = 8;
    static final int DIGEST_SIZE = 20;
    static final int SALT_SIZE = 32;
    static final int ACTIVE = 0x00AC71F3;
    static final int DISABLED = 0x0000DEAD;
    static final byte[] MAGIC = {'L', 'U', 'K', 'S', (byte) 0xBA, (byte) 0xBE};
    private static final int NAME_SIZE = 32;
    private static final int UUID_SIZE = 40;

    /** One keyslot descriptor; offsets in 512-byte sectors. */
    record Keyslot(boolean active, int iterations, byte[] salt, int keyMaterialOffset, int stripes) {
        Keyslot {
            salt = salt.clone();
        }

        Keyslot disabled() {
            return new Keyslot(false, 0, new byte[SALT_SIZE], keyMaterialOffset, stripes);
        }
    }

    final String cipherName;
    final String cipherMode;
    final String hashSpec;
    final int payloadOffset;
    final int keyBytes;
    final byte[] mkDigest;
    final byte[] mkDigestSalt;
    final int mkDigestIterations;
    final String uuid;
    final Keyslot[] keyslots;

    Luks1Header(String cipherName, String cipherMode, String hashSpec, int payloadOffset, int keyBytes,
                byte[] mkDigest, byte[] mkDigestSalt, int mkDigestIterations, String uuid, Keyslot[] keyslots) {
        this.cipherName = cipherName;
        this.cipherMode = cipherMode;
        this.hashSpec = hashSpec;
        this.payloadOffset = payloadOffset;
        this.keyBytes = keyBytes;
        this.mkDigest = mkDigest.clone();
        this.mkDigestSalt = mkDigestSalt.clone();
        this.mkDigestIterations = mkDigestIterations;
        this.uuid = uuid;
        this.keyslots = keyslots.clone();
    }

    static Luks1Header parse(byte[] raw, String deviceName) throws LuksException {
        ByteBuffer in = ByteBuffer.wrap(raw);
        byte[] magic = new byte[MAGIC.length];
        in.get(magic);
        if (!Arrays.equals(magic, MAGIC)) {
            throw new LuksException("Device " + deviceName + " is not a valid LUKS device.");
        }
        int version = Short.toUnsignedInt(in.getShort());
        if (version != 1) {
            throw new LuksException("Unsupported LUKS version " + version + ".");
        }
        String cipherName = Fields.text(in, NAME_SIZE);
        String cipherMode = Fields.text(in, NAME_SIZE);
        String hashSpec = Fields.text(in, NAME_SIZE);
        int payloadOffset = in.getInt();
        int keyBytes = in.getInt();
        byte[] mkDigest = Fields.bytes(in, DIGEST_SIZE);
        byte[] mkDigestSalt = Fields.bytes(in, SALT_SIZE);
        int mkDigestIterations = in.getInt();
        String uuid = Fields.text(in, UUID_SIZE);
        Keyslot[] keyslots = new Keyslot[KEYSLOTS];
        for (int i = 0; i < KEYSLOTS; i++) {
            int state = in.getInt();
            int iterations = in.getInt();
            byte[] salt = Fields.bytes(in, SALT_SIZE);
            int offset = in.getInt();
            int stripes = in.getInt();
            if (state != ACTIVE && state != DISABLED) {
                throw new LuksException("LUKS keyslot " + i + " is invalid.");
            }
            keyslots[i] = new Keyslot(state == ACTIVE, iterations, salt, offset, stripes);
        }
        Luks1Header header = new Luks1Header(cipherName, cipherMode, hashSpec, payloadOffset, keyBytes,
                mkDigest, mkDigestSalt, mkDigestIterations, uuid, keyslots);
        header.check();
        return header;
    }

    /** The sanity checks cryptsetup makes before trusting a header's numbers. */
    private void check() throws LuksException {
        HashAlgorithm.byName(hashSpec);
        if (keyBytes <= 0 || keyBytes > 128) {
            throw new LuksException("LUKS header has an invalid volume key size " + keyBytes + ".");
        }
        CipherSpec.fromNameAndMode(cipherName, cipherMode);
        long areaSectors = areaSectors();
        for (int i = 0; i < KEYSLOTS; i++) {
            Keyslot slot = keyslots[i];
            if (slot.stripes() != 4000) {
                throw new LuksException("LUKS keyslot " + i + " is invalid.");
            }
            if (slot.keyMaterialOffset() < 8 || (payloadOffset != 0
                    && slot.keyMaterialOffset() + areaSectors > payloadOffset)) {
                throw new LuksException("LUKS keyslot " + i + " is invalid.");
            }
            if (slot.active() && slot.iterations() < 1) {
                throw new LuksException("LUKS keyslot " + i + " is invalid.");
            }
        }
    }

    /** Sectors one keyslot's split key material takes. */
    long areaSectors() {
        return ((long) keyBytes * keyslots[0].stripes() + 511) / 512;
    }

    CipherSpec cipher() throws LuksException {
        return CipherSpec.fromNameAndMode(cipherName, cipherMode);
    }

    Luks1Header withKeyslot(int index, Keyslot slot) {
        Keyslot[] changed = keyslots.clone();
        changed[index] = slot;
        return new Luks1Header(cipherName, cipherMode, hashSpec, payloadOffset, keyBytes,
                mkDigest, mkDigestSalt, mkDigestIterations, uuid, changed);
    }

    byte[] toBytes() throws LuksException {
        ByteBuffer out = ByteBuffer.allocate(SIZE);
        out.put(MAGIC).putShort((short) 1);
        Fields.putText(out, cipherName, NAME_SIZE);
        Fields.putText(out, cipherMode, NAME_SIZE);
        Fields.putText(out, hashSpec, NAME_SIZE);
        out.putInt(payloadOffset).putInt(keyBytes).put(mkDigest).put(mkDigestSalt).putInt(mkDigestIterations);
        Fields.putText(out, uuid, UUID_SIZE);
        for (Keyslot slot : keyslots) {
            out.putInt(slot.active() ? ACTIVE : DISABLED).putInt(slot.iterations()).put(slot.salt())
                    .putInt(slot.keyMaterialOffset()).putInt(slot.stripes());
        }
        return out.array();
    }
}
