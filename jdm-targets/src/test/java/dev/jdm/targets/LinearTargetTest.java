package dev.jdm.targets;

import dev.jdm.core.Errno;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.core.testing.TestFiles;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;

import static dev.jdm.core.testing.TestPattern.pattern;
import static dev.jdm.targets.TargetTestSupport.assertIoError;
import static dev.jdm.targets.TargetTestSupport.bytes;
import static dev.jdm.targets.TargetTestSupport.status;
import static dev.jdm.targets.TargetTestSupport.table;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LinearTargetTest {
    @TempDir
    Path dir;
    private DeviceMapper dm;
    private Path file;

    @BeforeEach
    void setUp() throws Exception {
        dm = DeviceMapper.create();
        file = TestFiles.sparse(dir, "disk.img", 1 << 20);
    }

    @AfterEach
    void tearDown() {
        dm.close();
    }

    @Test
    void tableAndStatusReadBackAsTheKernelPrintsThem() throws Exception {
        dm.create("lin", null, "0 100 linear " + file + " 16\n100 28 linear " + dir + "/./disk.img 1000", false);
        assertEquals(List.of("0 100 linear " + file + " 16", "100 28 linear " + file + " 1000"), table(dm, "lin"));
        assertEquals(List.of("0 100 linear ", "100 28 linear "), status(dm, "lin"));
        assertEquals(List.of(file.toString()), dm.deps("lin", false));
        assertEquals(128 * 512, dm.device("lin").size());
        assertEquals("LIVE", dm.info("lin").tablesPresent());
        assertEquals(2, dm.info("lin").targetCount());
    }

    @Test
    void ioCrossingTwoLinesLandsInBothPlaces() throws Exception {
        dm.create("lin", null, "0 100 linear " + file + " 16\n100 28 linear " + file + " 1000", false);
        MappedDevice md = dm.device("lin");
        byte[] content = pattern(2048, 1);
        md.write(100 * 512 - 1024, ByteBuffer.wrap(content), false);
        md.flush();
        byte[] onDisk = Files.readAllBytes(file);
        assertArrayEquals(Arrays.copyOfRange(content, 0, 1024), Arrays.copyOfRange(onDisk, (16 + 98) * 512, (16 + 100) * 512));
        assertArrayEquals(Arrays.copyOfRange(content, 1024, 2048), Arrays.copyOfRange(onDisk, 1000 * 512, 1002 * 512));
    }

    @Test
    void readOnlyTableRefusesEveryWriteWithErofsAndStillReads() throws Exception {
        Files.write(file, pattern(4096, 2), StandardOpenOption.WRITE);
        dm.create("ro", null, "0 2048 linear " + file + " 0", true);
        MappedDevice md = dm.device("ro");
        assertTrue(md.isReadOnly());
        assertEquals("ACTIVE (READ-ONLY)", dm.info("ro").state());
        assertIoError(Errno.EROFS, () -> md.write(0, bytes(512), false));
        assertIoError(Errno.EROFS, () -> md.discard(0, 4096));
        assertIoError(Errno.EROFS, () -> md.writeZeroes(0, 4096, true));
        ByteBuffer back = bytes(4096);
        md.read(0, back);
        assertArrayEquals(pattern(4096, 2), back.array());
    }

    @Test
    void reloadSwapsOnlyOnResume() throws Exception {
        dm.create("lin", null, "0 100 linear " + file + " 0", false);
        dm.load("lin", "0 200 linear " + file + " 8", false);
        assertEquals("LIVE & INACTIVE", dm.info("lin").tablesPresent());
        assertEquals(List.of("0 100 linear " + file + " 0"), table(dm, "lin"));
        assertEquals(List.of("0 200 linear " + file + " 8"), dm.table("lin", true).stream().map(l -> l.format()).toList());
        dm.resume("lin");
        assertEquals(List.of("0 200 linear " + file + " 8"), table(dm, "lin"));
        assertEquals(200 * 512, dm.device("lin").size());
        assertEquals(0, dm.info("lin").eventNumber(), "load and resume raise no event");
    }

    @Test
    void escapedSpacesInPathsAreKept() throws Exception {
        Path spaced = TestFiles.sparse(dir, "my disk.img", 1 << 20);
        dm.create("sp", null, "0 8 linear " + spaced.toString().replace(" ", "\\ ") + " 0", false);
        assertEquals(List.of(spaced.toString()), dm.deps("sp", false));
    }
}
