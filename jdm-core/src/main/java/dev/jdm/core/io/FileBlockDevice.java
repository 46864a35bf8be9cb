package dev.jdm.core.io;

import com.sun.nio.file.ExtendedOpenOption;
import dev.jdm.core.BlockIoException;
import dev.jdm.core.Errno;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A regular file or a real block device. Data moves through a {@link FileChannel} (positional,
 * thread-safe, virtual-thread friendly); a second descriptor opened through FFM serves fallocate,
 * SEEK_DATA/SEEK_HOLE and the block-device ioctls, and for block devices it holds an O_EXCL claim,
 * so a mounted disk is refused with EBUSY just as the kernel's dm refuses it.
 */
public final class FileBlockDevice implements BlockDevice {

    /** How to open: read-only or not, O_DIRECT or through the page cache. */
    public record Options(boolean readOnly, boolean direct) {
        public static final Options READ_WRITE = new Options(false, false);
        public static final Options READ_ONLY = new Options(true, false);
    }

    private static final int DIRECT_ALIGNMENT = 4096;
    /**
     * Zeroes for filesystems without FALLOC_FL_ZERO_RANGE (tmpfs): one aligned buffer for every device, each
     * call a duplicate, since a direct buffer per call costs more than the write (the thin pool zeroes the
     * rest of every block a partial write provisions).
     */
    private static final ByteBuffer ZEROES = ByteBuffer.allocateDirect(DIRECT_ALIGNMENT * 65)
            .alignedSlice(DIRECT_ALIGNMENT).slice(0, DIRECT_ALIGNMENT * 64).asReadOnlyBuffer();
    private static final int PAGE = 4096;
    private static final boolean CACHESTAT = Native.hasCachestat();
    /** Writes from this size on are worth a cachestat call to find out whether they can be copied into a mapping. */
    private static final int MAPPED_WRITE_MIN = 64 << 10;

    private final Path path;
    private final String id;
    private final boolean blockDevice;
    private final boolean readOnly;
    private final boolean direct;
    private final FileChannel channel;
    private final int fd;
    private final long blockDeviceSize;
    private final int logicalBlockSize;
    /** Serialises the read-modify-write of unaligned O_DIRECT writes. */
    private final ReentrantLock unalignedWrite = new ReentrantLock();
    /**
     * Whether large writes into cached pages may go through a shared mapping: only on tmpfs, which has no
     * writeback. On a disk filesystem every page that writeback or an fsync cleaned is write-protected again,
     * so the copy takes a page_mkwrite fault per 4 KiB page and loses to pwrite (merges and sequential NBD
     * writes on ext4 ran at a third of a plain copy's rate).
     */
    private final boolean mappedWrites;
    private volatile boolean closed;
    /** The file mapped shared, for large writes into cached pages; null until the first one. */
    private volatile MemorySegment mapped;
    private Arena mapping;

    private FileBlockDevice(Path path, Options options) throws IOException {
        this.path = path.toAbsolutePath().normalize();
        this.readOnly = options.readOnly();
        this.direct = options.direct();
        if (!Files.exists(this.path)) {
            throw new NoSuchFileException(this.path.toString(), null, "no such file or block device");
        }
        this.blockDevice = isBlockDevice(this.path);
        if (!blockDevice && !Files.isRegularFile(this.path)) {
            throw new BlockIoException(Errno.EINVAL, this.path + " is neither a regular file nor a block device");
        }
        int flags = (readOnly ? Native.O_RDONLY : Native.O_RDWR) | (blockDevice ? Native.O_EXCL : 0);
        int nativeFd = Native.open(this.path.toString(), flags);
        if (nativeFd < 0) {
            Errno errno = -nativeFd == Errno.EBUSY.number ? Errno.EBUSY
                    : -nativeFd == Errno.EACCES.number ? Errno.EACCES : Errno.EIO;
            throw new BlockIoException(errno, "cannot open " + this.path + ": " + Native.strerror(-nativeFd));
        }
        this.fd = nativeFd;
        try {
            List<OpenOption> open = new ArrayList<>(List.of(StandardOpenOption.READ));
            if (!readOnly) {
                open.add(StandardOpenOption.WRITE);
            }
            if (direct) {
                open.add(ExtendedOpenOption.DIRECT);
            }
            this.channel = FileChannel.open(this.path, open.toArray(OpenOption[]::new));
            if (blockDevice) {
                long size = Native.blockDeviceSize(fd);
                int sectorSize = Native.blockDeviceSectorSize(fd);
                if (size < 0 || sectorSize < 0) {
                    throw new BlockIoException(Errno.EIO, "cannot read the size of block device " + this.path);
                }
                this.blockDeviceSize = size;
                this.logicalBlockSize = direct ? Math.max(sectorSize, 512) : 512;
            } else {
                this.blockDeviceSize = -1;
                this.logicalBlockSize = direct ? DIRECT_ALIGNMENT : 512;
            }
            this.id = blockDevice ? majorMinor(this.path) : this.path.toString();
            this.mappedWrites = CACHESTAT && !blockDevice && !direct && !readOnly && onTmpfs(this.path);
        } catch (IOException | RuntimeException e) {
            Native.close(fd);
            throw e;
        }
    }

    public static FileBlockDevice open(Path path, Options options) throws IOException {
        return new FileBlockDevice(path, options);
    }

    private static boolean onTmpfs(Path path) {
        try {
            return "tmpfs".equals(Files.getFileStore(path).type());
        } catch (IOException e) {
            return false;
        }
    }

    public static boolean isBlockDevice(Path path) throws IOException {
        int mode = (Integer) Files.getAttribute(path, "unix:mode");
        return (mode & 0170000) == 0060000;
    }

    /** A block device's {@code major:minor}, as tables print it. */
    public static String majorMinor(Path path) throws IOException {
        long rdev = (Long) Files.getAttribute(path, "unix:rdev");
        long major = ((rdev >>> 8) & 0xfff) | ((rdev >>> 32) & ~0xfffL);
        long minor = (rdev & 0xff) | ((rdev >>> 12) & ~0xffL);
        return major + ":" + minor;
    }

    public Path path() {
        return path;
    }

    public boolean isBlockDevice() {
        return blockDevice;
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public long size() {
        if (blockDevice) {
            return blockDeviceSize;
        }
        try {
            return channel.size();
        } catch (IOException e) {
            return 0;
        }
    }

    @Override
    public int logicalBlockSize() {
        return logicalBlockSize;
    }

    @Override
    public boolean isReadOnly() {
        return readOnly;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        if (direct && !alignedForDirect(offset, dst)) {
            readBounced(offset, dst);
            return;
        }
        long pos = offset;
        while (dst.hasRemaining()) {
            int n = channel.read(dst, pos);
            if (n < 0) {
                throw new BlockIoException(Errno.EIO, "read beyond the end of " + path + " at byte " + pos);
            }
            pos += n;
        }
    }

    /**
     * Regular files through the page cache only: O_DIRECT bypasses it, and the JDK's sendfile path
     * needs a file size, which block devices do not report through fstat.
     */
    @Override
    public boolean sendCached(long offset, long length, ByteBuffer prefix, WritableByteChannel out) throws IOException {
        if (length <= 0 || !inPageCache(offset, length)) {
            return false;
        }
        while (prefix.hasRemaining()) {
            out.write(prefix);
        }
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            long n = channel.transferTo(pos, end - pos, out);
            if (n <= 0) {
                throw new BlockIoException(Errno.EIO, path + " ended at byte " + pos + " while sending it");
            }
            pos += n;
        }
        return true;
    }

    /**
     * A large write to a tmpfs file ({@link #mappedWrites}) whose pages are all in the page cache is a copy
     * into the shared mapping of the file: the same pages a pwrite would fill, without the page cache's per-page write path (about
     * half of a pwrite's time on tmpfs). Pages that are not cached take pwrite, which does not read
     * what it overwrites whole; so does anything past the size the file had when first mapped. A
     * fault during the copy (the file shrank underneath) leaves the write to pwrite, which reports it.
     */
    private boolean copiedIntoMapping(long offset, ByteBuffer src) throws IOException {
        int length = src.remaining();
        if (!mappedWrites || length < MAPPED_WRITE_MIN || !inPageCache(offset, length)) {
            return false;
        }
        MemorySegment file = mapping();
        if (file == null || offset + length > file.byteSize()) {
            return false;
        }
        try {
            MemorySegment.copy(MemorySegment.ofBuffer(src), 0, file, offset, length);
            return true;
        } catch (InternalError | IllegalStateException e) {
            return false;
        }
    }

    private MemorySegment mapping() throws IOException {
        MemorySegment m = mapped;
        if (m == null) {
            synchronized (this) {
                m = mapped;
                if (m == null && !closed) {
                    long size = channel.size();
                    if (size == 0) {
                        return null;
                    }
                    Arena arena = Arena.ofShared();
                    try {
                        m = channel.map(FileChannel.MapMode.READ_WRITE, 0, size, arena);
                    } catch (IOException | RuntimeException e) {
                        arena.close();
                        throw e;
                    }
                    mapping = arena;
                    mapped = m;
                }
            }
        }
        return m;
    }

    /** Whether every page of the range of this regular file (opened without O_DIRECT) is in the page cache. */
    private boolean inPageCache(long offset, long length) {
        if (!CACHESTAT || direct || blockDevice) {
            return false;
        }
        long pages = (offset + length - 1) / PAGE - offset / PAGE + 1;
        return Native.cachedPages(fd, offset, length) == pages;
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        checkWritable();
        if (direct && !alignedForDirect(offset, src)) {
            writeBounced(offset, src);
        } else if (copiedIntoMapping(offset, src)) {
            src.position(src.limit());
        } else {
            long pos = offset;
            while (src.hasRemaining()) {
                pos += channel.write(src, pos);
            }
        }
        if (fua) {
            channel.force(false);
        }
    }

    @Override
    public void flush() throws IOException {
        if (!readOnly) {
            channel.force(false);
        }
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        checkWritable();
        int rc = Native.fallocate(fd, Native.FALLOC_FL_PUNCH_HOLE | Native.FALLOC_FL_KEEP_SIZE, offset, length);
        if (rc < 0 && -rc != Native.EOPNOTSUPP) {
            throw new BlockIoException(Errno.EIO, "discard on " + path + " failed: " + Native.strerror(-rc));
        }
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayUnmap) throws IOException {
        checkWritable();
        int mode = mayUnmap ? Native.FALLOC_FL_PUNCH_HOLE | Native.FALLOC_FL_KEEP_SIZE
                : Native.FALLOC_FL_ZERO_RANGE | Native.FALLOC_FL_KEEP_SIZE;
        int rc = Native.fallocate(fd, mode, offset, length);
        if (rc == 0) {
            return;
        }
        if (-rc != Native.EOPNOTSUPP && -rc != Errno.EINVAL.number) {
            throw new BlockIoException(Errno.EIO, "write-zeroes on " + path + " failed: " + Native.strerror(-rc));
        }
        writeZeroBuffers(offset, length);
    }

    private void writeZeroBuffers(long offset, long length) throws IOException {
        ByteBuffer zeroes = ZEROES.duplicate();
        long done = 0;
        while (done < length) {
            int n = (int) Math.min(zeroes.capacity(), length - done);
            write(offset + done, zeroes.clear().limit(n), false);
            done += n;
        }
    }

    /** The hole at {@code offset} runs to the next data (SEEK_DATA), or to the limit when no data follows. */
    @Override
    public long zeroesUntil(long offset, long limit) throws IOException {
        if (blockDevice) {
            return offset;
        }
        long data = Native.lseek(fd, offset, Native.SEEK_DATA);
        if (data == -Native.ENXIO) {
            return limit;
        }
        return data < 0 ? offset : Math.min(data, limit);
    }

    @Override
    public void allocation(long offset, long length, ExtentSink sink) throws IOException {
        if (blockDevice) {
            sink.extent(length, 0);
            return;
        }
        long end = offset + length;
        long pos = offset;
        while (pos < end) {
            long data = Native.lseek(fd, pos, Native.SEEK_DATA);
            if (data == -Native.ENXIO) {
                data = end; // no data after pos: the rest is a hole
            } else if (data < 0) {
                sink.extent(end - pos, 0); // filesystem without SEEK_DATA: report it all as data
                return;
            }
            if (data > pos) {
                long holeEnd = Math.min(data, end);
                sink.extent(holeEnd - pos, ExtentSink.HOLE | ExtentSink.ZERO);
                pos = holeEnd;
                continue;
            }
            long hole = Native.lseek(fd, pos, Native.SEEK_HOLE);
            long dataEnd = hole < 0 ? end : Math.min(hole, end);
            sink.extent(dataEnd - pos, 0);
            pos = dataEnd;
        }
    }

    private void checkWritable() throws BlockIoException {
        if (readOnly) {
            throw new BlockIoException(Errno.EROFS, path + " is open read-only");
        }
    }

    private boolean alignedForDirect(long offset, ByteBuffer buf) {
        int a = logicalBlockSize;
        return buf.isDirect() && offset % a == 0 && buf.remaining() % a == 0
                && java.lang.foreign.MemorySegment.ofBuffer(buf).address() % a == 0;
    }

    private ByteBuffer alignedBounce(long alignedOffset, long alignedEnd) {
        return ByteBuffer.allocateDirect((int) (alignedEnd - alignedOffset) + DIRECT_ALIGNMENT)
                .alignedSlice(DIRECT_ALIGNMENT).limit((int) (alignedEnd - alignedOffset));
    }

    private void readBounced(long offset, ByteBuffer dst) throws IOException {
        int a = logicalBlockSize;
        long start = Math.floorDiv(offset, a) * a;
        long end = Math.ceilDiv(offset + dst.remaining(), a) * a;
        ByteBuffer bounce = alignedBounce(start, end);
        // The last block of a file whose size is not a multiple of the alignment is only partly there.
        long available = start + readUntilEnd(start, bounce);
        if (available < offset + dst.remaining()) {
            throw new BlockIoException(Errno.EIO, "read beyond the end of " + path + " at byte " + Math.max(available, offset));
        }
        bounce.position((int) (offset - start)).limit((int) (offset - start) + dst.remaining());
        dst.put(bounce);
    }

    /** Reads from {@code pos} until dst is full or the file ends (the rest stays zero); returns the bytes read. */
    private int readUntilEnd(long pos, ByteBuffer dst) throws IOException {
        int read = 0;
        while (dst.hasRemaining()) {
            int wanted = dst.remaining();
            int n = channel.read(dst, pos + read);
            if (n < 0) {
                break;
            }
            read += n;
            if (direct && n < wanted) {
                break; // O_DIRECT reads come back short only at the end of the file
            }
        }
        return read;
    }

    private void writeBounced(long offset, ByteBuffer src) throws IOException {
        int a = logicalBlockSize;
        long start = Math.floorDiv(offset, a) * a;
        long end = Math.ceilDiv(offset + src.remaining(), a) * a;
        boolean partial = start != offset || end != offset + src.remaining();
        ByteBuffer bounce = alignedBounce(start, end);
        if (partial) {
            unalignedWrite.lock();
        }
        try {
            long sizeBefore = blockDevice ? blockDeviceSize : channel.size();
            long writeEnd = offset + src.remaining();
            if (partial) {
                readUntilEnd(start, bounce);
                bounce.clear().limit((int) (end - start));
            }
            bounce.position((int) (offset - start));
            bounce.put(src);
            bounce.clear().limit((int) (end - start));
            long pos = start;
            while (bounce.hasRemaining()) {
                pos += channel.write(bounce, pos);
            }
            // Whole aligned blocks went out: a file grown by this write ends where the write ended,
            // as it would through the page cache, not at the next alignment boundary.
            if (!blockDevice && end > writeEnd && end > sizeBefore) {
                channel.truncate(Math.max(sizeBefore, writeEnd));
            }
        } finally {
            if (partial) {
                unalignedWrite.unlock();
            }
        }
    }

    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            synchronized (this) {
                if (mapping != null) {
                    mapped = null;
                    mapping.close();
                }
            }
            channel.close();
        } finally {
            Native.close(fd);
        }
    }

    @Override
    public String toString() {
        return "FileBlockDevice[" + path + (readOnly ? ", ro" : "") + (direct ? ", direct" : "") + "]";
    }
}
