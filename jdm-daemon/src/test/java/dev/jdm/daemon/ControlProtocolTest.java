package dev.jdm.daemon;

import dev.jdm.core.engine.DeviceMapper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The control protocol byte for byte: replies to good, bad and refused requests. */
class ControlProtocolTest {
    @TempDir
    Path dir;
    JdmDaemon daemon;
    Path image;

    @BeforeEach
    void start() throws IOException {
        image = dir.resolve("a.img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(1 << 20);
        }
        // A state folder with a device in it, so the daemon does not make its 1 GiB default.
        Path state = dir.resolve("state");
        Files.createDirectories(state);
        Files.writeString(state.resolve("dm-5.json"), """
                {"name":"first","minor":5,"uuid":"UUID-1","table":"0 16 zero","readOnly":false,"inactiveReadOnly":false,"suspended":false}""");
        daemon = JdmDaemon.start(JdmDaemon.Config.defaults(dir.resolve("data")).withStateDir(state),
                new PrintStream(OutputStream.nullOutputStream()));
    }

    @AfterEach
    void stop() throws IOException {
        daemon.close();
    }

    private List<String> exchange(String... lines) throws IOException {
        try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(daemon.socket()))) {
            BufferedReader in = new BufferedReader(Channels.newReader(c, StandardCharsets.UTF_8));
            OutputStream out = Channels.newOutputStream(c);
            List<String> replies = new java.util.ArrayList<>();
            for (String line : lines) {
                out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
                replies.add(in.readLine());
            }
            return replies;
        }
    }

    private String one(String line) throws IOException {
        return exchange(line).getFirst();
    }

    private static String einval(String message) {
        return "{\"ok\":false,\"errno\":\"EINVAL\",\"code\":22,\"error\":\"" + message + "\"}";
    }

    @Test
    void malformedRequestsGetExactErrors() throws IOException {
        assertEquals(List.of(
                einval("bad request: invalid JSON at column 7"),
                einval("bad request: a request is one JSON object per line"),
                einval("bad request: missing field \\\"op\\\""),
                einval("unknown op \\\"frobnicate\\\""),
                einval("create: missing field \\\"name\\\""),
                einval("create: field \\\"readOnly\\\" must be true or false"),
                einval("load: missing field \\\"table\\\""),
                einval("info: missing field \\\"name\\\" (or \\\"uuid\\\", or \\\"major\\\" and \\\"minor\\\")"),
                einval("message: missing field \\\"sector\\\""),
                einval("message: missing field \\\"text\\\" (a string) or \\\"argv\\\" (an array of strings)"),
                einval("rename: give exactly one of \\\"newName\\\" and \\\"setUuid\\\""),
                einval("wait: field \\\"eventNr\\\" must be an integer")),
                exchange("{\"op\":", "[1]", "{}", "{\"op\":\"frobnicate\"}", "{\"op\":\"create\"}",
                        "{\"op\":\"create\",\"name\":\"x\",\"readOnly\":\"yes\"}",
                        "{\"op\":\"load\",\"name\":\"first\"}", "{\"op\":\"info\"}",
                        "{\"op\":\"message\",\"name\":\"first\"}", "{\"op\":\"message\",\"name\":\"first\",\"sector\":0}",
                        "{\"op\":\"rename\",\"name\":\"first\"}", "{\"op\":\"wait\",\"name\":\"first\",\"eventNr\":\"1\"}"));
    }

    @Test
    void attachOpsNeedAnNbdSocket() throws IOException {
        assertEquals(List.of(
                "{\"ok\":false,\"errno\":\"EOPNOTSUPP\",\"code\":95,\"error\":\"attach: this daemon serves no NBD socket to attach from\"}",
                "{\"ok\":false,\"errno\":\"EOPNOTSUPP\",\"code\":95,\"error\":\"detach: this daemon serves no NBD socket to attach from\"}",
                "{\"ok\":true,\"attachments\":[]}"),
                exchange("{\"op\":\"attach\",\"name\":\"first\"}", "{\"op\":\"detach\",\"name\":\"first\"}", "{\"op\":\"attachments\"}"));
    }

    @Test
    void attachRefusalsBeforeAnyHelperRuns() throws IOException {
        daemon.close();
        Path data = dir.resolve("data");
        Attachments attachments = new Attachments(data.resolve("nbd.sock"), data.resolve("attach"), new PrintStream(OutputStream.nullOutputStream()));
        daemon = JdmDaemon.start(JdmDaemon.Config.defaults(data).withStateDir(dir.resolve("state")),
                new PrintStream(OutputStream.nullOutputStream()), List.of(), attachments);
        assertEquals(List.of(
                "{\"ok\":false,\"errno\":\"ENXIO\",\"code\":6,\"error\":\"device nope does not exist\"}",
                "{\"ok\":false,\"errno\":\"ENXIO\",\"code\":6,\"error\":\"device first is not attached\"}",
                "{\"ok\":true,\"attachments\":[]}",
                "{\"ok\":true}"),
                exchange("{\"op\":\"attach\",\"name\":\"nope\"}", "{\"op\":\"detach\",\"name\":\"first\"}",
                        "{\"op\":\"attachments\"}", "{\"op\":\"remove\",\"name\":\"first\"}"));
    }

    @Test
    void transientDevicesStayOutOfTheStateFolder() throws IOException {
        Path state = dir.resolve("state");
        assertEquals(List.of("{\"ok\":true}", "{\"ok\":true}"), exchange(
                "{\"op\":\"create\",\"name\":\"secret\",\"table\":\"0 8 zero\",\"transient\":true}",
                "{\"op\":\"load\",\"name\":\"secret\",\"table\":\"0 16 zero\"}").stream()
                .map(r -> r.startsWith("{\"ok\":true,\"info\"") ? "{\"ok\":true}" : r).toList());
        // secret took minor 0, kept takes 1: only kept has a file.
        one("{\"op\":\"create\",\"name\":\"kept\",\"table\":\"0 8 zero\"}");
        try (var files = Files.list(state)) {
            assertEquals(List.of("dm-1.json", "dm-5.json"), files.map(f -> f.getFileName().toString()).sorted().toList());
        }
        assertTrue(Files.readString(state.resolve("dm-1.json")).contains("\"name\" : \"kept\""));
        assertEquals("{\"ok\":true}", one("{\"op\":\"remove\",\"name\":\"secret\"}"));
    }

    @Test
    void engineRefusalsCarryTheirErrno() throws IOException {
        assertEquals("{\"ok\":false,\"errno\":\"ENXIO\",\"code\":6,\"error\":\"device nope does not exist\"}",
                one("{\"op\":\"info\",\"name\":\"nope\"}"));
        assertEquals("{\"ok\":false,\"errno\":\"EBUSY\",\"code\":16,\"error\":\"device first already exists\"}",
                one("{\"op\":\"create\",\"name\":\"first\"}"));
        assertEquals("{\"ok\":false,\"errno\":\"ENXIO\",\"code\":6,\"error\":\"no device with uuid U9\"}",
                one("{\"op\":\"info\",\"uuid\":\"U9\"}"));
        assertEquals(einval("table line 1: linear: argument 2 (\\\"x\\\"): invalid device sector"),
                one("{\"op\":\"load\",\"name\":\"first\",\"table\":\"0 8 linear " + image + " x\"}"));
        assertEquals(einval("target does not accept messages"),
                one("{\"op\":\"message\",\"name\":\"first\",\"sector\":0,\"argv\":[\"hello\"]}"));
        // One string, split as the kernel splits it: the core sees "@cancel_deferred_remove" as the first word.
        assertEquals("{\"ok\":false,\"errno\":\"ENXIO\",\"code\":6,\"error\":\"device first is not marked for deferred remove\"}",
                one("{\"op\":\"message\",\"name\":\"first\",\"sector\":0,\"text\":\"  @cancel_deferred_remove \"}"));
        assertEquals(einval("message: \\\"text\\\" must be a string, and not given with \\\"argv\\\""),
                one("{\"op\":\"message\",\"name\":\"first\",\"sector\":0,\"text\":\"a\",\"argv\":[\"b\"]}"));
    }

    @Test
    void devicesAreSelectedByNameUuidOrNumber() throws IOException {
        String info = "{\"ok\":true,\"info\":{\"name\":\"first\",\"uuid\":\"UUID-1\",\"major\":253,\"minor\":5,"
                + "\"state\":\"ACTIVE\",\"suspended\":false,\"readOnly\":false,\"liveTable\":true,\"inactiveTable\":false,"
                + "\"tablesPresent\":\"LIVE\",\"openCount\":0,\"eventNumber\":0,\"targetCount\":1,\"deferredRemove\":false,"
                + "\"sizeSectors\":16,\"readAhead\":256}}";
        assertEquals(List.of(info, info, info), exchange("{\"op\":\"info\",\"name\":\"first\"}",
                "{\"op\":\"info\",\"uuid\":\"UUID-1\"}", "{\"op\":\"info\",\"major\":253,\"minor\":5}"));
    }

    @Test
    void tablesStatusDepsAndTargets() throws IOException {
        assertEquals("{\"ok\":true}", one("{\"op\":\"load\",\"name\":\"first\",\"table\":\"0 8 linear " + image + " 0\\n8 8 zero\"}"));
        assertEquals(List.of(
                "{\"ok\":true,\"targets\":[{\"start\":0,\"length\":16,\"type\":\"zero\",\"params\":\"\"}]}",
                "{\"ok\":true,\"targets\":[{\"start\":0,\"length\":8,\"type\":\"linear\",\"params\":\"" + image + " 0\"},"
                        + "{\"start\":8,\"length\":8,\"type\":\"zero\",\"params\":\"\"}]}",
                "{\"ok\":true,\"deps\":[{\"id\":\"" + image + "\",\"path\":\"" + image + "\"}]}",
                "{\"ok\":true}",
                // linear's status line is empty, as the kernel's is.
                "{\"ok\":true,\"targets\":[{\"start\":0,\"length\":8,\"type\":\"linear\",\"params\":\"\"},"
                        + "{\"start\":8,\"length\":8,\"type\":\"zero\",\"params\":\"\"}]}"),
                exchange("{\"op\":\"table\",\"name\":\"first\"}", "{\"op\":\"table\",\"name\":\"first\",\"inactive\":true}",
                        "{\"op\":\"deps\",\"name\":\"first\",\"inactive\":true}", "{\"op\":\"resume\",\"name\":\"first\"}",
                        "{\"op\":\"status\",\"name\":\"first\"}"));
        String targets = one("{\"op\":\"targets\"}");
        assertTrue(targets.contains("{\"name\":\"linear\",\"version\":[1,4,0]}"), targets);
        assertEquals("{\"ok\":true,\"library\":\"jdm " + JdmDaemon.version() + "\",\"driver\":\"" + DeviceMapper.IOCTL_VERSION + "\"}",
                one("{\"op\":\"version\"}"));
    }

    @Test
    void waitReturnsOnceTheEventNumberMoves() throws IOException {
        assertEquals("{\"ok\":true}", one("{\"op\":\"rename\",\"name\":\"first\",\"newName\":\"second\"}"));
        String reply = one("{\"op\":\"wait\",\"name\":\"second\",\"eventNr\":0}");
        assertTrue(reply.contains("\"name\":\"second\"") && reply.contains("\"eventNumber\":1"), reply);
    }

    @Test
    void waitGivesUpAfterItsTimeoutWithTheSameEventNumber() throws IOException {
        String reply = one("{\"op\":\"wait\",\"name\":\"first\",\"eventNr\":0,\"timeout\":10}");
        assertTrue(reply.startsWith("{\"ok\":true,\"info\":{\"name\":\"first\"") && reply.contains("\"eventNumber\":0"), reply);
    }

    @Test
    void removeAllTakesStacksTopFirst() throws IOException {
        assertTrue(one("{\"op\":\"create\",\"name\":\"upper\",\"table\":\"0 8 linear /dev/mapper/first 0\"}")
                .startsWith("{\"ok\":true,\"info\":{\"name\":\"upper\",\"uuid\":\"\",\"major\":253,\"minor\":0,"));
        assertEquals(List.of(
                        "{\"ok\":false,\"errno\":\"EBUSY\",\"code\":16,\"error\":\"device first is still open (open count 1: table of upper)\"}",
                        "{\"ok\":true,\"failed\":[]}",
                        "{\"ok\":true,\"devices\":[]}"),
                exchange("{\"op\":\"remove\",\"name\":\"first\"}", "{\"op\":\"remove_all\"}", "{\"op\":\"list\"}"));
    }

    @Test
    void aSecondDaemonIsRefusedAndLeavesItsStateAlone() throws IOException {
        PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
        IOException sameData = assertThrows(IOException.class, () -> JdmDaemon.start(
                JdmDaemon.Config.defaults(dir.resolve("data")).withSocket(dir.resolve("other.sock")), quiet));
        assertEquals("another jdm daemon is using " + dir.resolve("data"), sameData.getMessage());

        Path otherState = dir.resolve("other-state");
        Files.createDirectories(otherState);
        Files.writeString(otherState.resolve("dm-0.json"), "{\"name\":\"mine\",\"minor\":0,\"table\":\"0 8 zero\"}");
        IOException sameSocket = assertThrows(IOException.class, () -> JdmDaemon.start(
                JdmDaemon.Config.defaults(dir.resolve("other")).withSocket(daemon.socket()).withStateDir(otherState), quiet));
        assertEquals("a jdm daemon already listens on " + daemon.socket(), sameSocket.getMessage());
        assertEquals("{\"name\":\"mine\",\"minor\":0,\"table\":\"0 8 zero\"}", Files.readString(otherState.resolve("dm-0.json")));
        String list = one("{\"op\":\"list\"}");
        assertTrue(list.startsWith("{\"ok\":true,\"devices\":[{\"name\":\"first\""), "the first daemon still answers: " + list);
    }

    @Test
    void socketAndFolderAreClosedToOthers() throws IOException {
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(daemon.socket())));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(daemon.socket().getParent())));
    }

    /**
     * A peer that gets past the file modes (here they are opened on purpose) is still refused by its
     * credentials: the reply names its user and the connection closes.
     */
    @Test
    void anotherUserIsRefused() throws Exception {
        Tools.require("setpriv", "util-linux");
        Tools.require("socat", "socat");
        dev.jdm.core.testing.ExternalTools.require(
                Files.getAttribute(Path.of("/proc/self"), "unix:uid").equals(0), "needs root to run a client as another user");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x--x"));
        Files.setPosixFilePermissions(daemon.socket().getParent(), PosixFilePermissions.fromString("rwx--x--x"));
        Files.setPosixFilePermissions(daemon.socket(), PosixFilePermissions.fromString("rw-rw-rw-"));
        Process p = new ProcessBuilder("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                "socat", "-", "UNIX-CONNECT:" + daemon.socket()).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        p.getOutputStream().write("{\"op\":\"list\"}\n".getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        String user = Files.readAllLines(Path.of("/etc/passwd")).stream().filter(l -> l.split(":")[2].equals("65534"))
                .map(l -> l.split(":")[0]).findFirst().orElse("65534");
        assertEquals("{\"ok\":false,\"errno\":\"EACCES\",\"code\":13,\"error\":\"user " + user
                + " may not use this daemon: only root and the daemon's own user may\"}\n",
                new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
    }
}
