package dev.jdm.core.engine;

import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.spi.BackingProvider;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A provider's device is opened once per name and shared by tables and readers, like files. */
class RemoteDevicesTest {
    private final List<Remote> opened = new ArrayList<>();
    private final DeviceMapper dm = TestTargets.engine();

    /** {@code test://NAME}: a 1 MiB device of zeroes that records its opening and closing. */
    private final class Remote implements BlockDevice {
        final String spec;
        final boolean readOnly;
        boolean closed;

        Remote(String spec, boolean readOnly) {
            this.spec = spec;
            this.readOnly = readOnly;
        }

        @Override
        public String id() {
            return spec;
        }

        @Override
        public long size() {
            return 1 << 20;
        }

        @Override
        public boolean isReadOnly() {
            return readOnly;
        }

        @Override
        public void read(long offset, ByteBuffer dst) {
            dst.position(dst.limit());
        }

        @Override
        public void write(long offset, ByteBuffer src, boolean fua) {
            src.position(src.limit());
        }

        @Override
        public void flush() {
        }

        @Override
        public void discard(long offset, long length) {
        }

        @Override
        public void writeZeroes(long offset, long length, boolean mayUnmap) {
        }

        @Override
        public void close() {
            closed = true;
        }
    }

    RemoteDevicesTest() {
        dm.addBackingProvider(new BackingProvider() {
            @Override
            public boolean accepts(String spec) {
                return spec.startsWith("test://");
            }

            @Override
            public BlockDevice open(String spec, boolean readOnly) {
                Remote r = new Remote(spec, readOnly);
                opened.add(r);
                return r;
            }
        });
    }

    @AfterEach
    void close() {
        dm.close();
    }

    @Test
    void tablesAReloadAndAReaderShareOneOpenUntilTheLastLetsGo() throws Exception {
        dm.create("a", null, "0 8 remap test://x 0", false);
        dm.create("b", null, "0 8 remap test://x 8", false);
        dm.load("a", "0 16 remap test://x 0", false);
        dm.resume("a");
        try (DeviceMapper.OpenedDevice reader = dm.openDevice("test://x")) {
            assertEquals(1, opened.size());
            assertSame(opened.getFirst(), reader.device());
        }
        dm.remove("a", false, false);
        assertFalse(opened.getFirst().closed);
        dm.remove("b", false, false);
        assertTrue(opened.getFirst().closed);
        dm.create("c", null, "0 8 remap test://x 0", false);
        assertEquals(2, opened.size());
    }

    @Test
    void aWriterFindingOnlyAReadOnlyOpenGetsItsOwn() throws Exception {
        DeviceMapper.OpenedDevice reader = dm.openDevice("test://y");
        dm.create("w", null, "0 8 remap test://y 0", false);
        assertEquals(2, opened.size());
        assertFalse(opened.get(1).readOnly);
        dm.remove("w", false, false);
        assertTrue(opened.get(1).closed);
        assertFalse(opened.get(0).closed);
        reader.close();
        assertTrue(opened.get(0).closed);
    }
}
