package dev.jdm.targets;

import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.core.testing.TestFiles;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;

import static dev.jdm.targets.TargetTestSupport.assertIoError;
import static dev.jdm.targets.TargetTestSupport.bytes;
import static dev.jdm.targets.TargetTestSupport.status;
import static dev.jdm.targets.TargetTestSupport.table;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class StripedTargetTest {
    @TempDir
    Path dir;
    private DeviceMapper dm;
    private Path a;
    private Path b;

    @BeforeEach
    void setUp() throws Exception {
        dm = DeviceMapper.create();
        a = TestFiles.sparse(dir, "a.img", 1 << 20);
        b = TestFiles.sparse(dir, "b.img", 1 << 20);
    }

    @AfterEach
    void tearDown() {
        dm.close();
    }

    @Test
    void tableAndStatusReadBackAsTheKernelPrintsThem() throws Exception {
        dm.create("s", null, "0 1024 striped 2 256 " + a + " 0 " + b + " 64", false);
        assertEquals(List.of("0 1024 striped 2 256 " + a + " 0 " + b + " 64"), table(dm, "s"));
        assertEquals(List.of("0 1024 striped 2 " + a + " " + b + " 1 AA"), status(dm, "s"));
        assertEquals(List.of(a.toString(), b.toString()), dm.deps("s", false));
    }

    @Test
    void chunkSizeNeedNotBeAPowerOfTwo() throws Exception {
        dm.create("s", null, "0 1080 striped 3 24 " + a + " 0 " + b + " 0 " + a + " 1000", false);
        assertEquals(List.of("0 1080 striped 3 24 " + a + " 0 " + b + " 0 " + a + " 1000"), table(dm, "s"));
        assertEquals(List.of("0 1080 striped 3 " + a + " " + b + " " + a + " 1 AAA"), status(dm, "s"));
    }

    /** dm-stripe reads the count and chunk with kstrtouint (a '+' passes) and the offsets with sscanf "%llu%c" (it does not). */
    @Test
    void numbersFollowTheKernelsRulePerArgument() throws Exception {
        dm.create("s", null, "0 1024 striped +2 +256 " + a + " 0 " + b + " 64", false);
        assertEquals(List.of("0 1024 striped 2 256 " + a + " 0 " + b + " 64"), table(dm, "s"));
        DmException e = assertThrows(DmException.class,
                () -> dm.create("t", null, "0 1024 striped 2 256 " + a + " +0 " + b + " 64", false));
        assertEquals("table line 1: striped: argument 4 (\"+0\"): invalid device sector of stripe 0", e.getMessage());
        e = assertThrows(DmException.class, () -> dm.create("t", null, "0 1024 striped 2 4294967296 " + a + " 0 " + b + " 0", false));
        assertEquals("table line 1: striped: argument 2 (\"4294967296\"): invalid chunk size", e.getMessage());
    }

    @Test
    void stripeOnAFailingDeviceTurnsDAndRaisesEventsWhileBelowFifteenErrors() throws Exception {
        dm.create("bad", null, "0 1024 error", false);
        dm.create("s", null, "0 1024 striped 2 8 " + a + " 0 /dev/mapper/bad 0", false);
        MappedDevice md = dm.device("s");
        assertEquals(List.of("0 1024 striped 2 " + a + " 253:0 1 AA"), status(dm, "s"));
        md.write(0, bytes(4096), false); // chunk 0: stripe 0, the file
        assertEquals(0, dm.info("s").eventNumber());

        assertIoError(Errno.EIO, () -> md.write(4096, bytes(4096), false)); // chunk 1: stripe 1, the error device
        assertEquals(List.of("0 1024 striped 2 " + a + " 253:0 1 AD"), status(dm, "s"));
        assertEquals(1, dm.info("s").eventNumber());
        assertEquals(1, dm.waitEvent("s", 0, 0).eventNumber());

        for (int i = 0; i < 19; i++) {
            assertIoError(Errno.EIO, () -> md.read(4096, bytes(512)));
        }
        // Errors 1 to 14 raise an event each (kernel: counter incremented, then compared with < 15).
        assertEquals(14, dm.info("s").eventNumber());
        assertEquals(List.of("0 1024 striped 2 " + a + " 253:0 1 AD"), status(dm, "s"));
    }

    @Test
    void errorOnTheLaterChunkOfAnIoBlamesTheRightStripe() throws Exception {
        dm.create("bad", null, "0 1024 error", false);
        dm.create("s", null, "0 1024 striped 2 8 /dev/mapper/bad 0 " + a + " 0", false);
        // Starts on stripe 1 (the file), fails on stripe 0 (the error device) in its second chunk.
        assertIoError(Errno.EIO, () -> dm.device("s").write(4096, bytes(8192), false));
        assertEquals(List.of("0 1024 striped 2 253:0 " + a + " 1 DA"), status(dm, "s"));
    }

    @Test
    void aDeviceUsedByTwoStripesMarksBoth() throws Exception {
        dm.create("bad", null, "0 1024 error", false);
        dm.create("s", null, "0 1536 striped 3 8 /dev/mapper/bad 0 " + a + " 0 /dev/mapper/bad 512", false);
        assertIoError(Errno.EIO, () -> dm.device("s").read(0, ByteBuffer.allocate(512)));
        assertEquals(List.of("0 1536 striped 3 253:0 " + a + " 253:0 1 DAD"), status(dm, "s"));
        assertEquals(1, dm.info("s").eventNumber());
    }
}
