package dev.jdm.core.spi;

import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.ExtentSink;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.util.List;

/**
 * A constructed target: one line of a table. Offsets are bytes from the start of the target, and
 * the engine never hands a target an I/O that crosses its end. Calls may arrive concurrently.
 * Targets that only move I/O to another place extend {@link RemapTarget} and implement one method.
 */
public interface Target {

    void read(long offset, ByteBuffer dst) throws IOException;

    void write(long offset, ByteBuffer src, boolean fua) throws IOException;

    void flush() throws IOException;

    void discard(long offset, long length) throws IOException;

    void writeZeroes(long offset, long length, boolean mayUnmap) throws IOException;

    /** Holes and zero ranges in [offset, offset+length), for NBD block status. */
    default void allocation(long offset, long length, ExtentSink sink) throws IOException {
        sink.extent(length, 0);
    }

    /**
     * {@link BlockDevice#sendCached}: only a target whose reads are plain copies of a device's bytes
     * can send them without reading them; the others keep this default and their reads take the
     * ordinary path.
     */
    default boolean sendCached(long offset, long length, ByteBuffer prefix, WritableByteChannel out) throws IOException {
        return false;
    }

    /** The kernel's STATUSTYPE_INFO text ({@code dmsetup status}); empty for most simple targets. */
    default String status() {
        return "";
    }

    /** The kernel's STATUSTYPE_TABLE text ({@code dmsetup table}): the arguments as the kernel prints them. */
    String table();

    /**
     * A {@code dmsetup message}, its words on a cursor (the first is the message's name); returns text
     * for the caller, or null when there is none.
     */
    default String message(Args argv) throws DmException {
        throw new DmException(Errno.EINVAL, "target does not accept messages");
    }

    /** Called before I/O is drained on suspend; {@code noflush} asks targets to hold rather than complete I/O. */
    default void presuspend(boolean noflush) {
    }

    /** Called once in-flight I/O has drained. */
    default void postsuspend() {
    }

    /** Called before a table goes live; may refuse (crypt without a key says EAGAIN). */
    default void preresume() throws DmException {
    }

    /** Called once the table is live and I/O flows again. */
    default void resume() {
    }

    /** The devices this target holds, for {@code deps} and for flushing. */
    default List<BlockDevice> devices() {
        return List.of();
    }

    /**
     * The smallest I/O unit this target accepts, in bytes: the kernel's {@code io_hints} raising the
     * device's logical block size (crypt with {@code sector_size:4096}). The table takes the largest
     * over its targets and its devices.
     */
    default int logicalBlockSize() {
        return 512;
    }

    /** Whether discards reach something useful (NBD advertises TRIM per device from this). */
    default boolean supportsDiscard() {
        return true;
    }

    /** Releases what the constructor acquired other than devices (the table releases those). */
    default void close() {
    }
}
