package dev.jdm.pdata;

import dev.jdm.core.Errno;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Reference counts of a device's blocks in the kernel's format: bitmaps of 2-bit counts (3 = "look in the
 * overflow btree", which holds every count of 3 or more), an index of the bitmaps, and a 32-byte root in the
 * superblock. The <em>metadata</em> space map keeps its index in one block and counts its own blocks; the
 * <em>disk</em> space map (thin's data device) keeps its index in a btree.
 *
 * <p>The committed counts stay on disk and are read through the block manager's bounded cache. Memory holds
 * the index entries (16 bytes per 16,320 blocks) and this transaction's changes only: a private copy of each
 * bitmap changed since the last commit (4 KiB each, like the kernel's shadowed bitmaps) and the changed
 * counts of 3 or more. A commit writes each changed bitmap to a new location and updates the overflow tree,
 * so the last commit stays intact until the superblock switches.
 */
public final class SpaceMap {
    public static final int ENTRIES_PER_BITMAP = (Block.SIZE - 16) * 4;
    public static final int METADATA_INDEX_ENTRIES = (Block.SIZE - 16) / 16;
    public static final long METADATA_MAX_BLOCKS = (long) METADATA_INDEX_ENTRIES * ENTRIES_PER_BITMAP;
    /** dm-space-map-common.c's dm_sm_bitmap_validator and index_validator (the metadata space map's index). */
    static final BlockType BITMAP_BLOCK = new BlockType("space map bitmap", 240779, 8);
    static final BlockType INDEX_BLOCK = new BlockType("space map index", 160478, 8);
    private static final int BITMAP_HEADER = 16;
    private static final int WORDS = ENTRIES_PER_BITMAP / 32;
    /** Bit 2j of a word is set when entry j of {@code ~(w | w >>> 1)} is a zero count. */
    private static final long LOW_BITS = 0x5555555555555555L;
    private static final ValueType REF_COUNT = () -> 4;
    private static final ValueType INDEX_ENTRY = () -> 16;

    private long nrBlocks;
    private long nrAllocated;
    private long committedNrAllocated;
    private long allocatedThisTransaction;
    /** Committed index entries: bitmap location (0 = never written, all free), free count, first free entry. */
    private long[] bitmapAt;
    private int[] nrFree;
    private int[] noneFreeBefore;
    private long overflowRoot;
    private long indexRoot;
    /** This transaction's bitmaps (null = unchanged) and changed counts whose old or new value is 3 or more. */
    private long[][] shadow;
    private final Map<Long, Integer> bigCounts = new HashMap<>();
    /** Bitmaps the next commit writes: changed ones, and ones never written. */
    private final BitSet dirty = new BitSet();
    private long cursor;
    private BlockManager bm;
    private BTree overflowReader;
    /** Set by a commit in progress and made the committed state by {@link #markCommitted}. */
    private long[] newBitmapAt;
    private int[] newNrFree;
    private int[] newNoneFreeBefore;
    private long newOverflowRoot;
    private long newIndexRoot;

    /** An empty map of {@code nrBlocks} free blocks that nothing on disk describes yet. */
    public SpaceMap(long nrBlocks) {
        resetSize(nrBlocks);
        dirty.set(0, bitmapAt.length);
    }

    private static int bitmaps(long nrBlocks) {
        return Math.toIntExact((nrBlocks + ENTRIES_PER_BITMAP - 1) / ENTRIES_PER_BITMAP);
    }

    /** Entries in bitmap i (all but the last are full). */
    private static int entries(int i, long blocks) {
        return (int) Math.min(ENTRIES_PER_BITMAP, blocks - (long) i * ENTRIES_PER_BITMAP);
    }

    public long nrBlocks() {
        return nrBlocks;
    }

    public long nrAllocated() {
        return nrAllocated;
    }

    public long nrFree() {
        return nrBlocks - nrAllocated;
    }

    /**
     * Free blocks as the kernel's metadata space map counts them (sm_metadata_get_nr_free): free at the last
     * commit less those allocated since. Blocks freed in this transaction do not count (they cannot be
     * reused before the commit), so this, unlike {@link #nrFree()}, falls steadily towards ENOSPC.
     */
    public long nrFreeAtCommitLessAllocated() {
        return nrBlocks - committedNrAllocated - allocatedThisTransaction;
    }

    /**
     * The block's current count. Committed counts are read from disk (through the cache), so a read error
     * surfaces as an {@link UncheckedIOException} wrapping it; {@link ThinMetadata} hands its cause on.
     */
    public int count(long block) {
        try {
            return countOf(block);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private int countOf(long block) throws IOException {
        check(block);
        int i = (int) (block / ENTRIES_PER_BITMAP);
        int j = (int) (block % ENTRIES_PER_BITMAP);
        int small = shadow[i] != null ? entry(shadow[i][j / 32], j) : committedEntry(i, j);
        if (small < 3) {
            return small;
        }
        Integer big = bigCounts.get(block);
        return big != null ? big : committedOverflow(block);
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
        try {
            setCount(block, value);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void setCount(long block, int value) throws IOException {
        int old = countOf(block);
        if (old == value) {
            return;
        }
        int i = (int) (block / ENTRIES_PER_BITMAP);
        int j = (int) (block % ENTRIES_PER_BITMAP);
        long[] words = shadowOf(i);
        int shift = 2 * (j % 32);
        words[j / 32] = words[j / 32] & ~(3L << shift) | encode(Math.min(value, 3)) << shift;
        if (old >= 3 || value >= 3 || bigCounts.containsKey(block)) {
            bigCounts.put(block, value);
        }
        nrAllocated += (value > 0 ? 1 : 0) - (old > 0 ? 1 : 0);
    }

    /**
     * Finds a block free now and free at the last commit (a block freed in this transaction may still be part
     * of the committed one), sets its count to 1 and returns it. The first such block at or after the cursor
     * wins; full bitmaps are skipped by their index entry, and a bitmap's scan starts at its first free entry.
     */
    public long allocate() throws MetadataException {
        try {
            return allocateBlock();
        } catch (MetadataException e) {
            throw e;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private long allocateBlock() throws IOException {
        long found = findFree(cursor, nrBlocks);
        if (found < 0) {
            found = findFree(0, cursor);
        }
        if (found < 0) {
            throw new MetadataException(Errno.ENOSPC, "no free block in a space map of " + nrBlocks + " blocks");
        }
        cursor = found + 1 == nrBlocks ? 0 : found + 1;
        setCount(found, 1);
        allocatedThisTransaction++;
        return found;
    }

    private long findFree(long from, long to) throws IOException {
        for (long b = from; b < to; ) {
            int i = (int) (b / ENTRIES_PER_BITMAP);
            long first = (long) i * ENTRIES_PER_BITMAP;
            int end = (int) Math.min(ENTRIES_PER_BITMAP, to - first);
            if (nrFree[i] > 0) {
                int j = findFreeIn(i, Math.max((int) (b - first), noneFreeBefore[i]), end);
                if (j >= 0) {
                    return first + j;
                }
            }
            b = first + ENTRIES_PER_BITMAP;
        }
        return -1;
    }

    /** First entry in [start, end) of bitmap i that is zero both in the committed and in the current bitmap. */
    private int findFreeIn(int i, int start, int end) throws IOException {
        ByteBuffer committed = bitmapAt[i] == 0 ? null : bm.read(bitmapAt[i], BITMAP_BLOCK).data();
        long[] current = shadow[i];
        for (int w = start / 32; w * 32 < end; w++) {
            long both = (committed == null ? 0 : committed.getLong(BITMAP_HEADER + 8 * w))
                    | (current == null ? 0 : current[w]);
            long zero = ~(both | both >>> 1) & LOW_BITS;
            if (w == start / 32) {
                zero &= -1L << (2 * (start % 32));
            }
            if (zero != 0) {
                int j = w * 32 + Long.numberOfTrailingZeros(zero) / 2;
                return j < end ? j : -1;
            }
        }
        return -1;
    }

    /**
     * Grows the map to {@code newNrBlocks} (the new blocks are free); shrinking is refused with the kernel's
     * message. The new size is written with the next commit.
     */
    public void extend(long newNrBlocks) throws IOException {
        if (newNrBlocks < nrBlocks) {
            throw new MetadataException(Errno.EINVAL, "cannot reduce size of space map");
        }
        if (newNrBlocks == nrBlocks) {
            return;
        }
        int oldBitmaps = bitmapAt.length;
        long oldNrBlocks = nrBlocks;
        nrBlocks = newNrBlocks;
        int n = bitmaps(newNrBlocks);
        bitmapAt = Arrays.copyOf(bitmapAt, n);
        nrFree = Arrays.copyOf(nrFree, n);
        noneFreeBefore = Arrays.copyOf(noneFreeBefore, n);
        shadow = Arrays.copyOf(shadow, n);
        for (int i = oldBitmaps; i < n; i++) {
            nrFree[i] = entries(i, newNrBlocks);
        }
        if (oldBitmaps > 0) {
            // the last old bitmap gains free entries: its index entry changes, so it is rewritten
            int last = oldBitmaps - 1;
            nrFree[last] += entries(last, newNrBlocks) - entries(last, oldNrBlocks);
            shadowOf(last);
        }
        dirty.set(oldBitmaps, n);
    }

    // ---- committed state, read through the block manager ----

    private int committedEntry(int i, int j) throws IOException {
        if (bitmapAt[i] == 0) {
            return 0;
        }
        return entry(bm.read(bitmapAt[i], BITMAP_BLOCK).data().getLong(BITMAP_HEADER + 8 * (j / 32)), j);
    }

    private int committedCount(long block) throws IOException {
        int small = committedEntry((int) (block / ENTRIES_PER_BITMAP), (int) (block % ENTRIES_PER_BITMAP));
        return small < 3 ? small : committedOverflow(block);
    }

    private int committedOverflow(long block) throws IOException {
        byte[] v = overflowReader.lookup(overflowRoot, block);
        if (v == null) {
            throw new MetadataException(Errno.EILSEQ, "block " + block + " has count 3 in its bitmap but no overflow entry");
        }
        return ByteBuffer.wrap(v).order(ByteOrder.LITTLE_ENDIAN).getInt();
    }

    /** Entry j of a bitmap word: bit 2j is the high bit, 2j + 1 the low bit. */
    private static int entry(long word, int j) {
        int shift = 2 * (j % 32);
        return (int) (word >>> shift & 1) << 1 | (int) (word >>> (shift + 1) & 1);
    }

    private static long encode(int v) {
        return (v >> 1) | (long) (v & 1) << 1;
    }

    /** This transaction's copy of bitmap i, made from the committed one on first change. */
    private long[] shadowOf(int i) throws IOException {
        if (shadow[i] == null) {
            long[] words = new long[WORDS];
            if (bitmapAt[i] != 0) {
                ByteBuffer d = bm.read(bitmapAt[i], BITMAP_BLOCK).data();
                for (int w = 0; w < WORDS; w++) {
                    words[w] = d.getLong(BITMAP_HEADER + 8 * w);
                }
            }
            shadow[i] = words;
            dirty.set(i);
        }
        return shadow[i];
    }

    // ---- commit ----

    /** Writes the disk (data) space map into metadata blocks and returns its 32-byte root. */
    public byte[] writeDisk(TransactionManager tm) throws IOException {
        attach(tm.blockManager());
        boolean anyDirty = !dirty.isEmpty();
        writeOverflow(tm);
        beginNewIndex();
        for (int i = dirty.nextSetBit(0); i >= 0; i = dirty.nextSetBit(i + 1)) {
            relocateBitmap(tm, i);
        }
        writeDirtyBitmaps(tm);
        newIndexRoot = indexRoot;
        if (anyDirty || indexRoot == 0) {
            if (indexRoot != 0) {
                release(tm, indexRoot, INDEX_ENTRY);
            }
            long[] keys = new long[newBitmapAt.length];
            byte[][] values = new byte[newBitmapAt.length][];
            for (int i = 0; i < newBitmapAt.length; i++) {
                keys[i] = i;
                values[i] = indexEntry(i);
            }
            newIndexRoot = new BTree(tm, INDEX_ENTRY).build(keys, values);
        }
        byte[] root = root();
        markCommitted();
        return root;
    }

    /**
     * Writes the metadata space map, which counts its own blocks: moving a bitmap allocates (and frees) blocks
     * counted in bitmaps, so relocation repeats until every changed bitmap has its new home. The new state
     * becomes the committed one when the transaction manager commits ({@link #markCommitted}).
     */
    public byte[] writeMetadata(TransactionManager tm) throws IOException {
        attach(tm.blockManager());
        writeOverflow(tm);
        if (indexRoot != 0) {
            tm.dec(indexRoot);
        }
        newIndexRoot = allocate();
        beginNewIndex();
        BitSet moved = new BitSet();
        for (int i = nextUnmoved(moved); i >= 0; i = nextUnmoved(moved)) {
            moved.set(i);
            relocateBitmap(tm, i);
        }
        writeDirtyBitmaps(tm);
        Block index = tm.blockManager().create(newIndexRoot, INDEX_BLOCK);
        for (int i = 0; i < newBitmapAt.length; i++) {
            index.data().put(16 + 16 * i, indexEntry(i));
        }
        return root();
    }

    private int nextUnmoved(BitSet moved) {
        BitSet pending = (BitSet) dirty.clone();
        pending.andNot(moved);
        return pending.nextSetBit(0);
    }

    private void beginNewIndex() {
        newBitmapAt = bitmapAt.clone();
        newNrFree = nrFree.clone();
        newNoneFreeBefore = noneFreeBefore.clone();
    }

    private void relocateBitmap(TransactionManager tm, int i) throws IOException {
        newBitmapAt[i] = tm.metadataSpaceMap().allocate();
        if (bitmapAt[i] != 0) {
            tm.dec(bitmapAt[i]);
        }
    }

    private void writeDirtyBitmaps(TransactionManager tm) throws IOException {
        for (int i = dirty.nextSetBit(0); i >= 0; i = dirty.nextSetBit(i + 1)) {
            Block b = tm.blockManager().create(newBitmapAt[i], BITMAP_BLOCK);
            // a dirty bitmap without a copy is one never written (new, or grown into): all free, no heap copy
            long[] words = shadow[i];
            int n = entries(i, nrBlocks);
            int free = 0;
            int firstFree = n;
            for (int w = 0; w < WORDS; w++) {
                long word = words == null ? 0 : words[w];
                b.data().putLong(BITMAP_HEADER + 8 * w, word);
                long zero = ~(word | word >>> 1) & LOW_BITS;
                if (w * 32 + 32 > n) {
                    zero &= w * 32 >= n ? 0 : (1L << (2 * (n - w * 32))) - 1;
                }
                if (zero != 0 && firstFree == n) {
                    firstFree = w * 32 + Long.numberOfTrailingZeros(zero) / 2;
                }
                free += Long.bitCount(zero);
            }
            newNrFree[i] = free;
            newNoneFreeBefore[i] = firstFree;
        }
    }

    /** Applies this transaction's changes of counts of 3 or more to the overflow tree. */
    private void writeOverflow(TransactionManager tm) throws IOException {
        BTree tree = new BTree(tm, REF_COUNT);
        long root = overflowRoot == 0 ? tree.create() : overflowRoot;
        List<Map.Entry<Long, Integer>> changes = new ArrayList<>(bigCounts.entrySet());
        changes.sort(Map.Entry.comparingByKey());
        for (Map.Entry<Long, Integer> e : changes) {
            long block = e.getKey();
            int now = e.getValue();
            int before = committedCount(block);
            if (now >= 3 && now != before) {
                root = tree.insert(root, block, ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(now).array());
            } else if (now < 3 && before >= 3) {
                root = tree.remove(root, block);
            }
        }
        newOverflowRoot = root;
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
        return ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(newBitmapAt[i]).putInt(newNrFree[i]).putInt(newNoneFreeBefore[i]).array();
    }

    private byte[] root() {
        return ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(nrBlocks).putLong(nrAllocated).putLong(newIndexRoot).putLong(newOverflowRoot).array();
    }

    /** The state the last write made is now the committed one; this transaction's copies go. */
    void markCommitted() {
        if (newBitmapAt == null) {
            return; // nothing was written, so this transaction's changes stay pending
        }
        bitmapAt = newBitmapAt;
        nrFree = newNrFree;
        noneFreeBefore = newNoneFreeBefore;
        overflowRoot = newOverflowRoot;
        indexRoot = newIndexRoot;
        newBitmapAt = null;
        forgetChanges();
    }

    private void forgetChanges() {
        committedNrAllocated = nrAllocated;
        allocatedThisTransaction = 0;
        Arrays.fill(shadow, null);
        bigCounts.clear();
        dirty.clear();
        cursor = 0;
    }

    // ---- reading ----

    /** Opens a disk space map from its superblock root. */
    public static SpaceMap readDisk(TransactionManager tm, ByteBuffer root) throws IOException {
        SpaceMap sm = new SpaceMap(root.getLong(0));
        sm.reloadDisk(tm, root);
        return sm;
    }

    /** Returns a disk space map to the state its committed root describes (abort). */
    public void reloadDisk(TransactionManager tm, ByteBuffer root) throws IOException {
        resetSize(root.getLong(0));
        attach(tm.blockManager());
        indexRoot = root.getLong(16);
        new BTree(tm, INDEX_ENTRY).walk(indexRoot, (key, value) -> {
            if (key < bitmapAt.length) {
                setIndexEntry((int) key, ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN), 0);
            }
        });
        loaded(root);
    }

    /** Opens the metadata space map; it is read with a bootstrap transaction manager that only reads. */
    public static SpaceMap readMetadata(BlockManager bm, ByteBuffer root) throws IOException {
        SpaceMap sm = new SpaceMap(root.getLong(0));
        sm.reloadMetadata(bm, root);
        return sm;
    }

    /** Returns the metadata space map to the state its committed root describes (abort). */
    public void reloadMetadata(BlockManager bm, ByteBuffer root) throws IOException {
        resetSize(root.getLong(0));
        if (bitmapAt.length > METADATA_INDEX_ENTRIES) {
            throw new MetadataException(Errno.EILSEQ, "metadata space map of " + nrBlocks + " blocks is over the limit");
        }
        attach(bm);
        indexRoot = root.getLong(16);
        ByteBuffer index = bm.read(indexRoot, INDEX_BLOCK).data();
        for (int i = 0; i < bitmapAt.length; i++) {
            setIndexEntry(i, index, 16 + 16 * i);
        }
        loaded(root);
    }

    private void setIndexEntry(int i, ByteBuffer b, int at) throws MetadataException {
        bitmapAt[i] = b.getLong(at);
        nrFree[i] = b.getInt(at + 8);
        noneFreeBefore[i] = Math.min(b.getInt(at + 12), ENTRIES_PER_BITMAP);
        if (bitmapAt[i] == 0) {
            throw new MetadataException(Errno.EILSEQ, "space map index entry " + i + " has no bitmap");
        }
    }

    private void loaded(ByteBuffer root) {
        nrAllocated = root.getLong(8);
        overflowRoot = root.getLong(24);
        newBitmapAt = null;
        forgetChanges();
    }

    private void attach(BlockManager blockManager) {
        if (bm != blockManager) {
            bm = blockManager;
            overflowReader = new BTree(new TransactionManager(blockManager, this), REF_COUNT);
        }
    }

    private void resetSize(long n) {
        nrBlocks = n;
        int bitmaps = bitmaps(n);
        bitmapAt = new long[bitmaps];
        nrFree = new int[bitmaps];
        noneFreeBefore = new int[bitmaps];
        for (int i = 0; i < bitmaps; i++) {
            nrFree[i] = entries(i, n);
        }
        shadow = new long[bitmaps][];
        bigCounts.clear();
        dirty.clear();
        nrAllocated = 0;
        overflowRoot = 0;
        indexRoot = 0;
        cursor = 0;
    }

    private void check(long block) {
        if (block < 0 || block >= nrBlocks) {
            throw new IndexOutOfBoundsException("block " + block + " outside a space map of " + nrBlocks + " blocks");
        }
    }
}
