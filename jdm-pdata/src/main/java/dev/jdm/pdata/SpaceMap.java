package dev.jdm.pdata;

import dev.jdm.core.Errno;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * Reference counts of a device's blocks, in memory while a transaction runs and in the kernel's format on
 * disk: bitmaps of 2-bit counts (3 = "look in the overflow btree", which holds every count of 3 or more), an
 * index of the bitmaps, and a 32-byte root in the superblock. The <em>metadata</em> space map keeps its index
 * in one block and counts its own blocks; the <em>disk</em> space map (thin's data device) keeps its index in
 * a btree. Both write only the bitmaps that changed, each to a new location, so the last commit stays intact.
 * Counts live in an int per block: 4 bytes per block tracked (16 MiB for the largest metadata device).
 */
public final class SpaceMap {
    public static final int ENTRIES_PER_BITMAP = (Block.SIZE - 16) * 4;
    public static final int METADATA_INDEX_ENTRIES = (Block.SIZE - 16) / 16;
    public static final long METADATA_MAX_BLOCKS = (long) METADATA_INDEX_ENTRIES * ENTRIES_PER_BITMAP;
    private static final int BITMAP_HEADER = 16;
    private static final ValueType REF_COUNT = () -> 4;
    private static final ValueType INDEX_ENTRY = () -> 16;

    private long nrBlocks;
    private int[] counts;
    private final BitSet committed;
    private long[] bitmapAt;
    private final BitSet dirtyBitmaps = new BitSet();
    private long nrAllocated;
    private long cursor;
    private boolean overflowDirty;
    private long overflowRoot;
    private long indexRoot;

    public SpaceMap(long nrBlocks) {
        if (nrBlocks > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("space map of " + nrBlocks + " blocks is too big to hold in memory");
        }
        this.nrBlocks = nrBlocks;
        this.counts = new int[(int) nrBlocks];
        this.committed = new BitSet((int) nrBlocks);
        this.bitmapAt = new long[bitmaps(nrBlocks)];
        dirtyBitmaps.set(0, bitmapAt.length);
        overflowDirty = true;
    }

    private static int bitmaps(long nrBlocks) {
        return (int) ((nrBlocks + ENTRIES_PER_BITMAP - 1) / ENTRIES_PER_BITMAP);
    }

    public long nrBlocks() {
        return nrBlocks;
    }

    /**
     * Grows the map to {@code newNrBlocks} (the new blocks are free); shrinking is refused with the kernel's
     * message. The new size is written with the next commit.
     */
    public void extend(long newNrBlocks) throws MetadataException {
        if (newNrBlocks < nrBlocks) {
            throw new MetadataException(Errno.EINVAL, "cannot reduce size of space map");
        }
        if (newNrBlocks > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("space map of " + newNrBlocks + " blocks is too big to hold in memory");
        }
        int oldBitmaps = bitmapAt.length;
        nrBlocks = newNrBlocks;
        counts = java.util.Arrays.copyOf(counts, (int) newNrBlocks);
        bitmapAt = java.util.Arrays.copyOf(bitmapAt, bitmaps(newNrBlocks));
        // the last old bitmap's free count changes too
        dirtyBitmaps.set(Math.max(0, oldBitmaps - 1), bitmapAt.length);
    }

    public long nrAllocated() {
        return nrAllocated;
    }

    public long nrFree() {
        return nrBlocks - nrAllocated;
    }

    public int count(long block) {
        check(block);
        return counts[(int) block];
    }

    public void inc(long block) {
        set(block, count(block) + 1);
    }

    /** Decrements and returns the new count. */
    public int dec(long block) {
        int c = count(block);
        if (c == 0) {
            throw new IllegalStateException("reference count of block " + block + " is already 0");
        }
        set(block, c - 1);
        return c - 1;
    }

    public void set(long block, int value) {
        int old = count(block);
        if (old == value) {
            return;
        }
        counts[(int) block] = value;
        nrAllocated += (value > 0 ? 1 : 0) - (old > 0 ? 1 : 0);
        dirtyBitmaps.set((int) (block / ENTRIES_PER_BITMAP));
        if (old >= 3 || value >= 3) {
            overflowDirty = true;
        }
    }

    /**
     * Finds a block free now and free at the last commit (a block freed in this transaction may still be part
     * of the committed one), sets its count to 1 and returns it.
     */
    public long allocate() throws MetadataException {
        for (long scanned = 0; scanned < nrBlocks; scanned++) {
            long b = cursor;
            cursor = cursor + 1 == nrBlocks ? 0 : cursor + 1;
            if (counts[(int) b] == 0 && !committed.get((int) b)) {
                set(b, 1);
                return b;
            }
        }
        throw new MetadataException(Errno.ENOSPC, "no free block in a space map of " + nrBlocks + " blocks");
    }

    /** The current counts become the committed ones. */
    void markCommitted() {
        committed.clear();
        for (int b = 0; b < counts.length; b++) {
            if (counts[b] != 0) {
                committed.set(b);
            }
        }
        cursor = 0;
    }

    // ---- on-disk form ----

    /** Writes the disk (data) space map into metadata blocks and returns its 32-byte root. */
    public byte[] writeDisk(TransactionManager tm) throws IOException {
        boolean anyDirty = !dirtyBitmaps.isEmpty();
        for (int i = dirtyBitmaps.nextSetBit(0); i >= 0; i = dirtyBitmaps.nextSetBit(i + 1)) {
            relocateBitmap(tm, i);
        }
        writeDirtyBitmaps(tm);
        if (anyDirty || indexRoot == 0) {
            if (indexRoot != 0) {
                release(tm, indexRoot, INDEX_ENTRY);
            }
            long[] keys = new long[bitmapAt.length];
            byte[][] values = new byte[bitmapAt.length][];
            for (int i = 0; i < bitmapAt.length; i++) {
                keys[i] = i;
                values[i] = indexEntry(i);
            }
            indexRoot = new BTree(tm, INDEX_ENTRY).build(keys, values);
        }
        writeOverflow(tm);
        markCommitted();
        return root();
    }

    /**
     * Writes the metadata space map, which counts its own blocks: moving a bitmap allocates (and frees) blocks
     * counted in bitmaps, so relocation repeats until every changed bitmap has its new home.
     */
    public byte[] writeMetadata(TransactionManager tm) throws IOException {
        writeOverflow(tm);
        if (indexRoot != 0) {
            tm.dec(indexRoot);
        }
        long newIndex = allocate();
        BitSet moved = new BitSet();
        boolean progress = true;
        while (progress) {
            progress = false;
            for (int i = dirtyBitmaps.nextSetBit(0); i >= 0; i = dirtyBitmaps.nextSetBit(i + 1)) {
                if (!moved.get(i)) {
                    moved.set(i);
                    relocateBitmap(tm, i);
                    progress = true;
                }
            }
        }
        writeDirtyBitmaps(tm);
        indexRoot = newIndex;
        Block index = tm.blockManager().create(newIndex, BlockType.INDEX);
        for (int i = 0; i < bitmapAt.length; i++) {
            index.data().put(16 + 16 * i, indexEntry(i));
        }
        return root();
    }

    private void relocateBitmap(TransactionManager tm, int i) throws IOException {
        if (bitmapAt[i] != 0) {
            tm.dec(bitmapAt[i]);
        }
        bitmapAt[i] = tm.metadataSpaceMap().allocate();
    }

    private void writeDirtyBitmaps(TransactionManager tm) throws IOException {
        for (int i = dirtyBitmaps.nextSetBit(0); i >= 0; i = dirtyBitmaps.nextSetBit(i + 1)) {
            Block b = tm.blockManager().create(bitmapAt[i], BlockType.BITMAP);
            long first = (long) i * ENTRIES_PER_BITMAP;
            int n = (int) Math.min(ENTRIES_PER_BITMAP, nrBlocks - first);
            for (int j = 0; j < n; j++) {
                int v = counts[(int) (first + j)];
                long bits = (long) (Math.min(v, 3) >> 1) << (2 * (j % 32)) | (long) (Math.min(v, 3) & 1) << (2 * (j % 32) + 1);
                int at = BITMAP_HEADER + 8 * (j / 32);
                b.data().putLong(at, b.data().getLong(at) | bits);
            }
        }
        dirtyBitmaps.clear();
    }

    /** The overflow tree is small (only counts of 3 or more), so a change rebuilds it from scratch. */
    private void writeOverflow(TransactionManager tm) throws IOException {
        if (!overflowDirty && overflowRoot != 0) {
            return;
        }
        if (overflowRoot != 0) {
            release(tm, overflowRoot, REF_COUNT);
        }
        List<Long> keys = new ArrayList<>();
        for (int b = 0; b < counts.length; b++) {
            if (counts[b] >= 3) {
                keys.add((long) b);
            }
        }
        long[] k = keys.stream().mapToLong(Long::longValue).toArray();
        byte[][] v = new byte[k.length][];
        for (int i = 0; i < k.length; i++) {
            v[i] = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(counts[(int) k[i]]).array();
        }
        overflowRoot = new BTree(tm, REF_COUNT).build(k, v);
        overflowDirty = false;
    }

    /** Frees the nodes of one of this space map's own trees (never shared). */
    private static void release(TransactionManager tm, long root, ValueType type) throws IOException {
        List<Long> nodes = new ArrayList<>();
        new BTree(tm, type).nodes(root, nodes::add);
        for (long n : nodes) {
            tm.dec(n);
        }
    }

    private byte[] indexEntry(int i) {
        long first = (long) i * ENTRIES_PER_BITMAP;
        int n = (int) Math.min(ENTRIES_PER_BITMAP, nrBlocks - first);
        int free = 0;
        int firstFree = n;
        for (int j = 0; j < n; j++) {
            if (counts[(int) (first + j)] == 0) {
                free++;
                firstFree = Math.min(firstFree, j);
            }
        }
        return ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(bitmapAt[i]).putInt(free).putInt(firstFree).array();
    }

    private byte[] root() {
        return ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(nrBlocks).putLong(nrAllocated).putLong(indexRoot).putLong(overflowRoot).array();
    }

    // ---- reading ----

    /** Opens a disk space map from its superblock root. */
    public static SpaceMap readDisk(TransactionManager tm, ByteBuffer root) throws IOException {
        SpaceMap sm = new SpaceMap(root.getLong(0));
        sm.reloadDisk(tm, root);
        return sm;
    }

    /** Returns a disk space map to the state its committed root describes (abort). */
    void reloadDisk(TransactionManager tm, ByteBuffer root) throws IOException {
        resetSize(root.getLong(0));
        indexRoot = root.getLong(16);
        long[] locations = new long[bitmapAt.length];
        new BTree(tm, INDEX_ENTRY).walk(indexRoot, (key, value) -> {
            if (key < locations.length) {
                locations[(int) key] = BTree.le64(value);
            }
        });
        load(tm, locations, root.getLong(24));
    }

    /** Opens the metadata space map; it is read with a bootstrap transaction manager that only reads. */
    public static SpaceMap readMetadata(BlockManager bm, ByteBuffer root) throws IOException {
        SpaceMap sm = new SpaceMap(root.getLong(0));
        sm.reloadMetadata(bm, root);
        return sm;
    }

    /** Returns the metadata space map to the state its committed root describes (abort). */
    void reloadMetadata(BlockManager bm, ByteBuffer root) throws IOException {
        resetSize(root.getLong(0));
        TransactionManager reader = new TransactionManager(bm, this);
        indexRoot = root.getLong(16);
        Block index = bm.read(indexRoot, BlockType.INDEX);
        if (bitmapAt.length > METADATA_INDEX_ENTRIES) {
            throw new MetadataException(Errno.EILSEQ, "metadata space map of " + nrBlocks + " blocks is over the limit");
        }
        long[] locations = new long[bitmapAt.length];
        for (int i = 0; i < locations.length; i++) {
            locations[i] = index.data().getLong(16 + 16 * i);
        }
        load(reader, locations, root.getLong(24));
    }

    private void resetSize(long n) {
        if (n != nrBlocks) {
            nrBlocks = n;
            counts = new int[(int) n];
            bitmapAt = new long[bitmaps(n)];
        }
    }

    private void load(TransactionManager tm, long[] locations, long overflow) throws IOException {
        for (int i = 0; i < locations.length; i++) {
            Block b = tm.read(locations[i], BlockType.BITMAP);
            bitmapAt[i] = locations[i];
            long first = (long) i * ENTRIES_PER_BITMAP;
            int n = (int) Math.min(ENTRIES_PER_BITMAP, nrBlocks - first);
            for (int j = 0; j < n; j++) {
                long word = b.data().getLong(BITMAP_HEADER + 8 * (j / 32));
                int hi = (int) (word >>> (2 * (j % 32))) & 1;
                int lo = (int) (word >>> (2 * (j % 32) + 1)) & 1;
                counts[(int) (first + j)] = hi << 1 | lo;
            }
        }
        overflowRoot = overflow;
        new BTree(tm, REF_COUNT).walk(overflow, (key, value) -> {
            check(key);
            counts[(int) key] = ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN).getInt();
        });
        nrAllocated = 0;
        for (int c : counts) {
            if (c != 0) {
                nrAllocated++;
            }
        }
        dirtyBitmaps.clear();
        overflowDirty = false;
        markCommitted();
    }

    private void check(long block) {
        if (block < 0 || block >= nrBlocks) {
            throw new IndexOutOfBoundsException("block " + block + " outside a space map of " + nrBlocks + " blocks");
        }
    }
}
