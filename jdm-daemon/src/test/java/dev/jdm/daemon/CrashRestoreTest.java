package dev.jdm.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** kill -9 of a daemon process: the next one on the same data folder has the same devices and data. */
class CrashRestoreTest {
    @TempDir
    Path dir;
    final List<Process> started = new ArrayList<>();

    @AfterEach
    void stop() {
        started.forEach(Process::destroyForcibly);
    }

    /** A daemon process with its stdin/stdout I/O channel (see {@link DaemonProcess}). */
    private record Child(Process process, PrintWriter in, BufferedReader out) {
        String io(String line) throws IOException {
            in.println(line);
            in.flush();
            return out.readLine();
        }
    }

    private Child startDaemon() throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        Process p = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                DaemonProcess.class.getName(), dir.resolve("data").toString())
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        started.add(p);
        Child c = new Child(p, new PrintWriter(p.getOutputStream(), false, StandardCharsets.UTF_8),
                new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8)));
        assertEquals("ready", c.out.readLine());
        return c;
    }

    private JsonNode call(String json) throws Exception {
        try (ControlClient c = ControlClient.connect(dir.resolve("data/jdm.sock"))) {
            return c.call((com.fasterxml.jackson.databind.node.ObjectNode) Protocol.JSON.readTree(json));
        }
    }

    @Test
    void devicesAndFlushedDataSurviveKillDashNine() throws Exception {
        Path img = dir.resolve("disk.img");
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.setLength(1 << 20);
        }
        Child first = startDaemon();
        call("{\"op\":\"create\",\"name\":\"disk\",\"uuid\":\"DISK-1\",\"table\":\"0 2048 linear " + img + " 0\"}");
        call("{\"op\":\"create\",\"name\":\"upper\",\"table\":\"0 1024 linear /dev/mapper/disk 1024\"}");
        call("{\"op\":\"create\",\"name\":\"held\",\"table\":\"0 8 zero\"}");
        call("{\"op\":\"load\",\"name\":\"held\",\"table\":\"0 16 error\"}");
        call("{\"op\":\"suspend\",\"name\":\"held\"}");
        call("{\"op\":\"remove\",\"name\":\"disk0\"}");
        assertEquals("ok", first.io("write upper 4096 flushed before the crash"));
        first.process.destroyForcibly();
        assertTrue(first.process.waitFor(30, TimeUnit.SECONDS));
        assertEquals(137, first.process.exitValue());

        Child second = startDaemon();
        assertEquals("flushed before the crash", second.io("read disk " + (1024 * 512 + 4096) + " 24"));
        List<String> devices = new ArrayList<>();
        call("{\"op\":\"list\"}").path("devices").forEach(d -> devices.add(d.path("name").asText() + " " + d.path("uuid").asText()
                + " " + d.path("minor").asInt() + " " + attr(d)));
        // disk0 was removed before the crash, so the daemon did not bring its default back either.
        assertEquals(List.of("disk DISK-1 1 L--w", "held  3 LIsw", "upper  2 L--w"), devices);
        assertEquals("[{\"start\":0,\"length\":1024,\"type\":\"linear\",\"params\":\"253:1 1024\"}]",
                call("{\"op\":\"table\",\"name\":\"upper\"}").path("targets").toString());
        assertEquals("[{\"start\":0,\"length\":16,\"type\":\"error\",\"params\":\"\"}]",
                call("{\"op\":\"table\",\"name\":\"held\",\"inactive\":true}").path("targets").toString());
    }

    /** dmsetup's Stat column: Live, Inactive, suspended, read-only/writeable. */
    private static String attr(JsonNode d) {
        return (d.path("liveTable").asBoolean() ? "L" : "-") + (d.path("inactiveTable").asBoolean() ? "I" : "-")
                + (d.path("suspended").asBoolean() ? "s" : "-") + (d.path("readOnly").asBoolean() ? "r" : "w");
    }
}
