package dev.jdm.targets;

import dev.jdm.core.DmException;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class SmokeTest {
    @TempDir
    Path dir;

    @Test
    void linearAndStripedRoundTrip() throws Exception {
        Path a = dir.resolve("a.img"), b = dir.resolve("b.img");
        for (Path p : new Path[]{a, b}) {
            try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
                f.setLength(1 << 20);
            }
        }
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("s", null, "0 2048 striped 2 8 " + a + " 0 " + b + " 0\n2048 10 zero", false);
            MappedDevice md = dm.device("s");
            assertEquals((2048 + 10) * 512L, md.size());
            ByteBuffer w = ByteBuffer.allocate(8192);
            for (int i = 0; i < w.capacity(); i++) w.put((byte) i);
            w.flip();
            md.write(4096 - 512, w, false);
            ByteBuffer r = ByteBuffer.allocate(8192);
            md.read(4096 - 512, r);
            assertArrayEquals(w.array(), r.array());
            assertEquals("0 2048 striped 2 8 " + a + " 0 " + b + " 0", dm.table("s", false).get(0).format());
            assertEquals("0 2048 striped 2 " + a + " " + b + " 1 AA", dm.status("s", false).get(0).format());
            DmException e = assertThrows(DmException.class, () -> dm.load("s", "0 10 linear " + a + " x", false));
            assertEquals("table line 1: linear: argument 2 (\"x\"): invalid device sector", e.getMessage());
        }
    }
}
