package dev.jdm.targets;

import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.TargetLine;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.BlockDeviceSparseContract;
import dev.jdm.core.testing.TestFiles;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The contract on a mapped device stacked on another: a linear table over {@code /dev/mapper/lower},
 * itself striped over two files, so every operation passes through two engines' worth of splitting.
 */
class StackedMappedDeviceTest extends BlockDeviceSparseContract {
    private DeviceMapper dm;

    @Override
    protected BlockDevice create(long size) throws Exception {
        long lowerSectors = (size >> 9) + 2048;
        Path a = TestFiles.sparse(dir, "a.img", lowerSectors / 2 * 512);
        Path b = TestFiles.sparse(dir, "b.img", lowerSectors / 2 * 512);
        dm = closeAfterTest(DeviceMapper.create());
        dm.create("lower", null, "0 " + lowerSectors + " striped 2 16 " + a + " 0 " + b + " 0", false);
        dm.create("upper", null, "0 " + (size >> 9) + " linear /dev/mapper/lower 2048", false);
        return dm.device("upper");
    }

    @Test
    void theUpperTablePrintsTheLowerDeviceByNumberAndHoldsItOpen() throws Exception {
        assertEquals(List.of("0 8192 linear 253:0 2048"), dm.table("upper", false).stream().map(TargetLine::format).toList());
        assertEquals(List.of("253:0"), dm.deps("upper", false));
        assertEquals(1, dm.info("lower").openCount());
    }
}
