package dev.jdm.cli;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** One real daemon process: its NBD exports (Unix socket and TCP) and attach/detach, driven by the real tools. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DaemonExportsIT {
    Path dir;
    JdmSession s;
    int tcpPort;

    @BeforeAll
    void startDaemon(@TempDir Path dir) throws Exception {
        this.dir = dir;
        try (ServerSocket probe = new ServerSocket(0)) {
            tcpPort = probe.getLocalPort();
        }
        s = new JdmSession(dir, "--nbd-port", Integer.toString(tcpPort));
    }

    @AfterAll
    void stopDaemon() throws Exception {
        s.close();
    }

    private String unixUri(String export) {
        return s.nbdUri(export);
    }

    private Path image(String name, long bytes) throws IOException {
        return s.image(name, bytes);
    }

    private static byte[] pattern(int bytes, long seed) {
        byte[] b = new byte[bytes];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void defaultDeviceIsExportedOnTheUnixSocketAndTcp() throws Exception {
        Tools.require("nbdinfo", "libnbd-bin");
        assertEquals("1073741824\n", s.ok("nbdinfo", "--size", unixUri("disk0")));
        assertEquals("1073741824\n", s.ok("nbdinfo", "--size", "nbd://127.0.0.1:" + tcpPort + "/disk0"));
        assertTrue(s.daemonLog().contains("jdm daemon: NBD on " + s.data.resolve("nbd.sock").toAbsolutePath()
                + " and /127.0.0.1:" + tcpPort + "\n"), s.daemonLog());
    }

    @Test
    void nbdcopyInAndOutThroughTheDaemon() throws Exception {
        Tools.require("nbdcopy", "libnbd-bin");
        Path backing = image("copy.img", 4 << 20);
        // Two targets, so the copy crosses a target boundary.
        s.ok("jdm", "create", "copy", "--table", "0 4096 linear " + backing + " 4096\n4096 4096 linear " + backing + " 0");
        byte[] data = pattern(4 << 20, 1);
        Path in = dir.resolve("in.bin");
        Files.write(in, data);
        s.ok("nbdcopy", in.toString(), unixUri("copy"));
        Path out = dir.resolve("out.bin");
        s.ok("nbdcopy", unixUri("copy"), out.toString());
        assertArrayEquals(data, Files.readAllBytes(out));
        byte[] onDisk = Files.readAllBytes(backing);
        assertArrayEquals(Arrays.copyOfRange(data, 0, 2 << 20), Arrays.copyOfRange(onDisk, 2 << 20, 4 << 20));
        assertArrayEquals(Arrays.copyOfRange(data, 2 << 20, 4 << 20), Arrays.copyOfRange(onDisk, 0, 2 << 20));
        s.ok("jdm", "remove", "copy");
    }

    @Test
    void attachWriteDetach() throws Exception {
        Tools.requireAttach();
        Path backing = image("att.img", 1 << 20);
        s.ok("jdm", "create", "att", "--table", "0 2048 linear " + backing + " 0");

        String device = s.ok("jdm", "attach", "att").strip();
        assertTrue(device.matches("/dev/(loop|nbd)\\d+"), device);
        assertEquals("att\t" + device + "\n", s.ok("jdm", "attachments"));
        assertTrue(s.ok("jdm", "ls", "--json").contains("\"attachedAs\" : \"" + device + "\""));
        assertEquals(new JdmSession.Result(1, "", "jdm: attach att failed: device att is already attached as " + device + "\n"),
                s.jdm("attach", "att"));

        byte[] data = pattern(64 << 10, 2);
        Path in = dir.resolve("att-in.bin");
        Files.write(in, data);
        s.ok("dd", "if=" + in, "of=" + device, "bs=64k", "seek=3", "oflag=direct", "status=none");
        assertArrayEquals(data, Arrays.copyOfRange(Files.readAllBytes(backing), 3 * (64 << 10), 4 * (64 << 10)));

        assertEquals(new JdmSession.Result(1, "", "jdm: remove att failed: device att is attached: detach it first (or remove --force)\n"),
                s.jdm("remove", "att"));
        s.ok("jdm", "detach", "att");
        assertEquals("", s.ok("jdm", "attachments"));
        assertEquals(new JdmSession.Result(1, "", "jdm: detach att failed: device att is not attached\n"), s.jdm("detach", "att"));
        assertFalse(loopBackedFrom(device, dir), "the loop device is gone");

        // remove --force detaches first.
        String again = s.ok("jdm", "attach", "att").strip();
        s.ok("jdm", "remove", "--force", "att");
        assertEquals("", s.ok("jdm", "attachments"));
        assertFalse(loopBackedFrom(again, dir), "the loop device is gone");
    }

    /**
     * Whether the loop device is attached to a file under {@code folder}: once detached, its number may at once
     * go to a loop device another test attaches, so the number alone says nothing. losetup reads the backing
     * file's whole path from sysfs (the list of {@code losetup -a} cuts it at 64 bytes).
     */
    private boolean loopBackedFrom(String device, Path folder) throws Exception {
        JdmSession.Result r = s.exec(null, List.of("losetup", "--noheadings", "--output", "BACK-FILE", device));
        return r.exit() == 0 && r.out().strip().startsWith(folder.toString());
    }

    @Test
    void aDaemonKilledWithAttachmentsHasThemDetachedByTheNext() throws Exception {
        Tools.requireAttach();
        Path other = Files.createDirectories(dir.resolve("killed"));
        String device;
        try (JdmSession first = new JdmSession(other, "--no-nbd-tcp")) {
            device = first.ok("jdm", "attach", "disk0").strip();
            assertEquals(137, first.kill());
        }
        assertTrue(loopBackedFrom(device, other), "kill -9 leaves the loop device");
        try (JdmSession second = new JdmSession(other, "--no-nbd-tcp")) {
            assertTrue(second.daemonLog().contains("jdm daemon: detached disk0, left attached by an earlier daemon\n"), second.daemonLog());
            assertFalse(loopBackedFrom(device, other), "the next daemon detached it");
            assertEquals("", second.ok("jdm", "attachments"));
        }
    }

    @Test
    void luksFormatOpenWriteCloseAgainstCryptsetup() throws Exception {
        Tools.require("cryptsetup", "cryptsetup-bin");
        Tools.require("nbdcopy", "libnbd-bin");
        Path vol = image("vol.img", 32 << 20);
        Path key = dir.resolve("key");
        Files.writeString(key, "first secret");
        String volume = vol.toString();
        s.ok("jdm", "luks", "format", "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000", "--uuid",
                "0b8e7d3c-1f2a-4b5c-8d9e-0a1b2c3d4e5f", "-d", key.toString(), volume);
        assertEquals(s.ok("cryptsetup", "luksDump", volume), s.ok("jdm", "luks", "dump", volume));
        assertTrue(s.ok("jdm", "luks", "dump", "--dump-json-metadata", volume).contains("\"type\":\"pbkdf2\""));

        s.ok("jdm", "luks", "open", "-d", key.toString(), volume, "secret");
        try (var stateFiles = Files.list(s.data.resolve("state"))) {
            for (Path f : stateFiles.toList()) {
                assertTrue(!Files.readString(f).contains(" crypt "), "the volume key stays out of the state folder: " + f);
            }
        }
        assertEquals("CRYPT-LUKS2-0b8e7d3c1f2a4b5c8d9e0a1b2c3d4e5f-secret\n", s.ok("jdm", "info", "-c", "--noheadings", "-o", "uuid", "secret"));
        // The table line as cryptsetup builds it; KeyHiding prints the key as zeroes.
        assertEquals("0 32768 crypt aes-xts-plain64 " + "0".repeat(128) + " 0 " + vol + " 32768 1 sector_size:4096\n",
                s.ok("jdm", "table", "secret"));
        byte[] data = pattern(1 << 20, 3);
        Path in = dir.resolve("plain.bin");
        Files.write(in, data);
        s.ok("nbdcopy", in.toString(), unixUri("secret"));
        s.ok("jdm", "luks", "close", "secret");
        byte[] onDisk = Arrays.copyOfRange(Files.readAllBytes(vol), 16 << 20, (16 << 20) + (1 << 20));
        assertTrue(!Arrays.equals(data, onDisk), "the data area holds ciphertext");

        // Passphrases piped on standard input: the first line, then the new one.
        assertEquals(new JdmSession.Result(0, "Key slot 1 created.\n", ""),
                s.jdmWithInput("first secret\nsecond secret\n", "luks", "add-key", "--pbkdf-force-iterations", "1000", "--pbkdf", "pbkdf2", volume));
        assertEquals(new JdmSession.Result(0, "", ""),
                s.exec("second secret\n", List.of("cryptsetup", "open", "--test-passphrase", "--key-slot", "1", volume)));
        assertEquals(new JdmSession.Result(0, "Key slot 0 changed.\n", ""),
                s.jdmWithInput("first secret\nthird secret\n", "luks", "change-key", "--pbkdf-force-iterations", "1000", "--pbkdf", "pbkdf2", volume));
        assertEquals(new JdmSession.Result(1, "", "jdm: No key available with this passphrase.\n"),
                s.jdmWithInput("first secret\n", "luks", "test-passphrase", volume));
        assertEquals(new JdmSession.Result(0, "Key slot 0 unlocked.\n", ""), s.jdmWithInput("third secret\n", "luks", "test-passphrase", volume));
        assertEquals(new JdmSession.Result(0, "Key slot 1 removed.\n", ""), s.jdmWithInput("second secret\n", "luks", "remove-key", volume));
        assertEquals(s.ok("cryptsetup", "luksDump", volume), s.ok("jdm", "luks", "dump", volume));

        // The same volume opened again reads back what went in.
        s.jdmWithInput("third secret\n", "luks", "open", volume, "secret");
        Path out = dir.resolve("plain-out.bin");
        s.ok("nbdcopy", unixUri("secret") , out.toString());
        assertArrayEquals(data, Arrays.copyOf(Files.readAllBytes(out), 1 << 20));
        s.ok("jdm", "luks", "close", "secret");
    }

    @Test
    void verityFormatLikeVeritysetupOpenReadVerify() throws Exception {
        Tools.require("veritysetup", "cryptsetup-bin");
        Tools.require("nbdcopy", "libnbd-bin");
        Path data = dir.resolve("vdata.img");
        Files.write(data, pattern(1 << 20, 4));
        String[] layout = {"--salt", "00ff11", "--uuid", "33b3dfc6-5aff-4984-9416-fbe71f3a937b"};
        String ours = s.ok(concat(List.of("jdm", "verity", "format"), layout, data.toString(), dir.resolve("vhash.img").toString()));
        String theirs = s.ok(concat(List.of("veritysetup", "format"), layout, data.toString(), dir.resolve("vhash2.img").toString()));
        assertEquals(theirs.replace("vhash2.img", "vhash.img"), ours);
        assertArrayEquals(Files.readAllBytes(dir.resolve("vhash2.img")), Files.readAllBytes(dir.resolve("vhash.img")));
        String root = ours.lines().filter(l -> l.startsWith("Root hash:")).findFirst().orElseThrow().split("\t")[1];
        assertEquals(new JdmSession.Result(0, "", ""), s.jdm("verity", "verify", data.toString(), dir.resolve("vhash.img").toString(), root));
        assertTrue(s.ok("jdm", "verity", "dump", "--json", dir.resolve("vhash.img").toString()).contains("\"Salt\" : \"00ff11\""));

        s.ok("jdm", "verity", "open", data.toString(), "ver", dir.resolve("vhash.img").toString(), root);
        assertEquals("0 2048 verity 1 " + data + " " + dir.resolve("vhash.img") + " 4096 4096 256 1 sha256 " + root + " 00ff11\n",
                s.ok("jdm", "table", "ver"));
        Path out = dir.resolve("vout.bin");
        s.ok("nbdcopy", unixUri("ver"), out.toString());
        assertArrayEquals(Files.readAllBytes(data), Files.readAllBytes(out));
        s.ok("jdm", "verity", "close", "ver");
        assertEquals(new JdmSession.Result(1, "", "jdm: verity close ver failed: device ver does not exist\n"),
                s.jdm("verity", "close", "ver"));

        try (RandomAccessFile f = new RandomAccessFile(data.toFile(), "rw")) {
            f.seek(100_000);
            f.write('X');
        }
        assertEquals(new JdmSession.Result(1, "", "jdm: Verification failed at position 98304.\n"),
                s.jdm("verity", "verify", data.toString(), dir.resolve("vhash.img").toString(), root));
    }

    @Test
    void integrityFormatDumpOpenWrite() throws Exception {
        Tools.require("integritysetup", "cryptsetup-bin");
        Tools.require("nbdcopy", "libnbd-bin");
        Path dev = image("idev.img", 16 << 20);
        assertEquals("Formatted with tag size of the digest, provided data sectors 32328.\n", s.ok("jdm", "integrity", "format", dev.toString()));
        // integritysetup ends the flags line with a space.
        assertEquals(s.ok("integritysetup", "dump", dev.toString()).replace("fix_hmac \n", "fix_hmac\n"), s.ok("jdm", "integrity", "dump", dev.toString()));
        assertTrue(s.ok("jdm", "integrity", "dump", "--json", dev.toString()).contains("\"provided_data_sectors\" : \"32328\""));
        s.ok("jdm", "integrity", "open", dev.toString(), "integ");
        assertEquals("0 32328 integrity 0 32328 -\n", s.ok("jdm", "status", "integ"));
        byte[] data = pattern(1 << 20, 5);
        Path in = dir.resolve("iin.bin");
        Files.write(in, data);
        s.ok("nbdcopy", in.toString(), unixUri("integ"));
        s.ok("jdm", "integrity", "close", "integ");
        s.ok("jdm", "integrity", "open", dev.toString(), "integ");
        Path out = dir.resolve("iout.bin");
        s.ok("nbdcopy", unixUri("integ"), out.toString());
        assertArrayEquals(data, Arrays.copyOf(Files.readAllBytes(out), 1 << 20));
        s.ok("jdm", "integrity", "close", "integ");
    }

    @Test
    void integrityWithAnEncryptedJournal() throws Exception {
        Tools.require("nbdcopy", "libnbd-bin");
        Path dev = image("icdev.img", 16 << 20);
        String cipher = "ctr(aes):" + "0f1e2d3c4b5a69788796a5b4c3d2e1f0".repeat(2);
        s.ok("jdm", "integrity", "format", "--journal-crypt", cipher, dev.toString());
        s.ok("jdm", "integrity", "open", "--journal-crypt", cipher, dev.toString(), "integ");
        assertTrue(s.ok("jdm", "table", "--showkeys", "integ").endsWith(" journal_crypt:" + cipher + "\n"), s.ok("jdm", "table", "--showkeys", "integ"));
        byte[] data = pattern(1 << 20, 6);
        Path in = dir.resolve("icin.bin");
        Files.write(in, data);
        s.ok("nbdcopy", in.toString(), unixUri("integ"));
        s.ok("jdm", "integrity", "close", "integ");
        assertEquals(new JdmSession.Result(1, "", "jdm: integrity close integ failed: device integ does not exist\n"),
                s.jdm("integrity", "close", "integ"));
        s.ok("jdm", "integrity", "open", "--journal-crypt", cipher, dev.toString(), "integ");
        Path out = dir.resolve("icout.bin");
        s.ok("nbdcopy", unixUri("integ"), out.toString());
        assertArrayEquals(data, Arrays.copyOf(Files.readAllBytes(out), 1 << 20));
        s.ok("jdm", "integrity", "close", "integ");
    }

    @Test
    void logWritesRecordedByTheDaemonListedFoundAndReplayed() throws Exception {
        Tools.require("nbdcopy", "libnbd-bin");
        Path data = image("ld.img", 1 << 20);
        Path log = image("ll.img", 4 << 20);
        Path replayed = image("lr.img", 1 << 20);
        s.ok("jdm", "create", "lw", "--table", "0 2048 log-writes " + data + " " + log);
        Path in = dir.resolve("lw-in.bin");
        Files.write(in, pattern(256 << 10, 6));
        // One connection, one request at a time, 64 KiB each: four writes in order, then a flush.
        s.ok("nbdcopy", "--flush", "-C", "1", "-R", "1", "--request-size=65536", in.toString(), unixUri("lw"));
        // As dmsetup sends them: the words joined, then split as the kernel splits (a backslash keeps a space).
        s.ok("jdm", "message", "lw", "0", "mark done");
        s.ok("jdm", "message", "lw", "0", "mark", "two\\ words");
        s.ok("jdm", "remove", "lw");

        assertEquals("""
                Log version=1, sectorsize=512, entries=8
                0@2: sector 0, size 65536, flags 0x0(NONE)
                1@131: sector 128, size 65536, flags 0x0(NONE)
                2@260: sector 256, size 65536, flags 0x0(NONE)
                3@389: sector 384, size 65536, flags 0x0(NONE)
                4@518: sector 0, size 0, flags 0x1(FLUSH)
                5@519: sector 0, size 0, flags 0x8(MARK) mark "done"
                6@520: sector 0, size 0, flags 0x8(MARK) mark "two words"
                7@521: sector 0, size 0, flags 0x8(MARK) mark "dm-log-writes-end"
                """, s.ok("jdm", "log-writes", "list", log.toString()));
        assertEquals("8\n", s.ok("jdm", "log-writes", "list", "--num-entries", log.toString()));
        assertTrue(s.ok("jdm", "log-writes", "list", "--json", log.toString()).contains("\"mark\" : \"done\""));
        assertEquals("5@519\n", s.ok("jdm", "log-writes", "find", "--end-mark", "done", log.toString()));
        assertEquals("4@518\n", s.ok("jdm", "log-writes", "find", "--next-flush", log.toString()));

        assertEquals("replaying 0@2: sector 0, size 65536, flags 0x0(NONE)\nreplaying 1@131: sector 128, size 65536, flags 0x0(NONE)\n",
                s.ok("jdm", "log-writes", "replay", "-v", "--limit", "2", log.toString(), replayed.toString()));
        assertArrayEquals(Arrays.copyOf(Files.readAllBytes(in), 128 << 10), Arrays.copyOf(Files.readAllBytes(replayed), 128 << 10));
        s.ok("jdm", "log-writes", "replay", "--end-mark", "done", log.toString(), replayed.toString());
        assertArrayEquals(Files.readAllBytes(data), Files.readAllBytes(replayed));
    }

    @Test
    void crashTestPassesTheBuiltInExt4WorkloadAndReportsAFailingCheck() throws Exception {
        Tools.requireAttach();
        for (String tool : List.of("mkfs.ext4", "e2fsck", "debugfs")) {
            Tools.require(tool, "e2fsprogs");
        }
        JdmSession.Result passed = s.jdm("crash-test", "--work-dir", dir.resolve("crash").toString(), "--size", "32M",
                "--ext4-files", "2", "--seed", "3");
        assertEquals(0, passed.exit(), passed.toString());
        assertTrue(passed.out().matches("\\d+ log entries, \\d+ flush points, (\\d+) of \\1 checked: all consistent\n"), passed.out());

        // A check that fails at every point: the first point fails and the harness stops there.
        JdmSession.Result failed = s.jdm("crash-test", "--work-dir", dir.resolve("crash2").toString(), "--size", "16M",
                "--run", "mkfs.ext4 -q -F {}", "--no-fsck", "--check", "test $(stat -c %s $0) -ne 16777216");
        assertEquals(1, failed.exit(), failed.toString());
        assertTrue(failed.out().matches("(?s)\\d+ log entries, \\d+ flush points, 1 of \\d+ checked: 1 failed\n"
                + "FAILED at entry 0 \\(before any mark\\): sh: sh -c test .* exited 1:\n.*"), failed.out());
        // A workload that fails: the harness cannot run (exit 2).
        assertEquals(new JdmSession.Result(2, "", "jdm: crash-test failed: sh -c exit 3 failed (exit 3): \n"),
                s.jdm("crash-test", "--work-dir", dir.resolve("crash3").toString(), "--size", "16M", "--run", "exit 3"));
    }

    private static String[] concat(List<String> head, String[] middle, String... tail) {
        List<String> all = new java.util.ArrayList<>(head);
        all.addAll(List.of(middle));
        all.addAll(List.of(tail));
        return all.toArray(String[]::new);
    }
}
