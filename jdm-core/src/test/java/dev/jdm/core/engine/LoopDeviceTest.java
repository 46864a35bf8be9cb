package dev.jdm.core.engine;

import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.testing.ExternalTools;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Tables on a real block device: a loop device attached to a file. Size comes from BLKGETSIZE64, the
 * table prints {@code 7:N}, and the O_EXCL claim refuses other openers with EBUSY while tables of the
 * same engine share the device. Needs root and losetup (util-linux); python3 plays the other process.
 */
class LoopDeviceTest {
    private static final long SIZE = 8L << 20;

    @TempDir
    Path dir;
    private Path file;
    private String loop;
    private int minor;
    private DeviceMapper dm;

    private static String run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + " failed: " + out);
        }
        return out;
    }

    @BeforeEach
    void attach() throws Exception {
        ExternalTools.require(ExternalTools.isRoot(), "attaching a loop device needs root");
        String losetup = ExternalTools.requireTool("losetup", "util-linux");
        ExternalTools.require(Files.exists(Path.of("/dev/loop-control")), "/dev/loop-control is missing (no loop driver)");
        file = dir.resolve("loop-backing.img");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(SIZE);
        }
        loop = run(losetup, "--find", "--show", file.toString());
        minor = Integer.parseInt(loop.substring("/dev/loop".length()));
        dm = TestTargets.engine();
    }

    @AfterEach
    void detach() throws Exception {
        if (dm != null) {
            dm.close();
        }
        if (loop != null) {
            run(ExternalTools.find("losetup"), "-d", loop);
        }
    }

    @Test
    void tableOnTheLoopDeviceTakesItsSizeFromTheIoctlAndPrintsMajorMinor() throws Exception {
        dm.create("onpath", null, "0 " + SIZE / 512 + " remap " + loop + " 0", false);
        dm.create("onnumber", null, "0 2048 remap 7:" + minor + " 4096", false);
        assertEquals(List.of("0 16384 remap 7:" + minor + " 0"), dm.table("onpath", false).stream().map(TargetLine::format).toList());
        assertEquals(List.of("0 2048 remap 7:" + minor + " 4096"), dm.table("onnumber", false).stream().map(TargetLine::format).toList());
        assertEquals(List.of("7:" + minor), dm.deps("onnumber", false));
        assertEquals(1, dm.openBackingDevices(), "both tables share one open of the loop device");

        DmException tooBig = assertThrows(DmException.class, () -> dm.load("onpath", "0 16385 remap " + loop + " 0", false));
        assertEquals("table line 1: remap: argument 1 (\"" + loop + "\"): device too small for target: it has 16384 sectors, "
                + "the target needs sectors 0 to 16385", tooBig.getMessage());

        byte[] content = new byte[64 * 1024];
        new SplittableRandom(1).nextBytes(content);
        dm.device("onnumber").write(512, ByteBuffer.wrap(content), false);
        dm.device("onnumber").flush();
        byte[] inFile = Files.readAllBytes(file);
        assertArrayEquals(content, Arrays.copyOfRange(inFile, 4096 * 512 + 512, 4096 * 512 + 512 + content.length));
    }

    @Test
    void anotherEngineCannotClaimTheDeviceWhileThisOneHoldsIt() throws Exception {
        dm.create("held", null, "0 2048 remap " + loop + " 0", false);
        try (DeviceMapper other = TestTargets.engine()) {
            DmException e = assertThrows(DmException.class, () -> other.create("second", null, "0 2048 remap " + loop + " 0", false));
            assertEquals(Errno.EBUSY, e.errno());
            assertEquals("table line 1: remap: argument 1 (\"" + loop + "\"): cannot open " + loop + ": Device or resource busy", e.getMessage());
            assertEquals(List.of(), other.list());
        }
        String python = ExternalTools.requireTool("python3", "python3");
        String result = run(python, "-c", "import os,sys\ntry:\n  os.open(sys.argv[1], os.O_RDONLY | os.O_EXCL)\n  print('opened')\n"
                + "except OSError as e:\n  print(e.errno)", loop);
        assertEquals(String.valueOf(Errno.EBUSY.number), result);
    }

    @Test
    void aDeviceClaimedByAnotherProcessIsRefusedWithEbusy() throws Exception {
        String python = ExternalTools.requireTool("python3", "python3");
        Process holder = new ProcessBuilder(python, "-c",
                "import os,sys\nfd = os.open(sys.argv[1], os.O_RDONLY | os.O_EXCL)\nprint('held', flush=True)\nsys.stdin.read()", loop)
                .redirectErrorStream(true).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8));
            assertEquals("held", out.readLine());
            DmException e = assertThrows(DmException.class, () -> dm.create("d", null, "0 2048 remap 7:" + minor + " 0", false));
            assertEquals(Errno.EBUSY, e.errno());
            assertEquals("table line 1: remap: argument 1 (\"7:" + minor + "\"): cannot open " + loop + ": Device or resource busy",
                    e.getMessage());
            assertEquals(0, dm.openBackingDevices());
        } finally {
            holder.getOutputStream().close();
            assertTrue(holder.waitFor(10, TimeUnit.SECONDS));
        }
        dm.create("d", null, "0 2048 remap 7:" + minor + " 0", false);
        assertEquals("LIVE", dm.info("d").tablesPresent());
    }
}
