package dev.jdm.targets;

import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.BlockDeviceSparseContract;
import dev.jdm.core.testing.TestFiles;
import org.junit.jupiter.api.Nested;

/** The sparse block-device contract through switch and unstriped mapped devices over sparse files. */
class SwitchUnstripedContractTest {

    /**
     * Three paths to one file, as switch is meant to be used (every path reaches the same storage), in
     * regions of 24 sectors that are no power of two: I/O is cut at every region boundary.
     */
    @Nested
    class SwitchOverThreePathsToOneFile extends BlockDeviceSparseContract {
        @Override
        protected BlockDevice create(long size) throws Exception {
            DeviceMapper dm = closeAfterTest(DeviceMapper.create());
            String f = TestFiles.sparse(dir, "lun.img", size).toString();
            dm.create("sw", null, "0 " + (size >> 9) + " switch 3 24 0 " + f + " 0 " + f + " 0 " + f + " 0", false);
            return dm.device("sw");
        }
    }

    /** Stripe 2 of 3 in 4 KiB chunks, over a file three times the device past a 16-sector offset. */
    @Nested
    class UnstripedThirdOfThree extends BlockDeviceSparseContract {
        @Override
        protected BlockDevice create(long size) throws Exception {
            DeviceMapper dm = closeAfterTest(DeviceMapper.create());
            String f = TestFiles.sparse(dir, "striped.img", 3 * size + 16 * 512).toString();
            dm.create("u", null, "0 " + (size >> 9) + " unstriped 3 8 2 " + f + " 16", false);
            return dm.device("u");
        }
    }
}
