package dev.jdm.targets.multipath;

import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.BlockDeviceDataContract;
import dev.jdm.core.testing.TestFiles;

import java.nio.file.Path;

/**
 * The block-device contract on a multipath device: two groups, queue-length over two paths and
 * service-time over a third, all linear tables over one file, so each I/O may take any path.
 */
class MultipathContractTest extends BlockDeviceDataContract {
    @Override
    protected BlockDevice create(long size) throws Exception {
        Path storage = TestFiles.sparse(dir, "storage.img", size);
        DeviceMapper dm = DeviceMapper.create();
        closeAfterTest(() -> {
            dm.removeAll(true);
            dm.close();
        });
        long sectors = size >> 9;
        for (String path : new String[] {"p1", "p2", "p3"}) {
            dm.create(path, null, "0 " + sectors + " linear " + storage + " 0", false);
        }
        dm.create("mp", null, "0 " + sectors + " multipath 1 queue_if_no_path 0 2 1 queue-length 0 2 0 /dev/mapper/p1"
                + " /dev/mapper/p2 service-time 0 1 1 /dev/mapper/p3 1", false);
        return dm.device("mp");
    }
}
