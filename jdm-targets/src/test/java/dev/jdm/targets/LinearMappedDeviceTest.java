package dev.jdm.targets;

import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.BlockDeviceSparseContract;
import dev.jdm.core.testing.TestFiles;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static dev.jdm.core.testing.TestPattern.pattern;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The contract on a mapped device whose table is one linear target starting 1 MiB into its file. */
class LinearMappedDeviceTest extends BlockDeviceSparseContract {
    private static final long OFFSET_SECTORS = 2048;
    private Path file;

    @Override
    protected BlockDevice create(long size) throws Exception {
        file = TestFiles.sparse(dir, "linear.img", size + (OFFSET_SECTORS << 9) + (1 << 20));
        DeviceMapper dm = closeAfterTest(DeviceMapper.create());
        dm.create("lin", null, "0 " + (size >> 9) + " linear " + file + " " + OFFSET_SECTORS, false);
        return dm.device("lin");
    }

    @Test
    void bytesLandAtTheOffsetInTheFile() throws Exception {
        byte[] content = pattern(5000, 40);
        write(777, content);
        device.flush();
        byte[] onDisk = Files.readAllBytes(file);
        long base = (OFFSET_SECTORS << 9) + 777;
        assertArrayEquals(content, Arrays.copyOfRange(onDisk, (int) base, (int) base + content.length));
        assertEquals(0, onDisk[(int) base - 1]);
        assertEquals(0, onDisk[(int) base + content.length]);
    }
}
