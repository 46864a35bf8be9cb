package dev.jdm.targets.thin;

import dev.jdm.core.engine.MappedDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static dev.jdm.targets.thin.ThinFixture.BLOCK;
import static dev.jdm.targets.thin.ThinFixture.pattern;
import static dev.jdm.targets.thin.ThinFixture.read;
import static dev.jdm.targets.thin.ThinFixture.write;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class ThinProvisioningTest {
    @TempDir
    Path dir;

    @Test
    void freshPoolAndThinReportTheKernelsStatusAndTable() throws Exception {
        try (ThinFixture f = new ThinFixture(dir, 64)) {
            f.createPool("pool", 10);
            assertEquals(f.metadata + " " + f.data + " 128 10 0 ", f.table("pool"));
            assertEquals("0 111/1024 0/64 - rw discard_passdown queue_if_no_space - 256 ", f.status("pool"));
            f.message("pool", "create_thin", "0");
            MappedDevice thin = f.createThin("pool", "thin", 0, 2048);
            assertEquals("253:0 0", f.table("thin"));
            assertEquals("0 -", f.status("thin"));
            byte[] data = pattern(4096, 1);
            write(thin, BLOCK + 512, data);
            assertArrayEquals(data, read(thin, BLOCK + 512, 4096));
            assertEquals("128 255", f.status("thin"));
        }
    }
}
