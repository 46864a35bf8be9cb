package dev.jdm.pdata;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** One 4 KiB metadata block held in the block manager's cache. */
public final class Block {
    public static final int SIZE = 4096;

    private final long location;
    private final BlockType type;
    private final ByteBuffer data;
    boolean dirty;
    /**
     * Set by cache hits, cleared when the CLOCK hand passes: recently used blocks stay cached. A plain field:
     * a hit the evicting thread does not see yet only costs the block its second chance.
     */
    boolean referenced;
    /** Dirty and taken out of the CLOCK ring until the commit writes it (the manager's monitor guards it). */
    boolean held;

    Block(long location, BlockType type, ByteBuffer data) {
        this.location = location;
        this.type = type;
        this.data = data.order(ByteOrder.LITTLE_ENDIAN);
    }

    public long location() {
        return location;
    }

    public BlockType type() {
        return type;
    }

    /** The block's bytes (little-endian, absolute indexing); callers that change them must hold it for write. */
    public ByteBuffer data() {
        return data;
    }

    /** Stamps location and checksum just before the block goes to disk. */
    void seal() {
        data.putLong(type.blocknrOffset(), location);
        data.putInt(0, type.checksum(data));
    }

    /** Refuses a block whose checksum or recorded location is wrong, naming block and type. */
    void validate() throws MetadataException {
        int stored = data.getInt(0);
        int expected = type.checksum(data);
        if (stored != expected) {
            throw new MetadataException(dev.jdm.core.Errno.EILSEQ, String.format(
                    "bad checksum in %s (block %d): stored 0x%08x, computed 0x%08x",
                    type.label(), location, stored, expected));
        }
        long recorded = data.getLong(type.blocknrOffset());
        if (recorded != location) {
            throw new MetadataException(dev.jdm.core.Errno.EIO, String.format(
                    "%s at block %d says it is block %d (misdirected I/O?)", type.label(), location, recorded));
        }
    }
}
