package dev.jdm.targets;

import dev.jdm.core.Errno;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.jdm.targets.TargetTestSupport.assertIoError;
import static dev.jdm.targets.TargetTestSupport.bytes;
import static dev.jdm.targets.TargetTestSupport.status;
import static dev.jdm.targets.TargetTestSupport.table;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

class ErrorTargetTest {
    private DeviceMapper dm;
    private MappedDevice md;

    @BeforeEach
    void setUp() throws Exception {
        dm = DeviceMapper.create();
        // Arguments are accepted and ignored, and not printed back.
        dm.create("e", null, "0 2048 error 8:16 0", false);
        md = dm.device("e");
    }

    @AfterEach
    void tearDown() {
        dm.close();
    }

    @Test
    void tableAndStatusAreEmptyEvenWithArguments() throws Exception {
        assertEquals(List.of("0 2048 error "), table(dm, "e"));
        assertEquals(List.of("0 2048 error "), status(dm, "e"));
        assertEquals(List.of(), dm.deps("e", false));
    }

    @Test
    void everyOperationFailsWithEio() {
        assertIoError(Errno.EIO, () -> md.read(0, bytes(512)));
        assertIoError(Errno.EIO, () -> md.write(0, bytes(512), false));
        assertIoError(Errno.EIO, () -> md.write(512, bytes(512), true));
        assertIoError(Errno.EIO, () -> md.flush());
        assertIoError(Errno.EIO, () -> md.discard(0, 4096));
        assertIoError(Errno.EIO, () -> md.writeZeroes(0, 4096, false));
        assertIoError(Errno.EIO, () -> md.writeZeroes(0, 4096, true));
        assertFalse(md.supportsDiscard());
    }

    @Test
    void anErrorLineFailsOnlyItsPartOfTheDevice() throws Exception {
        dm.create("mix", null, "0 8 zero\n8 8 error\n16 8 zero", false);
        MappedDevice mix = dm.device("mix");
        mix.read(0, bytes(4096));
        mix.read(16 * 512, bytes(4096));
        assertIoError(Errno.EIO, () -> mix.read(4096 - 512, bytes(1024)));
    }
}
