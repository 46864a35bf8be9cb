package dev.jdm.targets;

import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.BlockDeviceSparseContract;
import dev.jdm.core.testing.TestFiles;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static dev.jdm.core.testing.TestPattern.pattern;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/** The contract on a mapped device striped over four files in 4 KiB chunks, with uneven stripe offsets. */
class StripedMappedDeviceTest extends BlockDeviceSparseContract {
    private static final int STRIPES = 4;
    private static final int CHUNK_SECTORS = 8;
    private static final long[] OFFSET_SECTORS = {0, 16, 0, 8};
    private final List<Path> files = new ArrayList<>();

    @Override
    protected BlockDevice create(long size) throws Exception {
        StringBuilder table = new StringBuilder("0 " + (size >> 9) + " striped " + STRIPES + " " + CHUNK_SECTORS);
        for (int i = 0; i < STRIPES; i++) {
            Path f = TestFiles.sparse(dir, "stripe" + i + ".img", size / STRIPES + (OFFSET_SECTORS[i] << 9));
            files.add(f);
            table.append(' ').append(f).append(' ').append(OFFSET_SECTORS[i]);
        }
        DeviceMapper dm = closeAfterTest(DeviceMapper.create());
        dm.create("str", null, table.toString(), false);
        return dm.device("str");
    }

    @Test
    void chunksGoRoundRobinOverTheStripes() throws Exception {
        // Ten chunks from chunk 3: chunks 3,7 on stripe 3; 4,8 on stripe 0; 5,9 on stripe 1; 6,10 on 2...
        int chunk = CHUNK_SECTORS << 9;
        byte[] content = pattern(10 * chunk, 41);
        write(3L * chunk, content);
        device.flush();
        for (int c = 3; c < 13; c++) {
            int stripe = c % STRIPES;
            long at = (OFFSET_SECTORS[stripe] << 9) + (long) (c / STRIPES) * chunk;
            byte[] onDisk = Files.readAllBytes(files.get(stripe));
            assertArrayEquals(Arrays.copyOfRange(content, (c - 3) * chunk, (c - 2) * chunk),
                    Arrays.copyOfRange(onDisk, (int) at, (int) at + chunk), "chunk " + c);
        }
    }
}
