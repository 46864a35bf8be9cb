package dev.jdm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The real {@code ./jdm} command (the shaded jar through the launcher script) against a real daemon
 * process, output compared byte for byte with what dmsetup prints.
 */
class JdmCommandIT {
    @TempDir
    Path dir;
    Path data;
    Path socket;
    JdmSession session;

    @BeforeEach
    void startDaemon() throws Exception {
        session = startSession();
        data = session.data;
        socket = session.socket;
    }

    @AfterEach
    void stopDaemon() throws Exception {
        if (session != null) {
            session.kill();
        }
    }

    private JdmSession startSession() throws Exception {
        // No NBD TCP listener: port 10809 may be taken by another daemon on this machine.
        return new JdmSession(dir, "--no-nbd-tcp");
    }

    private JdmSession.Result run(String... args) throws IOException, InterruptedException {
        return session.jdm(args);
    }

    private JdmSession.Result runWithInput(String stdin, String... args) throws IOException, InterruptedException {
        return session.jdmWithInput(stdin, args);
    }

    private String ok(String... args) throws Exception {
        JdmSession.Result r = run(args);
        assertEquals(new JdmSession.Result(0, r.out(), ""), r, "jdm " + String.join(" ", args));
        return r.out();
    }

    private void fails(String expectedErr, String... args) throws Exception {
        assertEquals(new JdmSession.Result(1, "", expectedErr), run(args), "jdm " + String.join(" ", args));
    }

    private Path image(String name, long bytes) throws IOException {
        Path p = dir.resolve(name);
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(bytes);
        }
        return p;
    }

    @Test
    void dmsetupCommandsThenKillDashNineAndRestore() throws Exception {
        Path disk0 = data.resolve("disk0.img");
        Path base = image("base.img", 1 << 20);
        Files.writeString(dir.resolve("z.table"), "0 16 zero\n");

        // The first start made the built-in default.
        assertEquals("disk0\t(253:0)\n", ok("ls"));
        assertEquals(1L << 30, Files.size(disk0));

        // create: --table, standard input, a table file.
        assertEquals("", ok("create", "base", "-u", "BASE-UUID", "--table", "0 2048 linear " + base + " 0"));
        JdmSession.Result fromStdin = runWithInput("0 1024 linear /dev/mapper/base 1024\n1024 8 zero\n", "create", "top");
        assertEquals(new JdmSession.Result(0, "", ""), fromStdin);
        assertEquals("", ok("create", "z", "z.table"));

        assertEquals("base: 0 2048 linear " + base + " 0\n"
                + "disk0: 0 2097152 linear " + disk0 + " 0\n"
                + "top: 0 1024 linear 253:1 1024\n"
                + "top: 1024 8 zero \n"
                + "z: 0 16 zero \n", ok("table"));
        assertEquals("0 1024 linear \n1024 8 zero \n", ok("status", "top"));
        assertEquals("base,BASE-UUID,1,rw,0 2048 linear " + base + " 0;disk0,,0,rw,0 2097152 linear " + disk0 + " 0;"
                + "top,,2,rw,0 1024 linear 253:1 1024,1024 8 zero ;z,,3,rw,0 16 zero \n", ok("table", "--concise"));
        assertEquals("top,,2,rw,1024 8 zero ;z,,3,rw,0 16 zero \n", ok("table", "--concise", "--target", "zero"));
        assertEquals("1024 8 zero \n", ok("table", "top", "--target", "zero"));
        assertEquals("0 2048 linear " + base + " 0\n", ok("table", "-u", "BASE-UUID"));
        assertEquals("0 16 zero \n", ok("table", "-j", "253", "-m", "3"));

        assertEquals("""
                Name:              base
                State:             ACTIVE
                Read Ahead:        256
                Tables present:    LIVE
                Open count:        1
                Event number:      0
                Major, minor:      253, 1
                Number of targets: 1
                UUID: BASE-UUID

                """, ok("info", "base"));
        assertEquals("Name             Maj Min Stat Open Targ Event  UUID                            \n"
                + "base             253   1 L--w    1    1      0 BASE-UUID                       \n"
                + "disk0            253   0 L--w    0    1      0                                 \n"
                + "top              253   2 L--w    0    2      0                                 \n"
                + "z                253   3 L--w    0    1      0                                 \n", ok("info", "-c"));
        assertEquals("top:L--w:253:1\n", ok("info", "-c", "-o", "name,attr,devnos_used", "--noheadings", "top"));
        assertEquals("Name|#Devs\nbase|1\n", ok("info", "-c", "-o", "name,device_count", "--separator", "|", "base"));

        assertEquals("disk0 (253:0)\n"
                + " `- (" + disk0 + ")\n"
                + "top (253:2)\n"
                + " `-base (253:1)\n"
                + "    `- (" + base + ")\n"
                + "z (253:3)\n", ok("ls", "--tree"));
        assertEquals("top\t(253, 2)\nz\t(253, 3)\n", ok("ls", "--target", "zero"));
        assertEquals("1 dependencies\t: (253, 1)\n", ok("deps", "top"));
        assertEquals("1 dependencies\t: (base)\n", ok("deps", "-o", "devname", "top"));
        assertEquals("1 dependencies\t: (" + base + ")\n", ok("deps", "base"));

        // load, then resume swaps it in; suspend shows in the Stat column.
        assertEquals("", ok("load", "z", "--table", "0 32 error"));
        assertEquals("z:LI-w\n", ok("info", "-c", "-o", "name,attr", "--noheadings", "z"));
        assertEquals("0 32 error \n", ok("table", "--inactive", "z"));
        assertEquals("", ok("suspend", "z"));
        assertEquals("z:LIsw\n", ok("info", "-c", "-o", "name,attr", "--noheadings", "z"));
        assertEquals("", ok("resume", "z"));
        assertEquals("0 32 error \n", ok("table", "z"));
        assertEquals("", ok("clear", "z"));

        // message: no target here takes one, and the core's own needs a deferred remove.
        fails("jdm: message base failed: device base is not marked for deferred remove\n", "message", "base", "0", "@cancel_deferred_remove");
        fails("jdm: message base failed: target does not accept messages\n", "message", "base", "0", "hello");

        // rename, uuid, remove.
        assertEquals("", ok("rename", "z", "zz"));
        assertEquals("", ok("rename", "zz", "--setuuid", "ZZ-UUID"));
        fails("jdm: rename zz failed: device zz already has uuid ZZ-UUID; a uuid cannot be changed\n", "rename", "zz", "--setuuid", "X");
        fails("jdm: remove base failed: device base is still open (open count 1: table of top)\n", "remove", "base");
        assertEquals("", ok("remove", "--deferred", "base"));
        assertEquals("State:             ACTIVE (DEFERRED REMOVE)\n", ok("info", "base").lines().filter(l -> l.startsWith("State:")).findFirst().orElseThrow() + "\n");
        assertEquals("", ok("message", "base", "0", "@cancel_deferred_remove"));
        assertEquals("", ok("remove", "disk0"));
        fails("jdm: info disk0 failed: device disk0 does not exist\n", "info", "disk0");

        // Names udev would not take are mangled, as dmsetup does by default.
        assertEquals("", ok("create", "a b", "--table", "0 8 zero"));
        assertEquals("", ok("--manglename", "none", "create", "c d", "--table", "0 8 zero"));
        assertEquals("a\\x20b\t(253:0)\nbase\t(253:1)\nc d\t(253:4)\ntop\t(253:2)\nzz\t(253:3)\n", ok("ls"));
        assertEquals("c d: renaming to c\\x20d\n", ok("mangle", "c d"));
        assertEquals("", ok("remove", "a b", "c\\x20d"));

        // --json for scripts.
        JsonNode info = new ObjectMapper().readTree(ok("info", "base", "--json"));
        assertEquals("base BASE-UUID 253 1 1 LIVE", info.path("name").asText() + " " + info.path("uuid").asText() + " "
                + info.path("major").asInt() + " " + info.path("minor").asInt() + " " + info.path("openCount").asInt() + " "
                + info.path("tablesPresent").asText());
        assertEquals("[{\"start\":0,\"length\":1024,\"type\":\"linear\",\"params\":\"253:1 1024\"},"
                        + "{\"start\":1024,\"length\":8,\"type\":\"zero\",\"params\":\"\"}]",
                new ObjectMapper().readTree(ok("table", "top", "--json")).toString());

        // top stays suspended over the crash.
        assertEquals("", ok("suspend", "top"));
        String infoBefore = ok("info", "-c", "-o", "name,uuid,major,minor,attr,segments");
        String tableBefore = ok("table");
        assertEquals("Name             UUID                             Maj Min Stat Targ\n"
                + "base             BASE-UUID                        253   1 L--w    1\n"
                + "top" + " ".repeat(14 + 33) + "253   2 L-sw    2\n"
                + "zz               ZZ-UUID                          253   3 L--w    1\n", infoBefore);

        assertEquals(137, session.kill());
        assertTrue(Files.exists(socket), "kill -9 leaves the socket file behind");
        fails("jdm: ls failed: no jdm daemon at " + socket + ": start one with `jdm daemon`\n", "ls");
        assertEquals(new JdmSession.Result(1, "Library version:   jdm 0.1.0-SNAPSHOT\n",
                "jdm: version failed: no jdm daemon at " + socket + ": start one with `jdm daemon`\n"), run("version"));

        session = startSession();
        assertEquals(infoBefore, ok("info", "-c", "-o", "name,uuid,major,minor,attr,segments"));
        assertEquals(tableBefore, ok("table"));
        assertEquals("", ok("resume", "top"));

        // SIGTERM: a clean stop that keeps the state and removes the socket.
        session.stop();
        assertFalse(Files.exists(socket));
        assertEquals(List.of("dm-1.json", "dm-2.json", "dm-3.json"), Files.list(data.resolve("state")).map(p -> p.getFileName().toString()).sorted().toList());
    }

    @Test
    void versionTargetsUsageAndHelp() throws Exception {
        assertEquals("Library version:   jdm 0.1.0-SNAPSHOT\nDriver version:    4.48.0 (jdm 0.1.0-SNAPSHOT daemon)\n", ok("version"));
        String targets = ok("targets");
        assertTrue(targets.contains("\nerror            v1.7.0\n") && targets.contains("\nlinear           v1.4.0\n"), targets);
        JdmSession.Result usage = run("create");
        assertEquals(2, usage.exit());
        assertTrue(usage.err().startsWith("Missing required parameter: 'NAME'\nUsage: jdm create"), usage.err());
        JdmSession.Result noDevice = run("suspend");
        assertEquals(2, noDevice.exit());
        assertTrue(noDevice.err().startsWith("Name a device: NAME, -u UUID, or -j MAJOR -m MINOR\nUsage: jdm suspend"), noDevice.err());
        JdmSession.Result help = run("info", "--help");
        assertEquals(0, help.exit());
        assertTrue(help.out().startsWith("Usage: jdm info"), help.out());
        fails("jdm: info nosuch failed: device nosuch does not exist\n", "info", "nosuch");
        fails("jdm: info failed: Unrecognised field: bogus\n", "info", "-c", "-o", "bogus");
    }
}
