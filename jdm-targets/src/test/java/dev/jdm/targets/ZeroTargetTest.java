package dev.jdm.targets;

import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.core.io.ExtentSink;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import static dev.jdm.core.testing.TestPattern.pattern;
import static dev.jdm.targets.TargetTestSupport.status;
import static dev.jdm.targets.TargetTestSupport.table;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class ZeroTargetTest {
    private DeviceMapper dm;
    private MappedDevice md;

    @BeforeEach
    void setUp() throws Exception {
        dm = DeviceMapper.create();
        dm.create("z", null, "0 21474836480 zero", false);
        md = dm.device("z");
    }

    @AfterEach
    void tearDown() {
        dm.close();
    }

    @Test
    void tableAndStatusAreEmpty() throws Exception {
        assertEquals(List.of("0 21474836480 zero "), table(dm, "z"));
        assertEquals(List.of("0 21474836480 zero "), status(dm, "z"));
        assertEquals(List.of(), dm.deps("z", false));
        assertEquals(10L << 40, md.size());
    }

    @Test
    void writesAreDroppedAndReadsReturnZeroes() throws Exception {
        ByteBuffer src = ByteBuffer.wrap(pattern(200_000, 1));
        md.write(12345, src, true);
        assertEquals(200_000, src.position());
        md.discard(0, 1 << 20);
        md.writeZeroes(0, 1 << 20, false);
        md.flush();
        ByteBuffer dst = ByteBuffer.wrap(pattern(200_000, 2));
        md.read(12345, dst);
        assertArrayEquals(new byte[200_000], dst.array());
        ByteBuffer tail = ByteBuffer.allocateDirect(100);
        md.read(md.size() - 100, tail);
        assertEquals(100, tail.position());
    }

    @Test
    void allocationIsOneHoleThatReadsAsZeroes() throws Exception {
        List<long[]> extents = new ArrayList<>();
        md.allocation(4096, 1L << 40, (length, flags) -> extents.add(new long[]{length, flags}));
        assertEquals(1, extents.size());
        assertEquals(1L << 40, extents.getFirst()[0]);
        assertEquals(ExtentSink.HOLE | ExtentSink.ZERO, extents.getFirst()[1]);
    }
}
