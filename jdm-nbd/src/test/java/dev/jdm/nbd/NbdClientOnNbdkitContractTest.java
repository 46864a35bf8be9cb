package dev.jdm.nbd;

import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.BlockDeviceSparseContract;
import dev.jdm.core.testing.TestFiles;

/** The BlockDevice contract for jdm's client against a server nobody here wrote: nbdkit's file plugin on a sparse file. */
class NbdClientOnNbdkitContractTest extends BlockDeviceSparseContract {
    @Override
    protected BlockDevice create(long size) throws Exception {
        ExternalServer nbdkit = closeAfterTest(ExternalServer.nbdkit(dir.resolve("nbdkit.sock"), "file",
                TestFiles.sparse(dir, "disk.img", size).toString()));
        return closeAfterTest(NbdClient.open(NbdUri.parse(nbdkit.uri()), false));
    }
}
