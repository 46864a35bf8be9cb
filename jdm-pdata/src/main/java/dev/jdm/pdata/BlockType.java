package dev.jdm.pdata;

/** The kinds of 4 KiB metadata block, each with the XOR constant the kernel folds into its checksum. */
public enum BlockType {
    THIN_SUPERBLOCK("superblock", 160774, 8),
    CACHE_SUPERBLOCK("cache superblock", 9031977, 8),
    ERA_SUPERBLOCK("era superblock", 146538381, 8),
    BTREE_NODE("btree node", 121107, 8),
    BITMAP("space map bitmap", 240779, 8),
    INDEX("space map index", 160478, 8),
    ARRAY("array block", 595846735, 16);

    private final String label;
    private final int xor;
    private final int blocknrOffset;

    BlockType(String label, int xor, int blocknrOffset) {
        this.label = label;
        this.xor = xor;
        this.blocknrOffset = blocknrOffset;
    }

    public String label() {
        return label;
    }

    public int xor() {
        return xor;
    }

    /** Where the block stores its own location (misdirected-I/O check). */
    public int blocknrOffset() {
        return blocknrOffset;
    }
}
