package dev.jdm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Instant;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * {@code jdm multipath} against a real daemon whose path checker runs every second: two paths (mapped devices over
 * one file), one broken with an {@code error} table, the output checked line by line and as JSON.
 */
class MultipathCommandIT {
    @TempDir
    Path dir;
    JdmSession s;

    @BeforeEach
    void startDaemonWithAMultipathDevice() throws Exception {
        s = new JdmSession(dir, "--no-nbd-tcp", "--path-check-interval", "1", "--path-check-timeout", "2", "--failback", "immediate");
        Path lun = s.image("lun.img", 1 << 20);
        s.ok("jdm", "create", "p1", "--table", "0 2048 linear " + lun + " 0");
        s.ok("jdm", "create", "p2", "--table", "0 2048 linear " + lun + " 0");
        s.ok("jdm", "create", "mpatha", "-u", "mpath-lun0", "--table", "0 2048 multipath 1 queue_if_no_path 0 2 1"
                + " service-time 0 1 2 /dev/mapper/p1 1 1 round-robin 0 1 1 /dev/mapper/p2 1");
    }

    @AfterEach
    void stopDaemon() throws Exception {
        if (s != null) {
            s.kill();
        }
    }

    /** The topology once it satisfies {@code until}, polled as a script would. */
    private JsonNode awaitTopology(String what, Predicate<JsonNode> until) throws Exception {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (true) {
            JsonNode maps = new ObjectMapper().readTree(s.ok("jdm", "multipath", "--json"));
            if (until.test(maps)) {
                return maps;
            }
            if (System.nanoTime() > deadline) {
                fail(what + " did not happen: " + maps.toPrettyString() + "\n" + s.daemonLog());
            }
            Thread.sleep(200);
        }
    }

    private static JsonNode path(JsonNode maps, int group) {
        return maps.get(0).path("groups").get(group - 1).path("paths").get(0);
    }

    @Test
    void printsTheTopologyAsMultipathDoesAndFollowsTheChecker() throws Exception {
        awaitTopology("the first checks", m -> path(m, 1).path("checker").asText().equals("ready")
                && path(m, 2).path("checker").asText().equals("ready"));
        assertEquals("""
                mpatha (mpath-lun0) dm-3 jdm,multipath
                size=1.0M features='1 queue_if_no_path' hwhandler='0' wp=rw
                |-+- policy='service-time 0' prio=2 status=enabled
                | `- /dev/mapper/p1 active ready running
                `-+- policy='round-robin 0' prio=1 status=enabled
                  `- /dev/mapper/p2 active ready running
                """, s.ok("jdm", "multipath"));

        s.ok("jdm", "load", "p1", "--table", "0 2048 error");
        s.ok("jdm", "suspend", "p1");
        s.ok("jdm", "resume", "p1");
        JsonNode maps = awaitTopology("fail_path of p1", m -> path(m, 1).path("dmState").asText().equals("failed"));
        assertEquals("""
                mpatha (mpath-lun0) dm-3 jdm,multipath
                size=1.0M features='1 queue_if_no_path' hwhandler='0' wp=rw
                |-+- policy='service-time 0' prio=2 status=enabled
                | `- /dev/mapper/p1 failed faulty running
                `-+- policy='round-robin 0' prio=1 status=enabled
                  `- /dev/mapper/p2 active ready  running
                """, s.ok("jdm", "multipath", "mpatha"), "columns as wide as their widest value");

        JsonNode map = maps.get(0);
        assertEquals("mpatha", map.path("name").asText());
        assertEquals("mpath-lun0", map.path("uuid").asText());
        assertEquals(3, map.path("minor").asInt());
        assertEquals(2048, map.path("sizeSectors").asLong());
        assertEquals(false, map.path("readOnly").asBoolean());
        assertEquals(false, map.path("suspended").asBoolean());
        assertEquals("1 queue_if_no_path", map.path("features").asText());
        assertEquals("0", map.path("hwHandler").asText());
        assertEquals(1, map.path("groupNumber").asInt());
        JsonNode group = map.path("groups").get(0);
        assertEquals(1, group.path("number").asInt());
        assertEquals("service-time", group.path("selector").asText());
        assertEquals("service-time 0", group.path("policy").asText());
        assertEquals(2, group.path("prio").asInt());
        assertEquals("enabled", group.path("status").asText());
        JsonNode p1 = path(maps, 1);
        assertEquals("253:1", p1.path("dev").asText());
        assertEquals("/dev/mapper/p1", p1.path("device").asText());
        assertEquals("failed", p1.path("dmState").asText());
        assertEquals(1, p1.path("failCount").asInt());
        assertEquals("faulty", p1.path("checker").asText());
        assertEquals("running", p1.path("online").asText());
        assertTrue(Instant.parse(p1.path("checkerSince").asText()).isBefore(Instant.now()));
        assertTrue(s.daemonLog().contains("jdm daemon: mpatha: fail_path 253:1\n"), s.daemonLog());

        s.ok("jdm", "load", "p1", "--table", "0 2048 linear " + dir.resolve("lun.img") + " 0");
        s.ok("jdm", "suspend", "p1");
        s.ok("jdm", "resume", "p1");
        maps = awaitTopology("reinstate_path of p1", m -> path(m, 1).path("dmState").asText().equals("active"));
        assertEquals("ready", path(maps, 1).path("checker").asText());
        assertEquals(1, path(maps, 1).path("failCount").asInt());
    }

    @Test
    void namesThatAreNoMultipathDeviceFail() throws Exception {
        assertEquals(new JdmSession.Result(1, "", "jdm: multipath p1 failed: device p1 is not a multipath device\n"),
                s.jdm("multipath", "p1"));
        assertEquals(new JdmSession.Result(1, "", "jdm: multipath nosuch failed: device nosuch does not exist\n"),
                s.jdm("multipath", "nosuch"));
        s.ok("jdm", "remove", "mpatha");
        assertEquals("", s.ok("jdm", "multipath"));
        assertEquals("[ ]\n", s.ok("jdm", "multipath", "--json"));
    }

    @Test
    void badCheckerOptionsAreRefusedBeforeTheDaemonStarts() throws Exception {
        refused("--failback", "soon", "--failback must be immediate, manual, followover or a number of seconds, not \"soon\"");
        refused("--path-check-interval", "0", "--path-check-interval must be 1 or more, not 0");
        refused("--path-check-timeout", "0", "--path-check-timeout must be 1 or more, not 0");
        refused("--no-path-timeout", "-1", "--no-path-timeout must be 0 or more, not -1");
    }

    private void refused(String option, String value, String message) throws Exception {
        JdmSession.Result r = s.jdm("daemon", "--data-dir", dir.resolve("other").toString(), option, value);
        assertEquals(2, r.exit(), r.err());
        assertTrue(r.err().startsWith(message + "\n"), r.err());
    }
}
