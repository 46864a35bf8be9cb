package dev.jdm.nbd;

import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.BlockDeviceSparseContract;
import dev.jdm.core.testing.TestFiles;

/** The BlockDevice contract for a remote export served by jdm's own server, through jdm's client. */
class NbdClientContractTest extends BlockDeviceSparseContract {
    @Override
    protected BlockDevice create(long size) throws Exception {
        Served served = closeAfterTest(new Served(dir));
        served.dm.create("disk", null, "0 " + size / 512 + " linear " + TestFiles.sparse(dir, "disk.img", size) + " 0", false);
        return closeAfterTest(NbdClient.open(NbdUri.parse(served.uri("disk")), false));
    }
}
