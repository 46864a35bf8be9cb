package dev.jdm.targets.logwrites;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The on-disk format of dm-log-writes (drivers/md/dm-log-writes.c), shared with xfstests' replay-log
 * and qemu's blklogwrites. Everything is little-endian and counted in "sectors" of the logged
 * device's logical block size, written in the super block.
 * <pre>
 * block 0          super: le64 magic, le64 version (1), le64 nr_entries, le32 sectorsize, zero padding
 * block 1..        entries, one after the other:
 *   1 block          le64 sector, le64 nr_sectors, le64 flags, le64 data_len, then the mark text
 *                    (data_len bytes, marks only) and zero padding
 *   nr_sectors blocks  the written data (absent for discards, marks and flushes)
 * </pre>
 */
public final class LogFormat {
    public static final long MAGIC = 0x6a736677736872L;
    public static final long VERSION = 1;
    /** Bytes of the entry header; a mark's text follows it in the same block. */
    public static final int ENTRY_HEADER_SIZE = 32;
    public static final int SUPER_SIZE = 28;

    public static final long FLAG_FLUSH = 1;
    public static final long FLAG_FUA = 2;
    public static final long FLAG_DISCARD = 4;
    public static final long FLAG_MARK = 8;
    public static final long FLAG_METADATA = 16;

    /** The mark the kernel target logs when it is destroyed. */
    public static final String END_MARK = "dm-log-writes-end";

    private LogFormat() {
    }

    /** The super block, padded with zeroes to one sector of the log. */
    public static ByteBuffer encodeSuper(long entries, int sectorSize) {
        ByteBuffer b = ByteBuffer.allocate(sectorSize).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(MAGIC).putLong(VERSION).putLong(entries).putInt(sectorSize);
        return b.clear();
    }

    /** One entry block: the header, a mark's text if any, zero padding. */
    public static ByteBuffer encodeEntry(long sector, long sectors, long flags, byte[] mark, int sectorSize) {
        ByteBuffer b = ByteBuffer.allocate(sectorSize).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(sector).putLong(sectors).putLong(flags).putLong(mark == null ? 0 : mark.length);
        if (mark != null) {
            b.put(mark);
        }
        return b.clear();
    }

    /**
     * The bytes a mark keeps: the kernel copies at most {@code sectorSize - 32 - 1} bytes of the text
     * so that a terminating zero always fits in the entry block.
     */
    public static byte[] markBytes(String text, int sectorSize) {
        byte[] all = text.getBytes(StandardCharsets.UTF_8);
        int max = sectorSize - ENTRY_HEADER_SIZE - 1;
        if (all.length <= max) {
            return all;
        }
        byte[] kept = new byte[max];
        System.arraycopy(all, 0, kept, 0, max);
        return kept;
    }

    /** Flag names as replay-log prints them: {@code FLUSH|FUA}, {@code NONE}, {@code UNKNOWN.0x20}. */
    public static String flagNames(long flags) {
        StringBuilder sb = new StringBuilder();
        String[] names = {"FLUSH", "FUA", "DISCARD", "MARK"};
        long rest = flags;
        for (int bit = 0; bit < names.length; bit++) {
            if ((flags & (1L << bit)) != 0) {
                if (!sb.isEmpty()) sb.append('|');
                sb.append(names[bit]);
                rest &= ~(1L << bit);
            }
        }
        if (rest != 0) {
            if (!sb.isEmpty()) sb.append('|');
            sb.append("UNKNOWN.0x").append(Long.toHexString(rest));
        }
        return sb.isEmpty() ? "NONE" : sb.toString();
    }
}
