package dev.jdm.tools.crash;

import dev.jdm.core.testing.ExternalTools;
import dev.jdm.targets.logwrites.LogEntry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Command, shell, mark and sequence workloads against a stand-in session (no device needed). */
class WorkloadTest {
    @TempDir
    Path dir;

    /** Records marks and the steps' traces in order. */
    private final class FakeSession implements Workload.Session {
        final List<String> events = new ArrayList<>();

        @Override
        public Path device() {
            return dir.resolve("dev");
        }

        @Override
        public Path workDir() {
            return dir;
        }

        @Override
        public void mark(String text) {
            events.add("mark " + text);
        }
    }

    @Test
    void stepsRunInOrderWithTheDevicePathSubstitutedAndInTheEnvironment() throws Exception {
        ExternalTools.requireTool("sh", "dash");
        Path out = dir.resolve("out");
        FakeSession session = new FakeSession();
        Workload.sequence(List.of(
                Workload.command(List.of("sh", "-c", "printf '%s|%s\\n' \"$1\" \"$JDM_CRASH_DEVICE\" >> " + out, "sh", "{}")),
                Workload.mark("after-first"),
                Workload.shell("printf 'shell %s\\n' {} >> " + out),
                s -> session.events.add("lines so far: " + Files.readAllLines(out).size())
        )).run(session);

        String dev = dir.resolve("dev").toString();
        assertEquals(List.of(dev + "|" + dev, "shell " + dev), Files.readAllLines(out));
        assertEquals(List.of("mark after-first", "lines so far: 2"), session.events);
    }

    @Test
    void aFailingCommandStopsTheSequenceWithWhatItSaid() {
        ExternalTools.requireTool("sh", "dash");
        FakeSession session = new FakeSession();
        IOException e = assertThrows(IOException.class, () -> Workload.sequence(List.of(
                Workload.shell("echo broken >&2; exit 3"), Workload.mark("never"))).run(session));
        assertEquals("sh -c echo broken >&2; exit 3 failed (exit 3): broken", e.getMessage());
        assertTrue(session.events.isEmpty());
    }

    @Test
    void aCheckCommandGetsTheImagePathAndItsOutputIsTheProblem() throws Exception {
        ExternalTools.requireTool("sh", "dash");
        Path image = Files.writeString(dir.resolve("point.img"), "x");
        ReplayPoint point = new ReplayPoint(new LogEntry(5, 4096, 0, 0, 1, null, 512), 1, 1, image, List.of("m"));
        assertEquals(Optional.empty(), PointCheck.command(List.of("test", "-s", "{}")).check(point));
        assertEquals(Optional.of("sh -c echo bad $0; exit 1 " + image + " exited 1:\nbad " + image),
                PointCheck.command(List.of("sh", "-c", "echo bad $0; exit 1", "{}")).check(point));
        assertEquals("m", point.lastMark());
    }
}
