package dev.jdm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code jdm snapshot} against a real daemon: every step checked with plain {@code jdm table} and
 * {@code status} as the kernel prints them, the data read back over NBD.
 */
class SnapshotCommandIT {
    /** The origin: 8 MiB. */
    static final int ORIGIN_BYTES = 8 << 20;
    static final String HEADER = "Snapshot         Origin           Store Chunk       Allocated/Total  Use% State\n";

    @TempDir
    Path dir;
    JdmSession s;
    Path vol;
    Path disk0;
    byte[] old;

    @BeforeEach
    void startDaemonWithAnOrigin() throws Exception {
        Tools.require("qemu-io", "qemu-utils");
        Tools.require("nbdcopy", "libnbd-bin");
        s = new JdmSession(dir, "--no-nbd-tcp");
        disk0 = s.data.resolve("disk0.img");
        vol = dir.resolve("vol.img");
        old = new byte[ORIGIN_BYTES];
        new Random(14).nextBytes(old);
        Files.write(vol, old);
        s.ok("jdm", "create", "vol", "--table", "0 16384 linear " + vol + " 0");
    }

    @AfterEach
    void stopDaemon() throws Exception {
        if (s != null) {
            s.kill();
        }
    }

    private String table() throws Exception {
        return s.ok("jdm", "table");
    }

    private String volTable() {
        return "vol: 0 16384 linear " + vol + " 0\n";
    }

    private String disk0Table() {
        return "disk0: 0 2097152 linear " + disk0 + " 0\n";
    }

    /** Writes {@code length} bytes of {@code value} at {@code offset} of an export. */
    private void write(String export, int offset, int length, int value) throws Exception {
        s.ok("qemu-io", "-f", "raw", "-c", "write -q -P " + value + " " + offset + " " + length, s.nbdUri(export));
    }

    private byte[] read(String export) throws Exception {
        Path out = dir.resolve(export + ".read");
        Files.deleteIfExists(out);
        s.ok("nbdcopy", s.nbdUri(export), out.toString());
        return Files.readAllBytes(out);
    }

    private byte[] oldWith(int offset, int length, int value) {
        byte[] b = old.clone();
        Arrays.fill(b, offset, offset + length, (byte) value);
        return b;
    }

    private void fails(String expectedErr, String... args) throws Exception {
        assertEquals(new JdmSession.Result(1, "", expectedErr), s.jdm(args), "jdm " + String.join(" ", args));
    }

    @Test
    void createShowsEveryLayerThenRemovePutsTheOriginBack() throws Exception {
        Path cow = s.image("cow.img", 4 << 20);
        assertEquals("", s.ok("jdm", "snapshot", "create", "vol", "s1", "--cow", cow.toString()));
        assertEquals(disk0Table()
                + "s1: 0 16384 snapshot 253:2 253:3 P 8\n"
                + "s1-cow: 0 8192 linear " + cow + " 0\n"
                + "vol: 0 16384 snapshot-origin 253:2\n"
                + "vol-real: 0 16384 linear " + vol + " 0\n", table());
        // The kernel's usage: header and first area allocated (2 chunks of 8 sectors), metadata the same.
        assertEquals("0 16384 snapshot 16/8192 16\n", s.ok("jdm", "status", "s1"));
        assertEquals("0 16384 snapshot-origin \n", s.ok("jdm", "status", "vol"));

        write("vol", 0, 8192, 0xab);
        assertEquals("0 16384 snapshot 32/8192 16\n", s.ok("jdm", "status", "s1"), "two chunks copied");
        assertArrayEquals(old, read("s1"), "the snapshot shows the origin as it was");
        assertArrayEquals(oldWith(0, 8192, 0xab), read("vol"));
        assertEquals(HEADER + "s1               vol              P         8               32/8192   0.4 active\n",
                s.ok("jdm", "snapshot", "list"));
        JsonNode json = new ObjectMapper().readTree(s.ok("jdm", "snapshot", "list", "--json"));
        assertEquals(new ObjectMapper().readTree("""
                [{"name":"s1","origin":"vol","cow":"s1-cow","store":"P","chunkSectors":8,"state":"active",
                  "allocatedSectors":32,"totalSectors":8192,"metadataSectors":16}]"""), json);

        assertEquals("", s.ok("jdm", "snapshot", "remove", "s1"));
        assertEquals(disk0Table() + volTable(), table());
        assertArrayEquals(oldWith(0, 8192, 0xab), read("vol"));
        assertArrayEquals(oldWith(0, 8192, 0xab), Files.readAllBytes(vol), "every origin write is on the origin's file");
        assertEquals(HEADER, s.ok("jdm", "snapshot", "list"));

        // The COW used again: create zeroes its header, as lvcreate does, so the old exceptions are not taken up.
        s.ok("jdm", "snapshot", "create", "vol", "s1", "--cow", cow.toString());
        assertEquals("0 16384 snapshot 16/8192 16\n", s.ok("jdm", "status", "s1"));
        assertArrayEquals(oldWith(0, 8192, 0xab), read("s1"));
        s.ok("jdm", "snapshot", "remove", "s1");
    }

    @Test
    void aFailureAtEachStepOfCreateLeavesTheOriginAsItWas() throws Exception {
        String before = table();
        Path cow = s.image("cow.img", 4 << 20);
        Path missing = dir.resolve("missing.img");
        Files.createDirectories(dir.resolve("adir"));
        Path tiny = s.image("tiny.img", 4096);
        // Refused before anything changes.
        fails("jdm: snapshot create s1 failed: no device nosuch\n", "snapshot", "create", "nosuch", "s1", "--cow", cow.toString());
        fails("jdm: snapshot create disk0 failed: device disk0 already exists\n", "snapshot", "create", "vol", "disk0", "--cow", cow.toString());
        fails("jdm: snapshot create s1 failed: cannot use " + missing + " as the COW: no such file or device\n",
                "snapshot", "create", "vol", "s1", "--cow", missing.toString());
        fails("jdm: snapshot create s1 failed: cannot use " + dir.resolve("adir") + " as the COW: it is neither a regular file nor a block device\n",
                "snapshot", "create", "vol", "s1", "--cow", dir.resolve("adir").toString());
        // Refused by the daemon midway (after vol-real, s1-cow and s1 were made), at the snapshot's table;
        // SnapshotsTest fails every other step.
        fails("jdm: snapshot create s1 failed: load s1: table line 1: snapshot: Couldn't create exception store: argument 4 (\"12\"): Chunk size is not a power of 2\n",
                "snapshot", "create", "vol", "s1", "--cow", cow.toString(), "--chunk-size", "12");
        fails("jdm: snapshot create s1 failed: load s1: table line 1: snapshot: Failed to read snapshot metadata: "
                        + "snapshot COW device too small: 8 sectors, a store of 8-sector chunks needs at least 24 (header, one metadata area, one data chunk)\n",
                "snapshot", "create", "vol", "s1", "--cow", tiny.toString());
        assertEquals(before, table(), "everything made was removed again");
        assertTrue(s.ok("jdm", "info", "vol").contains("State:             ACTIVE\n"), "vol is not left suspended");
        assertArrayEquals(new byte[4096], Files.readAllBytes(tiny), "a refused COW stays as it was");
        write("vol", 4096, 4096, 0x5a);
        assertArrayEquals(oldWith(4096, 4096, 0x5a), read("vol"), "vol still serves its data and takes writes");

        // A transient snapshot cannot be merged: refused with nothing changed.
        s.ok("jdm", "snapshot", "create", "vol", "t1", "--cow", cow.toString(), "--transient");
        String withT1 = table();
        fails("jdm: snapshot create t2 failed: " + cow + " is in use by device t1-cow\n", "snapshot", "create", "vol", "t2", "--cow", cow.toString());
        // The same file under another name is the same COW.
        Path alias = Files.createSymbolicLink(cow.resolveSibling("alias.img"), cow);
        fails("jdm: snapshot create t2 failed: " + alias + " is in use by device t1-cow\n", "snapshot", "create", "vol", "t2", "--cow", alias.toString());
        assertTrue(withT1.contains("t1: 0 16384 snapshot 253:2 253:3 N 8\n"), withT1);
        fails("jdm: snapshot merge t1 failed: t1 has a transient COW (N): only a persistent snapshot can be merged\n",
                "snapshot", "merge", "t1");
        fails("jdm: snapshot remove nosuch failed: no snapshot nosuch\n", "snapshot", "remove", "nosuch");
        assertEquals(withT1, table());
    }

    @Test
    void mergeDrawsAProgressBarAndPutsTheOldDataBack() throws Exception {
        Tools.require("script", "bsdutils");
        Path cow = s.image("cow.img", 4 << 20);
        s.ok("jdm", "snapshot", "create", "vol", "s1", "--cow", cow.toString());
        write("vol", 65536, 262144, 0xcd);
        assertEquals("0 16384 snapshot 528/8192 16\n", s.ok("jdm", "status", "s1"), "64 chunks copied");

        // script gives the command a terminal, where the progress bar draws.
        String launcher = JdmSession.LAUNCHER + " snapshot merge s1";
        String tty = s.ok("script", "-qec", launcher, "/dev/null");
        assertTrue(tty.matches("(?s).*\rMerging s1 into vol \\[#{30}] 100% \\d+ s\u001b\\[K\r?\n$"), tty);
        assertEquals(disk0Table() + volTable(), table());
        assertArrayEquals(old, read("vol"), "the origin is back at the snapshot's data");
        assertArrayEquals(old, Files.readAllBytes(vol));
        fails("jdm: snapshot merge s1 failed: no snapshot s1\n", "snapshot", "merge", "s1");
    }

    @Test
    void aMergeStartedWithNoWaitIsFinishedAfterKillDashNine() throws Exception {
        Path cow1 = s.image("cow1.img", 4 << 20);
        Path cow2 = s.image("cow2.img", 4 << 20);
        s.ok("jdm", "snapshot", "create", "vol", "s1", "--cow", cow1.toString());
        write("vol", 0, 131072, 0x11);
        s.ok("jdm", "snapshot", "create", "vol", "s2", "--cow", cow2.toString(), "--chunk-size", "16");
        byte[] atS2 = oldWith(0, 131072, 0x11);
        write("vol", 65536, 131072, 0x22);
        assertEquals(disk0Table()
                + "s1: 0 16384 snapshot 253:2 253:3 P 8\n"
                + "s1-cow: 0 8192 linear " + cow1 + " 0\n"
                + "s2: 0 16384 snapshot 253:2 253:5 P 16\n"
                + "s2-cow: 0 8192 linear " + cow2 + " 0\n"
                + "vol: 0 16384 snapshot-origin 253:2\n"
                + "vol-real: 0 16384 linear " + vol + " 0\n", table());

        assertEquals("", s.ok("jdm", "snapshot", "merge", "--no-wait", "s1"));
        assertEquals("0 16384 snapshot-merge 253:2 253:3 P 8\n", s.ok("jdm", "table", "vol"));
        JsonNode list = new ObjectMapper().readTree(s.ok("jdm", "snapshot", "list", "--json"));
        assertEquals(List.of("s1 vol s1-cow merging", "s2 vol s2-cow active"),
                List.of(summary(list.get(0)), summary(list.get(1))));

        assertEquals(137, s.kill());
        s = new JdmSession(dir, "--no-nbd-tcp");
        assertEquals("", s.ok("jdm", "snapshot", "merge", "s1"));
        assertEquals(disk0Table()
                + "s2: 0 16384 snapshot 253:2 253:5 P 16\n"
                + "s2-cow: 0 8192 linear " + cow2 + " 0\n"
                + "vol: 0 16384 snapshot-origin 253:2\n"
                + "vol-real: 0 16384 linear " + vol + " 0\n", table());
        assertArrayEquals(old, read("vol"), "merged: the origin as s1 saw it");
        assertArrayEquals(atS2, read("s2"), "the merge's writes to the origin were copied to s2 first");

        assertEquals("", s.ok("jdm", "snapshot", "remove", "s2"));
        assertEquals(disk0Table() + volTable(), table());
        assertArrayEquals(old, Files.readAllBytes(vol));
    }

    @Test
    void ext4SnapshotTakenLiveMountsReadOnlyCleanWithTheOldFilesAndMergesBack() throws Exception {
        Tools.requireAttach();
        for (String tool : List.of("mkfs.ext4", "e2fsck")) {
            Tools.require(tool, "e2fsprogs");
        }
        Tools.require("fsfreeze", "util-linux");
        Path fs = s.image("fs.img", 64 << 20);
        Path cow = s.image("fs-cow.img", 32 << 20);
        s.ok("jdm", "create", "fs", "--table", "0 131072 linear " + fs + " 0");
        Path mnt = Files.createDirectories(dir.resolve("mnt"));
        Path snapMnt = Files.createDirectories(dir.resolve("snap-mnt"));
        Map<String, byte[]> files = new TreeMap<>();
        Random random = new Random(4);
        for (int i = 0; i < 24; i++) {
            byte[] b = new byte[(i + 1) * 20_000];
            random.nextBytes(b);
            files.put("f" + i, b);
        }

        String origin = s.ok("jdm", "attach", "fs").strip();
        s.ok("mkfs.ext4", "-q", "-F", origin);
        s.ok("mount", origin, mnt.toString());
        try {
            for (var f : files.entrySet()) {
                Files.write(mnt.resolve(f.getKey()), f.getValue());
            }
            // As LVM users do: the filesystem frozen (consistent, journal flushed) while the snapshot is taken.
            s.ok("sync");
            s.ok("fsfreeze", "-f", mnt.toString());
            try {
                s.ok("jdm", "snapshot", "create", "fs", "snap", "--cow", cow.toString());
            } finally {
                s.ok("fsfreeze", "-u", mnt.toString());
            }
            for (int i = 0; i < 24; i += 2) {
                Files.write(mnt.resolve("f" + i), new byte[30_000]);
            }
            Files.delete(mnt.resolve("f1"));
            Files.write(mnt.resolve("new"), new byte[1 << 20]);
            s.ok("sync");

            String snapshot = s.ok("jdm", "attach", "snap").strip();
            assertClean(snapshot);
            assertOldFiles(snapshot, snapMnt, files);
            s.ok("jdm", "detach", "snap");
        } finally {
            s.exec(null, List.of("umount", mnt.toString()));
        }
        s.ok("jdm", "detach", "fs");

        assertEquals("", s.ok("jdm", "snapshot", "merge", "snap"));
        assertEquals("0 131072 linear " + fs + " 0\n", s.ok("jdm", "table", "fs"));
        String merged = s.ok("jdm", "attach", "fs").strip();
        assertClean(merged);
        assertOldFiles(merged, snapMnt, files);
        s.ok("jdm", "detach", "fs");
    }

    private void assertClean(String device) throws Exception {
        JdmSession.Result fsck = s.exec(null, List.of("e2fsck", "-fn", device));
        assertEquals(0, fsck.exit(), fsck.out() + fsck.err());
    }

    /** Mounts read-only and compares every file with what was written before the snapshot. */
    private void assertOldFiles(String device, Path mountPoint, Map<String, byte[]> files) throws Exception {
        s.ok("mount", "-o", "ro,noload", device, mountPoint.toString());
        try (var listing = Files.list(mountPoint)) {
            assertEquals(new TreeSet<>(files.keySet()), listing.map(p -> p.getFileName().toString())
                    .filter(n -> !n.equals("lost+found")).collect(Collectors.toCollection(TreeSet::new)));
            for (var f : files.entrySet()) {
                assertArrayEquals(f.getValue(), Files.readAllBytes(mountPoint.resolve(f.getKey())), f.getKey());
            }
        } finally {
            s.ok("umount", mountPoint.toString());
        }
    }

    private static String summary(JsonNode snapshot) {
        return snapshot.path("name").asText() + " " + snapshot.path("origin").asText() + " " + snapshot.path("cow").asText()
                + " " + snapshot.path("state").asText();
    }
}
