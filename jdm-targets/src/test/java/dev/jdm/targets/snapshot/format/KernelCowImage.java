package dev.jdm.targets.snapshot.format;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The kernel's persistent snapshot COW layout, written and read by code that follows dm-snap-persistent.c and
 * nothing of jdm's: the tests use it to check that jdm's store reads what the kernel writes and the reverse.
 *
 * <p>Layout in chunks of {@code chunkSectors}: chunk 0 the header, then metadata area k at chunk
 * {@code 1 + k*(E+1)} followed by the E data chunks its entries may point to, where E = chunk bytes / 16. All
 * fields little-endian. A writer instance plays one {@code struct pstore} between load and close; the reader is
 * {@link #read}.
 */
public final class KernelCowImage implements AutoCloseable {
    public static final int SNAP_MAGIC = 0x70416e53;
    public static final int DISK_VERSION = 1;
    /** NUM_SNAPSHOT_HDR_CHUNKS. */
    static final long HEADER_CHUNKS = 1;
    /** sizeof(struct disk_exception): two __le64. */
    static final int EXCEPTION_BYTES = 16;
    static final int SECTOR = 512;

    /** One entry of a metadata area: origin chunk -> COW chunk. */
    public record Exception(long oldChunk, long newChunk) {
    }

    /** The header chunk's four fields; magic 0 is what a blanked device holds (the kernel's new snapshot). */
    public record Header(int magic, int valid, int version, int chunkSectors) {
    }

    /**
     * What read_header + read_exceptions leave behind: the header, the exceptions in on-disk order, and the
     * pstore fields that usage() reports from.
     */
    public record Contents(Header header, List<Exception> exceptions, long currentArea, int currentCommitted,
                           long nextFree) {
        /** persistent_usage: allocated = next_free * chunk. */
        public long allocatedSectors() {
            return nextFree * header.chunkSectors();
        }

        /** persistent_usage: header plus (current_area + 1) metadata chunks. */
        public long metadataSectors() {
            return (currentArea + 1 + HEADER_CHUNKS) * header.chunkSectors();
        }
    }

    private final FileChannel cow;
    private final long cowSectors;
    private final int chunkSectors;
    private final int exceptionsPerArea;
    private int valid = 1;
    private long nextFree = HEADER_CHUNKS + 1; // persistent_ctr: past the header and the first area
    private long currentArea;
    private int currentCommitted;
    private final ByteBuffer area;

    private KernelCowImage(FileChannel cow, long cowSectors, int chunkSectors) {
        this.cow = cow;
        this.cowSectors = cowSectors;
        this.chunkSectors = chunkSectors;
        this.exceptionsPerArea = exceptionsPerArea(chunkSectors);
        this.area = ByteBuffer.allocate(chunkBytes(chunkSectors)).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** persistent_read_metadata's chunk-size-dependent part: how many 16-byte entries fill one chunk. */
    public static int exceptionsPerArea(int chunkSectors) {
        return chunkBytes(chunkSectors) / EXCEPTION_BYTES;
    }

    /** area_location: the header chunk, then each area followed by its E data chunks. */
    public static long areaLocation(int chunkSectors, long area) {
        return HEADER_CHUNKS + (exceptionsPerArea(chunkSectors) + 1L) * area;
    }

    static int chunkBytes(int chunkSectors) {
        return chunkSectors * SECTOR;
    }

    /**
     * A fresh store on a COW of {@code cowSectors} whose header lvcreate blanked: persistent_read_metadata's
     * new-snapshot branch, write_header then zero_disk_area(0). The file is created or sized to the COW; what it
     * held beyond those two chunks stays, as on a reused device.
     */
    public static KernelCowImage create(Path file, long cowSectors, int chunkSectors) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        ch.truncate(cowSectors * SECTOR);
        if (ch.size() < cowSectors * SECTOR) {
            writeFully(ch, ByteBuffer.allocate(1), cowSectors * SECTOR - 1); // sparse up to the size
        }
        KernelCowImage image = new KernelCowImage(ch, cowSectors, chunkSectors);
        image.writeHeader();
        image.writeChunk(areaLocation(chunkSectors, 0), ByteBuffer.allocate(chunkBytes(chunkSectors)));
        return image;
    }

    /**
     * An existing valid store, as persistent_read_metadata leaves the pstore: the chunk size from the header,
     * the last (not full) area in memory, next_free past the highest data chunk. For merging or adding more.
     */
    public static KernelCowImage open(Path file) throws IOException {
        Contents contents = read(file);
        if (contents.header().valid() == 0) {
            throw new IOException("an invalid store cannot be opened");
        }
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
        KernelCowImage image = new KernelCowImage(ch, ch.size() / SECTOR, contents.header().chunkSectors());
        image.currentArea = contents.currentArea();
        image.currentCommitted = contents.currentCommitted();
        image.nextFree = contents.nextFree();
        image.readChunk(areaLocation(image.chunkSectors, image.currentArea), image.area.clear());
        return image;
    }

    public int chunkSectors() {
        return chunkSectors;
    }

    /**
     * persistent_prepare_exception: the next free chunk, or -1 where the kernel returns -ENOSPC (no whole chunk
     * left past next_free). Steps over a chunk that is an area position (skip_metadata).
     */
    public long prepareException() {
        if (cowSectors < (nextFree + 1) * chunkSectors) {
            return -1;
        }
        long chunk = nextFree++;
        if (nextFree % (exceptionsPerArea + 1L) == HEADER_CHUNKS) {
            nextFree++;
        }
        return chunk;
    }

    /** The copy kcopyd makes before the commit: the origin chunk's old bytes into the allocated COW chunk. */
    public void writeData(long newChunk, byte[] chunkData) throws IOException {
        if (chunkData.length != chunkBytes(chunkSectors)) {
            throw new IllegalArgumentException("a data chunk is " + chunkBytes(chunkSectors) + " bytes");
        }
        writeChunk(newChunk, ByteBuffer.wrap(chunkData));
    }

    /**
     * persistent_commit_exception with no other exception pending (so the area is written at once): the entry
     * goes into the in-memory area; a full area first zeroes the next one on disk, then the area is written;
     * a failed write leaves the store invalid in memory and the area unwritten, as the kernel does (dm-snap then
     * invalidates the snapshot: call {@link #dropSnapshot}).
     *
     * @return the kernel's success flag for the callback (ps->valid)
     */
    public boolean commitException(long oldChunk, long newChunk) throws IOException {
        putEntry(currentCommitted++, oldChunk, newChunk);
        boolean full = currentCommitted == exceptionsPerArea;
        if (full && !zeroArea(currentArea + 1)) {
            valid = 0;
        }
        if (valid != 0 && !chunkFits(areaLocation(chunkSectors, currentArea))) {
            valid = 0;
        }
        if (valid != 0) {
            writeChunk(areaLocation(chunkSectors, currentArea), area.duplicate().clear());
        }
        if (full) {
            currentCommitted = 0;
            currentArea++;
            Arrays.fill(area.array(), (byte) 0); // zero_memory_area
        }
        return valid != 0;
    }

    /** prepare + copy + commit for one origin chunk; the COW chunk it went to, or -1 when the store is full. */
    public long addException(long oldChunk, byte[] chunkData) throws IOException {
        long newChunk = prepareException();
        if (newChunk < 0) {
            return -1;
        }
        writeData(newChunk, chunkData);
        commitException(oldChunk, newChunk);
        return newChunk;
    }

    /**
     * persistent_prepare_merge: the most recent exception into {@code last} and how many consecutive ones end
     * there (both chunks one lower per step, within the current area); 0 once nothing is left.
     */
    public int prepareMerge(long[] last) throws IOException {
        if (currentCommitted == 0) {
            if (currentArea == 0) {
                return 0;
            }
            currentArea--;
            readChunk(areaLocation(chunkSectors, currentArea), area.clear());
            currentCommitted = exceptionsPerArea;
        }
        last[0] = entryOld(currentCommitted - 1);
        last[1] = entryNew(currentCommitted - 1);
        int run = 1;
        while (run < currentCommitted
                && entryOld(currentCommitted - 1 - run) == last[0] - run
                && entryNew(currentCommitted - 1 - run) == last[1] - run) {
            run++;
        }
        return run;
    }

    /** persistent_commit_merge: clears the last {@code count} entries and writes the area (FLUSH/FUA). */
    public void commitMerge(int count) throws IOException {
        for (int i = 0; i < count; i++) {
            putEntry(currentCommitted - 1 - i, 0, 0);
        }
        writeChunk(areaLocation(chunkSectors, currentArea), area.duplicate().clear());
        currentCommitted -= count;
        nextFree = areaLocation(chunkSectors, currentArea) + currentCommitted + 1;
    }

    /** persistent_drop_snapshot: valid = 0 and the header rewritten. */
    public void dropSnapshot() throws IOException {
        valid = 0;
        writeHeader();
    }

    @Override
    public void close() throws IOException {
        cow.force(true);
        cow.close();
    }

    /** write_header: the four fields, rest of the chunk zero. */
    private void writeHeader() throws IOException {
        ByteBuffer header = ByteBuffer.allocate(chunkBytes(chunkSectors)).order(ByteOrder.LITTLE_ENDIAN);
        header.putInt(SNAP_MAGIC).putInt(valid).putInt(DISK_VERSION).putInt(chunkSectors).clear();
        writeChunk(0, header);
    }

    /** zero_disk_area: false where the kernel's write fails because the area lies past the COW's end. */
    private boolean zeroArea(long index) throws IOException {
        long chunk = areaLocation(chunkSectors, index);
        if (!chunkFits(chunk)) {
            return false;
        }
        writeChunk(chunk, ByteBuffer.allocate(chunkBytes(chunkSectors)));
        return true;
    }

    private boolean chunkFits(long chunk) {
        return (chunk + 1) * chunkSectors <= cowSectors;
    }

    private void putEntry(int index, long oldChunk, long newChunk) {
        area.putLong(index * EXCEPTION_BYTES, oldChunk).putLong(index * EXCEPTION_BYTES + 8, newChunk);
    }

    private long entryOld(int index) {
        return area.getLong(index * EXCEPTION_BYTES);
    }

    private long entryNew(int index) {
        return area.getLong(index * EXCEPTION_BYTES + 8);
    }

    private void writeChunk(long chunk, ByteBuffer data) throws IOException {
        writeFully(cow, data, chunk * chunkBytes(chunkSectors));
    }

    private void readChunk(long chunk, ByteBuffer into) throws IOException {
        readFully(cow, into, chunk * chunkBytes(chunkSectors));
    }

    // ---- reader ----

    /** The header chunk's first 16 bytes (read_header reads the chunk and looks at these only). */
    public static Header readHeader(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, b, 0);
            return new Header(b.getInt(0), b.getInt(4), b.getInt(8), b.getInt(12));
        }
    }

    /**
     * persistent_read_metadata for a store that has a header: takes the chunk size from the header (the header
     * wins over any table), refuses what the kernel refuses, and for a valid store walks the areas as
     * read_exceptions does: every entry up to the first whose new_chunk is 0; a full area means the next one is
     * read too. An invalid store ({@code valid == 0}) comes back with no exceptions, as the kernel stops there.
     */
    public static Contents read(Path file) throws IOException {
        Header header = readHeader(file);
        if (header.magic() == 0) {
            throw new IOException("no header: a blank COW, the kernel would start a new snapshot");
        }
        if (header.magic() != SNAP_MAGIC) {
            throw new IOException("Invalid or corrupt snapshot"); // read_header's DMWARN
        }
        if (header.version() != DISK_VERSION) {
            throw new IOException("unable to handle snapshot disk version " + header.version());
        }
        int chunkSectors = header.chunkSectors();
        List<Exception> found = new ArrayList<>();
        long nextFree = HEADER_CHUNKS + 1;
        if (header.valid() == 0) {
            return new Contents(header, found, 0, 0, nextFree);
        }
        int perArea = exceptionsPerArea(chunkSectors);
        ByteBuffer area = ByteBuffer.allocate(chunkBytes(chunkSectors)).order(ByteOrder.LITTLE_ENDIAN);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long areaIndex = 0;
            while (true) {
                long at = areaLocation(chunkSectors, areaIndex) * chunkBytes(chunkSectors);
                if (at + area.capacity() > ch.size()) {
                    throw new IOException("area " + areaIndex + " lies past the end of the COW"); // bufio -EIO
                }
                readFully(ch, area.clear(), at);
                // insert_exceptions: stop at the first entry pointing at chunk 0, else the area was full
                int i = 0;
                for (; i < perArea; i++) {
                    long oldChunk = area.getLong(i * EXCEPTION_BYTES);
                    long newChunk = area.getLong(i * EXCEPTION_BYTES + 8);
                    if (newChunk == 0) {
                        break;
                    }
                    nextFree = Math.max(nextFree, newChunk + 1);
                    found.add(new Exception(oldChunk, newChunk));
                }
                if (i < perArea) {
                    // skip_metadata once the walk is over: next_free never points at an area chunk
                    if (nextFree % (perArea + 1L) == HEADER_CHUNKS) {
                        nextFree++;
                    }
                    return new Contents(header, List.copyOf(found), areaIndex, i, nextFree);
                }
                areaIndex++;
            }
        }
    }

    /** The bytes of one chunk of the COW (a data chunk an exception points to, or an area). */
    public static byte[] readChunk(Path file, int chunkSectors, long chunk) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(chunkBytes(chunkSectors));
            readFully(ch, b, chunk * b.capacity());
            return b.array();
        }
    }

    /**
     * The transient store (dm-snap-transient.c): nothing on disk, chunks handed out from chunk 0 upwards, so the
     * n-th exception's data (counting from 0) lives in chunk n; -1 once {@code (n+1)} chunks do not fit.
     */
    public static long transientChunk(long n, long cowSectors, int chunkSectors) {
        return cowSectors < (n + 1) * chunkSectors ? -1 : n;
    }

    private static void writeFully(FileChannel ch, ByteBuffer data, long position) throws IOException {
        long at = position;
        while (data.hasRemaining()) {
            at += ch.write(data, at);
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer into, long position) throws IOException {
        long at = position;
        while (into.hasRemaining()) {
            int n = ch.read(into, at);
            if (n < 0) {
                throw new IOException("short read at byte " + at);
            }
            at += n;
        }
    }
}
