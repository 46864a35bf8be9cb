package dev.jdm.nbd;

import dev.jdm.core.testing.ExternalTools;
import dev.jdm.core.testing.TestFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * End to end through the kernel: a striped device attached as a block device (nbdfuse + loop here),
 * an ext4 file system made, filled, checked with e2fsck, detached, the engine restarted with the
 * same table, attached again and the files read back.
 */
@Timeout(300)
class AttachTest {
    static final long SIZE = 64L << 20;

    @TempDir
    Path dir;

    @Test
    void ext4OnAStripedDeviceSurvivesDetachAndAnEngineRestart() throws Exception {
        ExternalTools.require(ExternalTools.isRoot(), "attaching needs root (loop devices, FUSE mounts)");
        ExternalTools.require(Files.exists(Path.of("/dev/fuse")), "/dev/fuse is missing (FUSE not available)");
        ExternalTools.require(Files.exists(Path.of("/dev/loop-control")), "/dev/loop-control is missing (no loop devices)");
        for (String[] tool : new String[][]{{"nbdfuse", "nbdfuse"}, {"fusermount3", "fuse3"}, {"losetup", "mount"},
                {"mkfs.ext4", "e2fsprogs"}, {"e2fsck", "e2fsprogs"}, {"mount", "mount"}, {"umount", "mount"}}) {
            ExternalTools.requireTool(tool[0], tool[1]);
        }
        Path a = TestFiles.sparse(dir, "a.img", SIZE / 2);
        Path b = TestFiles.sparse(dir, "b.img", SIZE / 2);
        String table = "0 " + SIZE / 512 + " striped 2 128 " + a + " 0 " + b + " 0";
        Path work = dir.resolve("attach");
        Path mnt = Files.createDirectories(dir.resolve("mnt"));
        Map<String, byte[]> files = new LinkedHashMap<>();
        SplittableRandom random = new SplittableRandom(7);
        for (int i = 0; i < 5; i++) {
            byte[] content = new byte[1 + random.nextInt(3 << 20)];
            random.nextBytes(content);
            files.put("file" + i + ".bin", content);
        }

        try (Served served = new Served(dir)) {
            served.dm.create("fs", null, table, false);
            Attach.Attachment at = Attach.attach("fs", served.socket, work);
            assertEquals(Attach.Method.NBDFUSE_LOOP, at.method());
            assertTrue(at.device().toString().startsWith("/dev/loop"), at.device().toString());
            assertEquals(at, Attach.find("fs", work).orElseThrow());
            try {
                assertEquals(Long.toString(SIZE), Tool.run("blockdev", "util-linux", "--getsize64", at.device().toString()).ok().out().strip());
                Tool.run("mkfs.ext4", "e2fsprogs", "-q", "-F", at.device().toString()).ok();
                Tool.run("mount", "mount", at.device().toString(), mnt.toString()).ok();
                try {
                    for (var f : files.entrySet()) {
                        Files.write(mnt.resolve(f.getKey()), f.getValue());
                    }
                } finally {
                    Tool.run("umount", "mount", mnt.toString()).ok();
                }
                Tool fsck = Tool.run("e2fsck", "e2fsprogs", "-fn", at.device().toString());
                assertEquals(0, fsck.exit(), fsck.out() + fsck.err());
            } finally {
                assertTrue(Attach.detach("fs", work));
            }
            assertFalse(Attach.find("fs", work).isPresent());
            // Nothing of the attachment is left: state, mount point, nbdfuse's pid file and log.
            try (Stream<Path> left = Files.list(work)) {
                assertEquals(List.of(), left.toList());
            }
            // The server notices the closed socket on its own thread: give it a moment.
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
            while (served.dm.device("fs").openCount() != 0 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertEquals(0, served.dm.device("fs").openCount(), "detach closed the NBD connections");
        }

        // A new engine and server with the same table see the same file system.
        try (Served again = new Served(dir)) {
            again.dm.create("fs", null, table, false);
            Attach.Attachment at = Attach.attach("fs", again.socket, work);
            try {
                Tool.run("mount", "mount", "-o", "ro", at.device().toString(), mnt.toString()).ok();
                try {
                    for (var f : files.entrySet()) {
                        assertArrayEquals(f.getValue(), Files.readAllBytes(mnt.resolve(f.getKey())), f.getKey());
                    }
                } finally {
                    Tool.run("umount", "mount", mnt.toString()).ok();
                }
            } finally {
                Attach.detach(at, work);
            }
        }
    }

    @Test
    void aFailedAttachKeepsNbdfusesLogForItsErrorAndNothingElse() throws Exception {
        ExternalTools.require(ExternalTools.isRoot(), "attaching needs root (loop devices, FUSE mounts)");
        ExternalTools.require(Files.exists(Path.of("/dev/fuse")), "/dev/fuse is missing (FUSE not available)");
        ExternalTools.requireTool("nbdfuse", "nbdfuse");
        ExternalTools.require(!Files.isDirectory(Path.of("/sys/module/nbd")), "the kernel's nbd module is loaded: attach would use nbd-client");
        Path work = dir.resolve("attach");
        // Nobody listens on this socket: nbdfuse cannot connect and exits.
        IOException e = assertThrows(IOException.class, () -> Attach.attach("gone", dir.resolve("absent.sock"), work));
        Path log = work.resolve("gone.nbdfuse.log");
        String said = Files.readString(log).strip();
        assertFalse(said.isEmpty());
        assertEquals("nbdfuse did not mount nbd+unix:///gone?socket=" + URLEncoder.encode(dir.resolve("absent.sock").toString(), StandardCharsets.UTF_8)
                + ": " + said, e.getMessage());
        try (Stream<Path> left = Files.list(work)) {
            assertEquals(List.of(log), left.toList());
        }
    }
}
