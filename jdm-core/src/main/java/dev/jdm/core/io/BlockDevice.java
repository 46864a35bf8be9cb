package dev.jdm.core.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;

/**
 * Anything that stores blocks: a file, a real block device, a mapped device, a remote NBD export.
 * Offsets and lengths are in bytes. Implementations must be safe for concurrent calls.
 */
public interface BlockDevice extends AutoCloseable {

    /** How a table prints this device: {@code major:minor} for block and mapped devices, the path for files. */
    String id();

    /** Size in bytes. */
    long size();

    /** The smallest unit the device can write without read-modify-write. */
    default int logicalBlockSize() {
        return 512;
    }

    boolean isReadOnly();

    /** Reads exactly {@code dst.remaining()} bytes at {@code offset} into dst (advancing its position). */
    void read(long offset, ByteBuffer dst) throws IOException;

    /** Writes all of {@code src} at {@code offset}; with {@code fua} it is stable when this returns. */
    void write(long offset, ByteBuffer src, boolean fua) throws IOException;

    /** Makes every write that completed before this call stable. */
    void flush() throws IOException;

    /** The range's contents become undefined (a file punches a hole); a no-op where unsupported. */
    void discard(long offset, long length) throws IOException;

    /** The range reads back as zeroes; with {@code mayUnmap} the device may deallocate it. */
    void writeZeroes(long offset, long length, boolean mayUnmap) throws IOException;

    /** Reports holes and zero ranges in [offset, offset+length), covering it exactly, in order. */
    default void allocation(long offset, long length, ExtentSink sink) throws IOException {
        sink.extent(length, 0);
    }

    /**
     * Whether the range is known to read as zeroes without reading it (all of it reported as zero by
     * {@link #allocation}); false when unknown.
     */
    default boolean readsAsZeroes(long offset, long length) throws IOException {
        return zeroesUntil(offset, offset + length) == offset + length;
    }

    /**
     * Where the run of bytes known to read as zeroes that starts at {@code offset} ends, at most {@code limit};
     * {@code offset} when the byte there is not known to. Devices that can tell sooner than an allocation walk
     * override it: a file answers with one SEEK_DATA, without the SEEK_HOLE that on tmpfs scans the whole run
     * of data after it.
     */
    default long zeroesUntil(long offset, long limit) throws IOException {
        long[] end = {offset};
        boolean[] inRun = {true};
        allocation(offset, limit - offset, (n, flags) -> {
            inRun[0] &= (flags & ExtentSink.ZERO) != 0;
            if (inRun[0]) {
                end[0] += n;
            }
        });
        return end[0];
    }

    default boolean supportsDiscard() {
        return true;
    }

    /**
     * Zero-copy reads for servers: when the {@code length} bytes at {@code offset} are one run of a
     * regular file that is wholly in the page cache (so nothing waits for a disk), writes
     * {@code prefix} and then those bytes to {@code out} straight from the page cache (sendfile) and
     * returns true. Otherwise returns false having written nothing, and the caller reads the ordinary
     * way. An IOException means {@code out} may have received part of it: that stream is broken.
     */
    default boolean sendCached(long offset, long length, ByteBuffer prefix, WritableByteChannel out) throws IOException {
        return false;
    }

    @Override
    void close() throws IOException;
}
