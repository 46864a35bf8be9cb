package dev.jdm.targets.logwrites;

/**
 * One entry of a write log.
 *
 * @param index      0-based entry number, as replay-log counts them
 * @param logOffset  byte offset of the entry's header block in the log
 * @param sector     first sector written, in units of {@code sectorSize}
 * @param sectors    number of sectors written or discarded, in units of {@code sectorSize}
 * @param flags      {@link LogFormat#FLAG_FLUSH} and friends
 * @param mark       the mark's text for MARK entries, otherwise null
 * @param sectorSize the log's sector size in bytes
 */
public record LogEntry(long index, long logOffset, long sector, long sectors, long flags, String mark, int sectorSize) {

    public boolean isFlush() {
        return (flags & LogFormat.FLAG_FLUSH) != 0;
    }

    public boolean isFua() {
        return (flags & LogFormat.FLAG_FUA) != 0;
    }

    public boolean isDiscard() {
        return (flags & LogFormat.FLAG_DISCARD) != 0;
    }

    public boolean isMark() {
        return (flags & LogFormat.FLAG_MARK) != 0;
    }

    public boolean isMark(String text) {
        return isMark() && text.equals(mark);
    }

    /** Whether the entry carries data blocks in the log (writes; not discards, marks or empty flushes). */
    public boolean hasData() {
        return sectors > 0 && !isDiscard();
    }

    /** Where the written bytes go on the replayed device. */
    public long deviceOffset() {
        return sector * sectorSize;
    }

    /** Bytes written or discarded on the device. */
    public long length() {
        return sectors * sectorSize;
    }

    /** Byte offset in the log of the entry's data (right after its header block). */
    public long dataOffset() {
        return logOffset + sectorSize;
    }

    /** Byte offset in the log of the next entry. */
    public long nextLogOffset() {
        return dataOffset() + (hasData() ? length() : 0);
    }

    /**
     * The line replay-log -v prints for it, e.g. {@code 3@9: sector 8, size 4096, flags 0x0(NONE)},
     * followed for marks by their text: {@code  mark "after-fsync"}.
     */
    public String describe() {
        return index + "@" + dataOffset() / sectorSize + ": sector " + sector + ", size " + length()
                + ", flags 0x" + Long.toHexString(flags) + "(" + LogFormat.flagNames(flags) + ")"
                + (isMark() ? " mark \"" + mark + "\"" : "");
    }
}
