package dev.jdm.targets.integrity;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The dm-integrity superblock ({@code struct superblock} in dm-integrity.c): 64 meaningful bytes,
 * little-endian, at the start of an 8-sector (4 KiB) area at {@code reserved_sectors}. Mutable,
 * because the kernel flips flags and the recalculation position in place while the device runs.
 */
public final class IntegritySuperblock {
    public static final int SECTORS = 8;
    public static final int BYTES = SECTORS << 9;
    public static final byte[] MAGIC = "integrt\0".getBytes(StandardCharsets.US_ASCII);
    public static final int SALT_SIZE = 16;

    public static final int FLAG_HAVE_JOURNAL_MAC = 0x1;
    public static final int FLAG_RECALCULATING = 0x2;
    public static final int FLAG_DIRTY_BITMAP = 0x4;
    public static final int FLAG_FIXED_PADDING = 0x8;
    public static final int FLAG_FIXED_HMAC = 0x10;
    public static final int FLAG_INLINE = 0x20;

    int version;
    int log2InterleaveSectors;
    int tagSize;
    long journalSections;
    long providedDataSectors;
    int flags;
    int log2SectorsPerBlock;
    int log2BlocksPerBitmapBit;
    long recalcSector;
    byte[] salt = new byte[SALT_SIZE];
    /** Bytes 64..4095 as read: a journal MAC of the superblock lives at the end of the first sector. */
    private final byte[] tail = new byte[BYTES - 64];

    public int version() { return version; }
    public int log2InterleaveSectors() { return log2InterleaveSectors; }
    public int tagSize() { return tagSize; }
    public long journalSections() { return journalSections; }
    public long providedDataSectors() { return providedDataSectors; }
    public int flags() { return flags; }
    public int log2SectorsPerBlock() { return log2SectorsPerBlock; }
    public int log2BlocksPerBitmapBit() { return log2BlocksPerBitmapBit; }
    public long recalcSector() { return recalcSector; }
    public byte[] salt() { return salt.clone(); }

    public boolean has(int flag) {
        return (flags & flag) != 0;
    }

    /** The version the kernel writes for these flags ({@code sb_set_version}): the oldest that can describe them. */
    void setVersion(boolean bitmapMode, boolean metaDevice) {
        if (has(FLAG_INLINE)) {
            version = 6;
        } else if (has(FLAG_FIXED_HMAC)) {
            version = 5;
        } else if (has(FLAG_FIXED_PADDING)) {
            version = 4;
        } else if (bitmapMode || has(FLAG_DIRTY_BITMAP)) {
            version = 3;
        } else if (metaDevice || has(FLAG_RECALCULATING)) {
            version = 2;
        } else {
            version = 1;
        }
    }

    /** Whether the 4 KiB area carries the magic. */
    public static boolean hasMagic(byte[] area) {
        return Arrays.equals(area, 0, MAGIC.length, MAGIC, 0, MAGIC.length);
    }

    public static boolean isAllZero(byte[] area) {
        for (byte b : area) {
            if (b != 0) {
                return false;
            }
        }
        return true;
    }

    public static IntegritySuperblock decode(byte[] area) {
        ByteBuffer b = ByteBuffer.wrap(area).order(ByteOrder.LITTLE_ENDIAN);
        IntegritySuperblock sb = new IntegritySuperblock();
        sb.version = b.get(8) & 0xff;
        sb.log2InterleaveSectors = b.get(9) & 0xff;
        sb.tagSize = b.getShort(10) & 0xffff;
        sb.journalSections = b.getInt(12) & 0xffff_ffffL;
        sb.providedDataSectors = b.getLong(16);
        sb.flags = b.getInt(24);
        sb.log2SectorsPerBlock = b.get(28) & 0xff;
        sb.log2BlocksPerBitmapBit = b.get(29) & 0xff;
        sb.recalcSector = b.getLong(32);
        b.get(48, sb.salt);
        b.get(64, sb.tail);
        return sb;
    }

    public byte[] encode() {
        ByteBuffer b = ByteBuffer.allocate(BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0, MAGIC);
        b.put(8, (byte) version);
        b.put(9, (byte) log2InterleaveSectors);
        b.putShort(10, (short) tagSize);
        b.putInt(12, (int) journalSections);
        b.putLong(16, providedDataSectors);
        b.putInt(24, flags);
        b.put(28, (byte) log2SectorsPerBlock);
        b.put(29, (byte) log2BlocksPerBitmapBit);
        b.putLong(32, recalcSector);
        b.put(48, salt);
        b.put(64, tail);
        return b.array();
    }

    /** The superblock MAC area: the last {@code macSize} bytes of the first 512-byte sector. */
    void storeMac(byte[] mac) {
        System.arraycopy(mac, 0, tail, 512 - 64 - mac.length, mac.length);
    }

    byte[] storedMac(int macSize) {
        return Arrays.copyOfRange(tail, 512 - 64 - macSize, 512 - 64);
    }

    /** The fields as {@code integritysetup dump} prints them. */
    public String describe(String deviceName) {
        StringBuilder s = new StringBuilder();
        s.append("Info for integrity device ").append(deviceName).append(".\n");
        s.append("superblock_version ").append(version).append('\n');
        s.append("log2_interleave_sectors ").append(log2InterleaveSectors).append('\n');
        s.append("integrity_tag_size ").append(tagSize).append('\n');
        s.append("journal_sections ").append(journalSections).append('\n');
        s.append("provided_data_sectors ").append(providedDataSectors).append('\n');
        s.append("sector_size ").append(512 << log2SectorsPerBlock).append('\n');
        if (version >= 2 && has(FLAG_RECALCULATING)) {
            s.append("recalc_sector ").append(recalcSector).append('\n');
        }
        s.append("log2_blocks_per_bitmap ").append(log2BlocksPerBitmapBit).append('\n');
        s.append("flags");
        if (has(FLAG_HAVE_JOURNAL_MAC)) s.append(" have_journal_mac");
        if (has(FLAG_RECALCULATING)) s.append(" recalculating");
        if (has(FLAG_DIRTY_BITMAP)) s.append(" dirty_bitmap");
        if (has(FLAG_FIXED_PADDING)) s.append(" fix_padding");
        if (has(FLAG_FIXED_HMAC)) s.append(" fix_hmac");
        if (has(FLAG_INLINE)) s.append(" inline");
        s.append('\n');
        return s.toString();
    }
}
