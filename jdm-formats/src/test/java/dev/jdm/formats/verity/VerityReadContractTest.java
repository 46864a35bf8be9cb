package dev.jdm.formats.verity;

import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.BlockDeviceReadContract;
import dev.jdm.core.testing.TestPattern;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The read half of the block-device contract on a verity device: an image of known bytes formatted
 * with jdm's veritysetup and opened read-only from the table line it prints. Verity takes no writes,
 * so the data half does not apply.
 */
class VerityReadContractTest extends BlockDeviceReadContract {
    private final byte[] content = TestPattern.pattern((int) SIZE, 53);

    @Override
    protected BlockDevice create(long size) throws Exception {
        Path data = dir.resolve("data.img");
        Path hash = dir.resolve("hash.img");
        Files.write(data, content);
        VerityOptions options = VerityOptions.defaults().withSalt("1234");
        String root = Veritysetup.format(data, hash, options).rootHashHex();
        DeviceMapper dm = closeAfterTest(DeviceMapper.create());
        dm.create("v", null, Veritysetup.open(data, hash, root, options), true);
        return dm.device("v");
    }

    /** The kernel's dm-verity refuses I/O not aligned to its data block ("unaligned io"); 4096 by default. */
    @Override
    protected int ioUnit() {
        return 4096;
    }

    @Override
    protected byte[] content() {
        return content;
    }
}
