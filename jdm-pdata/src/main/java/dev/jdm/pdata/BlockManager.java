package dev.jdm.pdata;

import dev.jdm.core.Errno;
import dev.jdm.core.io.BlockDevice;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Reads and writes 4 KiB metadata blocks over a {@link BlockDevice} through a bounded cache of clean blocks
 * plus the transaction's dirty ones, which stay until {@link #flushDirty} writes them: an operation holds the
 * blocks it shadows (a btree insert keeps the parent while it shadows the child), and a dirty block evicted
 * under it would take the changes made after its eviction nowhere.
 *
 * <p>A cache hit takes no lock (a concurrent map, and a "referenced" mark for the CLOCK eviction that
 * approximates LRU), so concurrent lookups do not queue behind each other; misses, eviction and every change
 * run under the manager's monitor.
 */
public final class BlockManager implements AutoCloseable {
    private final BlockDevice device;
    private volatile long nrBlocks;
    private final int cacheBlocks;
    private final ConcurrentHashMap<Long, Block> cache = new ConcurrentHashMap<>();
    /** The CLOCK ring: cached blocks in insertion order, plus stale entries for blocks since replaced or dropped. */
    private final ArrayDeque<Block> clock = new ArrayDeque<>();
    /** Cached blocks {@linkplain Block#held held} out of the ring: the cache bound counts the others. */
    private int held;
    private long reads;
    private long writes;
    /** Staging for {@link #writeRun}, made on the first commit that needs it. */
    private ByteBuffer runBuffer;
    private static final int MAX_RUN = 256;

    public BlockManager(BlockDevice device, int cacheBlocks) {
        if (cacheBlocks < 16) {
            throw new IllegalArgumentException("cache must hold at least 16 blocks, not " + cacheBlocks);
        }
        this.device = device;
        this.nrBlocks = device.size() / Block.SIZE;
        this.cacheBlocks = cacheBlocks;
    }

    public long nrBlocks() {
        return nrBlocks;
    }

    /** Takes in a grown device: blocks up to its new end become addressable. */
    public void refreshSize() {
        nrBlocks = device.size() / Block.SIZE;
    }

    public BlockDevice device() {
        return device;
    }

    /** Reads and validates a block of the given type (from the cache when it is there). */
    public Block read(long location, BlockType type) throws IOException {
        Block cached = cache.get(location);
        if (cached == null) {
            cached = readMiss(location, type);
        }
        if (cached.type() != type) {
            throw new MetadataException(Errno.EIO, String.format(
                    "block %d is a %s, not a %s", location, cached.type().label(), type.label()));
        }
        if (!cached.referenced) {
            cached.referenced = true; // written only when it changes, so readers do not bounce the line
        }
        return cached;
    }

    private synchronized Block readMiss(long location, BlockType type) throws IOException {
        Block cached = cache.get(location);
        if (cached != null) {
            return cached; // another reader brought it in meanwhile
        }
        checkRange(location);
        ByteBuffer buf = ByteBuffer.allocate(Block.SIZE);
        device.read(location * Block.SIZE, buf);
        reads++;
        Block block = new Block(location, type, buf.clear());
        block.validate();
        put(block);
        return block;
    }

    /** A zeroed block at a location the caller has just allocated; it is dirty. */
    public synchronized Block create(long location, BlockType type) throws IOException {
        checkRange(location);
        Block block = new Block(location, type, ByteBuffer.allocate(Block.SIZE));
        block.dirty = true;
        put(block);
        return block;
    }

    /** A copy of {@code source}'s bytes at a new location, dirty (the heart of shadowing). */
    public synchronized Block copy(Block source, long location) throws IOException {
        Block block = create(location, source.type());
        block.data().put(0, source.data(), 0, Block.SIZE);
        return block;
    }

    public synchronized void markDirty(Block block) {
        block.dirty = true;
    }

    /** Forgets a block (freed, or the transaction was aborted) without writing it. */
    public synchronized void forget(long location) {
        release(cache.remove(location));
    }

    private void release(Block b) {
        if (b != null && b.held) {
            b.held = false;
            held--;
        }
    }

    /** Writes every dirty block except {@code except} (the superblock), then flushes the device. */
    public synchronized void flushDirty(long except) throws IOException {
        List<Block> dirty = new ArrayList<>();
        for (Block b : cache.values()) {
            if (b.dirty && b.location() != except) {
                dirty.add(b);
            }
        }
        dirty.sort((a, b) -> Long.compare(a.location(), b.location()));
        for (int i = 0; i < dirty.size(); ) {
            int run = 1;
            while (i + run < dirty.size() && run < MAX_RUN
                    && dirty.get(i + run).location() == dirty.get(i).location() + run) {
                run++;
            }
            writeRun(dirty.subList(i, i + run));
            i += run;
        }
        device.flush();
        for (Block b : dirty) {
            if (b.held) { // clean now: back in the ring, to be evicted as any other
                release(b);
                clock.addLast(b);
            }
        }
        evict(null);
    }

    /** Writes blocks at consecutive locations with one device write: a commit's new blocks are mostly adjacent. */
    private void writeRun(List<Block> run) throws IOException {
        if (run.size() == 1) {
            writeOut(run.getFirst());
            return;
        }
        if (runBuffer == null) {
            runBuffer = ByteBuffer.allocateDirect(MAX_RUN * Block.SIZE);
        }
        runBuffer.clear();
        for (Block b : run) {
            b.seal();
            runBuffer.put(b.data().duplicate().clear());
        }
        device.write(run.getFirst().location() * Block.SIZE, runBuffer.flip(), false);
        writes += run.size();
        for (Block b : run) {
            b.dirty = false;
        }
    }

    /** Writes one block now and flushes (the superblock at the end of a commit). */
    public synchronized void writeAndFlush(Block block) throws IOException {
        writeOut(block);
        device.flush();
    }

    /** Drops every cached block, dirty or not (abort: the next reads come from disk). */
    public synchronized void dropAll() {
        cache.clear();
        clock.clear();
        held = 0;
    }

    /** Blocks held in memory now: at most the cache size, plus the blocks the open transaction changed. */
    public int cachedBlocks() {
        return cache.size();
    }

    public synchronized long reads() {
        return reads;
    }

    public synchronized long writes() {
        return writes;
    }

    private void writeOut(Block b) throws IOException {
        b.seal();
        device.write(b.location() * Block.SIZE, b.data().duplicate().clear(), false);
        writes++;
        b.dirty = false;
    }

    /** Caches a block, then evicts by CLOCK: the ring's head goes unless it was referenced since its last turn. */
    private void put(Block block) {
        release(cache.put(block.location(), block));
        clock.addLast(block);
        evict(block);
    }

    private void evict(Block keep) {
        int turns = 2 * clock.size(); // every block gets its second chance at most once per eviction
        while (cache.size() - held > cacheBlocks && turns-- > 0) {
            Block head = clock.pollFirst();
            if (cache.get(head.location()) != head) {
                continue; // replaced or dropped since it joined the ring
            }
            if (head.dirty && head != keep && head.location() != 0) {
                head.held = true; // out of the ring until the commit writes it
                held++;
                continue;
            }
            if (head == keep || head.location() == 0 || head.referenced) {
                head.referenced = false; // the block just handed out, and the superblock, always stay
                clock.addLast(head);
                continue;
            }
            cache.remove(head.location());
        }
        if (clock.size() > 2 * cacheBlocks) {
            clock.removeIf(b -> cache.get(b.location()) != b);
        }
    }

    private void checkRange(long location) throws MetadataException {
        if (location < 0 || location >= nrBlocks) {
            throw new MetadataException(Errno.EIO, String.format(
                    "block %d is beyond the end of the metadata device (%d blocks)", location, nrBlocks));
        }
    }

    @Override
    public void close() throws IOException {
        dropAll();
    }
}
