package dev.jdm.targets.verity;

/**
 * Where dm-verity keeps each digest: the tree geometry shared by the target (which walks it) and by
 * {@code jdm verity format} (which writes it), so both always agree with the kernel and veritysetup.
 *
 * <p>Levels are numbered from 0 (the digests of data blocks) up to {@code levels - 1} (a single block
 * whose digest is the root). On disk the top level comes first, at {@code hashStart}, then each lower
 * level, every level contiguous.
 */
public final class HashTree {
    /** The kernel's DM_VERITY_MAX_LEVELS. */
    public static final int MAX_LEVELS = 63;

    private final int version;
    private final long dataBlocks;
    private final int hashBlockSize;
    private final int digestSize;
    private final long hashStart;
    private final int hashPerBlockBits;
    private final int levels;
    private final long[] levelStart;
    private final long[] levelBlocks;
    private final long hashEnd;

    /**
     * @param version     0 (Chrome OS: digests packed) or 1 (digests in power-of-two slots)
     * @param dataBlocks  blocks covered by the tree
     * @param hashStart   first block of the tree on the hash device, in hash blocks
     * @throws IllegalArgumentException when the tree would not fit the kernel's limits
     */
    public HashTree(int version, long dataBlocks, int hashBlockSize, int digestSize, long hashStart) {
        if (version != 0 && version != 1) {
            throw new IllegalArgumentException("unsupported hash format version " + version);
        }
        if (digestSize <= 0 || hashBlockSize < 2 * digestSize) {
            throw new IllegalArgumentException("digest size too big for the hash block");
        }
        this.version = version;
        this.dataBlocks = dataBlocks;
        this.hashBlockSize = hashBlockSize;
        this.digestSize = digestSize;
        this.hashStart = hashStart;
        this.hashPerBlockBits = 31 - Integer.numberOfLeadingZeros(hashBlockSize / digestSize);
        int l = 0;
        if (dataBlocks > 0) {
            while (hashPerBlockBits * l < 64 && ((dataBlocks - 1) >>> (hashPerBlockBits * l)) != 0) {
                l++;
            }
        }
        if (l > MAX_LEVELS) {
            throw new IllegalArgumentException("too many tree levels");
        }
        this.levels = l;
        this.levelStart = new long[l];
        this.levelBlocks = new long[l];
        long position = hashStart;
        for (int i = l - 1; i >= 0; i--) {
            levelStart[i] = position;
            levelBlocks[i] = ceilShift(dataBlocks, (i + 1) * hashPerBlockBits);
            position = Math.addExact(position, levelBlocks[i]);
        }
        this.hashEnd = position;
    }

    private static long ceilShift(long n, int bits) {
        if (n == 0) {
            return 0;
        }
        return bits >= 64 ? 1 : ((n - 1) >>> bits) + 1;
    }

    public int version() {
        return version;
    }

    public long dataBlocks() {
        return dataBlocks;
    }

    public int hashBlockSize() {
        return hashBlockSize;
    }

    public int digestSize() {
        return digestSize;
    }

    public long hashStart() {
        return hashStart;
    }

    public int levels() {
        return levels;
    }

    /** Digests per hash block: a power of two, the kernel's {@code 1 << hash_per_block_bits}. */
    public int digestsPerBlock() {
        return 1 << hashPerBlockBits;
    }

    /** Bytes from one digest to the next inside a hash block: packed in version 0, a power-of-two slot in 1. */
    public int digestStride() {
        return version == 0 ? digestSize : hashBlockSize >> hashPerBlockBits;
    }

    /** First hash block of a level. */
    public long levelStart(int level) {
        return levelStart[level];
    }

    /** Number of hash blocks in a level. */
    public long levelBlocks(int level) {
        return levelBlocks[level];
    }

    /** Hash blocks of the whole tree (veritysetup's "Hash blocks"). */
    public long hashBlocks() {
        return hashEnd - hashStart;
    }

    /** One past the last hash block of the tree, counted from the start of the hash device (the kernel's {@code hash_blocks}). */
    public long hashEnd() {
        return hashEnd;
    }

    /** The hash block holding the digest of {@code block} (a data block at level 0, else a block of level-1). */
    public long hashBlockFor(long dataBlock, int level) {
        long position = dataBlock >>> (level * hashPerBlockBits);
        return levelStart[level] + (position >>> hashPerBlockBits);
    }

    /** Byte offset of that digest inside its hash block. */
    public int offsetFor(long dataBlock, int level) {
        long position = dataBlock >>> (level * hashPerBlockBits);
        int index = (int) (position & ((1L << hashPerBlockBits) - 1));
        return index * digestStride();
    }
}
