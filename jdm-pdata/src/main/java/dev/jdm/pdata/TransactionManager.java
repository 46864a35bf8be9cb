package dev.jdm.pdata;

import java.io.IOException;
import java.util.HashSet;
import java.util.Set;

/**
 * Copy-on-write over the block manager. Blocks the last commit references are never written in place: the
 * first change in a transaction copies ("shadows") the block to a newly allocated location, and only blocks
 * created in this transaction with a single reference are changed where they are. Allocation never hands
 * out a block the last commit still uses, so until the superblock is rewritten the old transaction is intact.
 */
public final class TransactionManager {
    /** A shadowed block, and whether the original was shared (its children then need an extra reference). */
    public record Shadow(Block block, boolean wasShared) {
    }

    private final BlockManager bm;
    private final SpaceMap metadataSm;
    private final Set<Long> fresh = new HashSet<>();

    public TransactionManager(BlockManager bm, SpaceMap metadataSm) {
        this.bm = bm;
        this.metadataSm = metadataSm;
    }

    public BlockManager blockManager() {
        return bm;
    }

    public SpaceMap metadataSpaceMap() {
        return metadataSm;
    }

    public Block read(long location, BlockType type) throws IOException {
        return bm.read(location, type);
    }

    /** A new zeroed, dirty block with reference count 1. */
    public Block newBlock(BlockType type) throws IOException {
        long location = metadataSm.allocate();
        fresh.add(location);
        return bm.create(location, type);
    }

    public Shadow shadow(long location, BlockType type) throws IOException {
        int count = metadataSm.count(location);
        if (fresh.contains(location) && count == 1) {
            Block b = bm.read(location, type);
            bm.markDirty(b);
            return new Shadow(b, false);
        }
        Block original = bm.read(location, type);
        long copyAt = metadataSm.allocate();
        fresh.add(copyAt);
        Block copy = bm.copy(original, copyAt);
        dec(location);
        return new Shadow(copy, count > 1);
    }

    public int refCount(long location) {
        return metadataSm.count(location);
    }

    public void inc(long location) {
        metadataSm.inc(location);
    }

    public void dec(long location) {
        if (metadataSm.dec(location) == 0) {
            bm.forget(location);
            fresh.remove(location);
        }
    }

    /** Forgets everything this transaction did to blocks: cached copies, dirty or not, are dropped. */
    public void abort() {
        fresh.clear();
        bm.dropAll();
    }

    /**
     * The commit protocol: every dirty block but the superblock, flush, then the superblock, flush. The caller
     * has already written the space maps and filled {@code superblock} with their roots.
     */
    public void commit(Block superblock) throws IOException {
        bm.flushDirty(superblock.location());
        bm.writeAndFlush(superblock);
        fresh.clear();
        metadataSm.markCommitted();
    }
}
