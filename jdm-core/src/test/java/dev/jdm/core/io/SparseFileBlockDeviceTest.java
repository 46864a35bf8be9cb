package dev.jdm.core.io;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.Errno;
import dev.jdm.core.testing.ExternalTools;
import dev.jdm.core.testing.TestFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static dev.jdm.core.testing.TestPattern.pattern;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The contract on a sparse regular file through the page cache, plus what is particular to files. */
class SparseFileBlockDeviceTest extends BlockDeviceSparseContract {

    @Override
    protected BlockDevice create(long size) throws Exception {
        return closeAfterTest(FileBlockDevice.open(TestFiles.sparse(dir, "disk.img", size), FileBlockDevice.Options.READ_WRITE));
    }

    @Override
    protected boolean growsOnWriteBeyondEnd() {
        return true;
    }

    @Test
    void readsAsZeroesIsTrueExactlyWhereTheFileHasNoData() throws Exception {
        device.write(1 << 20, ByteBuffer.wrap(new byte[64 << 10]), false);
        device.write(3 << 20, ByteBuffer.wrap(new byte[4096]), false);
        assertEquals(List.of(true, true, false, false, false, true, false),
                List.of(device.readsAsZeroes(0, 1 << 20), device.readsAsZeroes(512 << 10, 512 << 10),
                        device.readsAsZeroes(512 << 10, (512 << 10) + 1), device.readsAsZeroes(1 << 20, 4096),
                        device.readsAsZeroes((1 << 20) + 4096, 4096), device.readsAsZeroes(2 << 20, 1 << 20),
                        device.readsAsZeroes(2 << 20, (1 << 20) + 1)));
    }

    @Test
    void zeroesUntilEndsAtTheNextDataOrTheLimitAndTheAllocationWalkAgrees() throws Exception {
        device.write(1 << 20, ByteBuffer.wrap(new byte[64 << 10]), false);
        device.write(3 << 20, ByteBuffer.wrap(new byte[4096]), false);
        BlockDevice walked = byAllocationWalk(device);
        for (BlockDevice d : List.of(device, walked)) {
            assertEquals(List.of(1L << 20, 512L << 10, 1L << 20, (3L << 20) - 4096, 3L << 20, 4L << 20),
                    List.of(d.zeroesUntil(0, 4 << 20), d.zeroesUntil(0, 512 << 10), d.zeroesUntil(1 << 20, 4 << 20),
                            d.zeroesUntil(2 << 20, (3 << 20) - 4096), d.zeroesUntil(2 << 20, 4 << 20),
                            d.zeroesUntil((3 << 20) + 4096, 4 << 20)), d.getClass().getSimpleName());
        }
    }

    /** The device with only what every BlockDevice must implement, so the interface's defaults answer. */
    private static BlockDevice byAllocationWalk(BlockDevice d) {
        return new BlockDevice() {
            @Override public String id() { return d.id(); }
            @Override public long size() { return d.size(); }
            @Override public boolean isReadOnly() { return d.isReadOnly(); }
            @Override public void read(long offset, ByteBuffer dst) throws java.io.IOException { d.read(offset, dst); }
            @Override public void write(long offset, ByteBuffer src, boolean fua) throws java.io.IOException { d.write(offset, src, fua); }
            @Override public void flush() throws java.io.IOException { d.flush(); }
            @Override public void discard(long offset, long length) throws java.io.IOException { d.discard(offset, length); }
            @Override public void writeZeroes(long offset, long length, boolean mayUnmap) throws java.io.IOException {
                d.writeZeroes(offset, length, mayUnmap);
            }
            @Override public void allocation(long offset, long length, ExtentSink sink) throws java.io.IOException {
                d.allocation(offset, length, sink);
            }
            @Override public void close() {
            }
        };
    }

    @Test
    void idIsTheAbsolutePathAndItIsNotABlockDevice() {
        FileBlockDevice f = (FileBlockDevice) device;
        assertEquals(dir.resolve("disk.img").toAbsolutePath().toString(), f.id());
        assertFalse(f.isBlockDevice());
        assertEquals(512, f.logicalBlockSize());
    }

    @Test
    void readOnlyOpenRefusesEveryWriteWithErofs() throws Exception {
        try (FileBlockDevice ro = FileBlockDevice.open(dir.resolve("disk.img"), FileBlockDevice.Options.READ_ONLY)) {
            assertTrue(ro.isReadOnly());
            for (var op : List.<Executable>of(
                    () -> ro.write(0, ByteBuffer.allocate(512), false),
                    () -> ro.discard(0, 4096),
                    () -> ro.writeZeroes(0, 4096, false))) {
                assertEquals(Errno.EROFS, assertThrows(BlockIoException.class, op).errno());
            }
            ro.flush();
            assertArrayEquals(new byte[512], readFrom(ro, 0, 512));
        }
    }

    @Test
    void writesAreVisibleToOtherReadersOfTheFile() throws Exception {
        byte[] content = pattern(4096, 20);
        write(8192, content);
        device.flush();
        byte[] onDisk = Files.readAllBytes(dir.resolve("disk.img"));
        assertArrayEquals(content, Arrays.copyOfRange(onDisk, 8192, 8192 + 4096));
    }

    @Test
    void cachedDataIsSentStraightFromThePageCacheAndAHoleIsNot() throws Exception {
        ExternalTools.require(Native.hasCachestat(), "the cachestat system call (Linux 6.5 or later)");
        byte[] content = pattern(64 * KIB, 41);
        write(SIZE - 64 * KIB, content);
        byte[] prefix = {9, 8, 7};
        assertArrayEquals(ByteBuffer.allocate(3 + 60 * KIB).put(prefix).put(content, 4 * KIB, 60 * KIB).array(),
                sendCached(SIZE - 60 * KIB, 60 * KIB, prefix));
        // The hole was never read: not in the page cache, so nothing is sent and the caller reads it.
        assertEquals(0, sendCached(0, 64 * KIB, prefix).length);
        // A range running past the last cached page is not sent either.
        assertEquals(0, sendCached(SIZE - 68 * KIB, 8 * KIB, prefix).length);
    }

    @Test
    void largeWritesOverCachedPagesLandInTheFileExactly() throws Exception {
        byte[] first = pattern(256 * KIB, 43);
        write(64 * KIB, first); // Not cached before: a pwrite, and now its pages are cached.
        byte[] second = pattern(200 * KIB, 44);
        // A heap buffer with a window that starts past its beginning, over the cached pages.
        ByteBuffer src = ByteBuffer.allocate(210 * KIB).position(10 * KIB).put(second).flip().position(10 * KIB);
        device.write(64 * KIB + 4096 + 100, src, true);
        assertEquals(src.limit(), src.position());
        assertEquals(210 * KIB, src.limit());
        byte[] expected = first.clone();
        System.arraycopy(second, 0, expected, 4096 + 100, second.length);
        assertArrayEquals(expected, readFrom(device, 64 * KIB, 256 * KIB));
        byte[] onDisk = Files.readAllBytes(dir.resolve("disk.img"));
        assertArrayEquals(expected, Arrays.copyOfRange(onDisk, 64 * KIB, 320 * KIB));
        assertEquals(SIZE, onDisk.length);
    }

    @Test
    void missingFileIsReported() {
        var e = assertThrows(java.nio.file.NoSuchFileException.class,
                () -> FileBlockDevice.open(dir.resolve("absent.img"), FileBlockDevice.Options.READ_WRITE));
        assertEquals(dir.resolve("absent.img").toAbsolutePath() + ": no such file or block device", e.getMessage());
    }

    @Test
    void aDirectoryIsRefusedWithEinval() {
        BlockIoException e = assertThrows(BlockIoException.class, () -> FileBlockDevice.open(dir, FileBlockDevice.Options.READ_WRITE));
        assertEquals(Errno.EINVAL, e.errno());
        assertEquals(dir.toAbsolutePath() + " is neither a regular file nor a block device", e.getMessage());
    }

    private static byte[] readFrom(BlockDevice d, long offset, int length) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(length);
        d.read(offset, b);
        return b.array();
    }
}
