package dev.jdm.core.io;

import dev.jdm.core.testing.TestFiles;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;

import static dev.jdm.core.testing.TestPattern.pattern;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The contract on a file opened with O_DIRECT: unaligned offsets, lengths and heap buffers must go
 * through the bounce path and still change exactly their bytes.
 */
class DirectFileBlockDeviceTest extends BlockDeviceSparseContract {

    @Override
    protected BlockDevice create(long size) throws Exception {
        return closeAfterTest(FileBlockDevice.open(TestFiles.sparse(dir, "direct.img", size),
                new FileBlockDevice.Options(false, true)));
    }

    @Override
    protected boolean growsOnWriteBeyondEnd() {
        return true;
    }

    @Test
    void directFilesSendNothingFromThePageCache() throws Exception {
        write(0, pattern(64 * KIB, 42));
        assertEquals(0, sendCached(0, 64 * KIB, new byte[]{1}).length);
    }

    @Test
    void reportsTheDirectIoAlignmentAsItsBlockSize() {
        assertEquals(4096, device.logicalBlockSize());
    }

    @Test
    void alignedDirectBuffersTakeTheDirectPath() throws Exception {
        ByteBuffer aligned = ByteBuffer.allocateDirect(3 * 4096).alignedSlice(4096).limit(8192);
        byte[] content = pattern(8192, 30);
        aligned.put(content).flip();
        device.write(4096, aligned, false);
        ByteBuffer back = ByteBuffer.allocateDirect(3 * 4096).alignedSlice(4096).limit(8192);
        device.read(4096, back);
        byte[] actual = new byte[8192];
        back.flip().get(actual);
        assertArrayEquals(content, actual);
    }
}
