package dev.jdm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jdm.daemon.ControlClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Multipath failover under load, as a SAN sees it: every path is an NBD export of ONE shared file, served from a
 * separate "machine" (a {@link NetnsRig} host: a {@code jdm daemon}, or nbdkit's file plugin for one path); a client
 * {@code jdm daemon} here holds a multipath table over those exports; fio writes at random through it and verifies
 * every block (crc32c) while paths fail: a path server killed with SIGKILL and started again, or its host's link
 * cut and restored. At every moment at least one path lives, except once, when all are down for a moment and
 * {@code queue_if_no_path} holds the I/O. fio must see no error and no verify failure.
 *
 * <p>What the target "saw": after each fault the test waits until the target's status shows the path failed
 * ({@code F}), whether an I/O sent to it failed or the path checker's read did (a killed path that no I/O reached
 * is failed by the checker), and only then restores it, and waits for the checker to reinstate it ({@code A}) before
 * that path fails again. So every injected fault is one A-to-F change, and each path's fail count in the status
 * equals the faults the test injected on it, exactly.
 */
class MultipathFailoverIT {
    static final int PORT = 10809;
    static final long BYTES = 64 << 20;
    static final int FAULTS = 50;
    /** How long the target may take to see a fault or the checker to reinstate a path: far above the settings. */
    static final long SEE_MS = 20_000;

    @TempDir
    Path dir;
    NetnsRig rig;
    Path shared;
    final List<PathServer> paths = new ArrayList<>();
    JdmSession client;
    /** What happened, with milliseconds since the faults began: faults, restores and every status change seen. */
    final List<String> trace = Collections.synchronizedList(new ArrayList<>());
    long t0 = System.nanoTime();
    List<PathState> lastSeen = List.of();

    /** One path: an NBD server on a rig host serving the shared file as export "disk". */
    abstract static class PathServer {
        final NetnsRig.Host host;

        PathServer(NetnsRig.Host host) {
            this.host = host;
        }

        String uri() {
            return "nbd://" + host.address() + ":" + PORT + "/disk";
        }

        abstract void start() throws Exception;

        /** SIGKILL, and waits until the process is gone. */
        abstract void kill() throws Exception;

        /** Waits until the server accepts connections on its address. */
        void awaitListening() throws Exception {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (true) {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress(host.address(), PORT), 1000);
                    return;
                } catch (IOException e) {
                    if (System.nanoTime() > deadline) {
                        throw new AssertionError("the path server on " + host.address() + " did not come up", e);
                    }
                    Thread.sleep(50);
                }
            }
        }
    }

    /** {@code jdm daemon --nbd-host ADDR} with a linear table over the shared file; a restart restores the table. */
    final class JdmPath extends PathServer {
        final Path folder;
        JdmSession daemon;

        JdmPath(NetnsRig.Host host, Path folder) {
            super(host);
            this.folder = folder;
        }

        @Override
        void start() throws Exception {
            boolean first = daemon == null;
            // A path server only serves: the quick compiler alone halves its start on a busy machine, and it starts 25 times.
            daemon = new JdmSession(folder, cmd -> host.command(Stream.concat(Stream.of("env", "JAVA_TOOL_OPTIONS=-XX:TieredStopAtLevel=1"),
                    cmd.stream()).toList()), "--nbd-host", host.address(), "--nbd-port", Integer.toString(PORT));
            if (first) {
                daemon.ok("jdm", "create", "disk", "--table", "0 " + BYTES / 512 + " linear " + shared + " 0");
            }
            awaitListening();
        }

        @Override
        void kill() throws Exception {
            daemon.kill();
        }
    }

    /** nbdkit's file plugin on the shared file. */
    final class NbdkitPath extends PathServer {
        Process nbdkit;

        NbdkitPath(NetnsRig.Host host) {
            super(host);
        }

        @Override
        void start() throws Exception {
            nbdkit = new ProcessBuilder(host.command(List.of("nbdkit", "-f", "-i", host.address(), "-p", Integer.toString(PORT),
                    "file", shared.toString()))).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("nbdkit.log").toFile())).start();
            awaitListening();
        }

        @Override
        void kill() throws Exception {
            nbdkit.destroyForcibly();
            assertTrue(nbdkit.waitFor(30, TimeUnit.SECONDS), "nbdkit did not die on SIGKILL");
        }
    }

    /** One path's state in the status: {@code A} or {@code F}, and its fail count. */
    record PathState(char state, int failCount) {
    }

    @AfterEach
    void tearDown() throws Exception {
        if (client != null) {
            client.kill();
        }
        if (rig != null) {
            rig.close();
        }
    }

    @Test
    void twoPathsRoundRobinFioSeesNothingOfFiftyKillsAndLinkCuts() throws Exception {
        startPaths(2, false);
        startClient("round-robin 0", "1");
        runFaultsUnderFio(FAULTS);
    }

    @Test
    void fourPathsServiceTimeOneOfThemNbdkitFioSeesNothingOfFiftyKillsAndLinkCuts() throws Exception {
        startPaths(4, true);
        startClient("service-time 0", "1 1");
        runFaultsUnderFio(FAULTS);
    }

    private void startPaths(int count, boolean lastIsNbdkit) throws Exception {
        Tools.require("fio", "fio");
        Tools.require(hasNbdEngine(), "this fio has no nbd ioengine");
        if (lastIsNbdkit) {
            Tools.require("nbdkit", "nbdkit");
        }
        rig = new NetnsRig(count);
        shared = dir.resolve("shared.img");
        try (RandomAccessFile f = new RandomAccessFile(shared.toFile(), "rw")) {
            f.setLength(BYTES);
        }
        for (int i = 0; i < count; i++) {
            NetnsRig.Host h = rig.host(i);
            paths.add(lastIsNbdkit && i == count - 1 ? new NbdkitPath(h) : new JdmPath(h, Files.createDirectories(dir.resolve("path" + i))));
        }
        for (PathServer p : paths) {
            p.start();
        }
    }

    /** The client: a multipath device "mp" over every path, one group with {@code selector}, each path with {@code pathArgs}. */
    private void startClient(String selector, String pathArgs) throws Exception {
        client = new JdmSession(Files.createDirectories(dir.resolve("client")), "--no-nbd-tcp",
                "--nbd-timeout", "1", "--path-check-interval", "1", "--path-check-timeout", "5");
        int args = pathArgs.split(" ").length;
        String table = "0 " + BYTES / 512 + " multipath 1 queue_if_no_path 0 1 1 " + selector + " " + paths.size() + " " + args + " "
                + paths.stream().map(p -> p.uri() + " " + pathArgs).collect(Collectors.joining(" "));
        client.ok("jdm", "create", "mp", "--table", table);
        assertEquals(List.of(), notActive(status()), "every path starts active");
    }

    /**
     * fio rounds back to back while {@code faults} faults are injected across the paths in turn (a path's next fault
     * waits until it is active again and another path is active, so one always lives), then one moment with every
     * path down; fio must end clean and the fail counts must be the faults injected.
     */
    private void runFaultsUnderFio(int faults) throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        ExecutorService background = Executors.newCachedThreadPool();
        CompletableFuture<List<String>> fio = CompletableFuture.supplyAsync(() -> fioRounds(stop), background);
        int[] injected = new int[paths.size()];
        t0 = System.nanoTime();
        List<CompletableFuture<Void>> restores = new ArrayList<>();
        try {
            for (int n = 0; n < faults; n++) {
                int p = n % paths.size();
                awaitStatus("path " + p + " active and another path too", s -> s.get(p).state() == 'A'
                        && s.stream().filter(x -> x.state() == 'A').count() >= 2);
                // A jdm path's faults take turns: its server killed, then its link cut. nbdkit's path is only killed:
                // nbdkit 1.32 aborts (raw_send_socket: Assertion `sock >= 0') when a client drops a connection it is
                // still replying on, as the NBD timeout does after a cut.
                boolean cut = injected[p] % 2 == 1 && paths.get(p) instanceof JdmPath;
                fault(p, cut);
                injected[p]++;
                awaitStatus("path " + p + " failed", s -> s.get(p).state() == 'F');
                restores.add(CompletableFuture.runAsync(() -> restore(p, cut), background));
                assertTrue(!fio.isDone(), "fio ended early: " + (fio.isDone() ? fio.join() : ""));
            }
            CompletableFuture.allOf(restores.toArray(CompletableFuture[]::new)).get(120, TimeUnit.SECONDS);
            awaitStatus("every path active", s -> notActive(s).isEmpty());

            // Every path down at once: queue_if_no_path holds the I/O until one comes back.
            for (int p = 0; p < paths.size(); p++) {
                fault(p, false);
                injected[p]++;
            }
            awaitStatus("every path failed", s -> s.stream().allMatch(x -> x.state() == 'F'));
            Thread.sleep(500);
            for (int p = 0; p < paths.size(); p++) {
                restore(p, false);
            }
            awaitStatus("every path active again", s -> notActive(s).isEmpty());
        } finally {
            stop.set(true);
            background.shutdown();
        }
        List<String> problems = fio.get(120, TimeUnit.SECONDS);
        assertEquals(List.of(), problems, "fio's rounds");
        List<PathState> end = status();
        assertEquals(Arrays.stream(injected).boxed().toList(), end.stream().map(PathState::failCount).toList(),
                () -> "fail counts = faults injected, per path\n" + String.join("\n", trace) + "\nclient log:\n" + client.daemonLog());
        System.out.println(getClass().getSimpleName() + ": " + Arrays.stream(injected).sum() + " faults in "
                + (System.nanoTime() - t0) / 1_000_000 + " ms");
        assertEquals(List.of(), notActive(end));
    }

    private void fault(int p, boolean cutLink) {
        change(p, cutLink, false);
    }

    private void restore(int p, boolean cutLink) {
        change(p, cutLink, true);
    }

    /** Takes a path down or brings it back: its host's link, or its server's process. */
    private void change(int p, boolean cutLink, boolean up) {
        PathServer path = paths.get(p);
        note((up ? "restore " : "fault ") + (cutLink ? "link " : "server ") + p);
        try {
            if (cutLink && up) {
                rig.restore(path.host);
            } else if (cutLink) {
                rig.cut(path.host);
            } else if (up) {
                path.start();
            } else {
                path.kill();
            }
        } catch (Exception e) {
            throw new AssertionError((up ? "restore of" : "fault on") + " path " + p, e);
        }
        if (up) {
            note("restored " + p);
        }
    }

    private void note(String event) {
        trace.add((System.nanoTime() - t0) / 1_000_000 + " ms: " + event);
    }

    /**
     * fio rounds until {@code stop}: each writes 4 KiB blocks at random over the device with crc32c verification
     * (a backlog verified while writing, the rest at the end). Returns what went wrong: a round's exit status, its
     * error or its output when it did not end clean.
     */
    private List<String> fioRounds(AtomicBoolean stop) {
        List<String> problems = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        for (int round = 0; !stop.get(); round++) {
            try {
                JdmSession.Result r = client.exec(null, List.of("fio", "--name=mp" + round, "--ioengine=nbd", "--uri=" + client.nbdUri("mp"),
                        "--rw=randwrite", "--bs=4k", "--iodepth=16", "--size=" + (BYTES >> 20) / 4 + "M", "--offset=" + (round % 4) * (BYTES / 4),
                        "--verify=crc32c", "--verify_backlog=512", "--verify_fatal=1", "--randrepeat=0", "--output-format=json"));
                String out = r.out();
                JsonNode job = out.contains("{") ? json.readTree(out.substring(out.indexOf('{'))).path("jobs").get(0) : null;
                if (r.exit() != 0 || job == null || job.path("error").asInt(-1) != 0
                        || job.path("write").path("io_bytes").asLong() != BYTES / 4) {
                    problems.add("round " + round + ": exit " + r.exit() + ", " + r.err() + out);
                }
            } catch (Exception e) {
                problems.add("round " + round + ": " + e);
            }
        }
        return problems;
    }

    private static boolean hasNbdEngine() {
        try {
            Process p = new ProcessBuilder("fio", "--enghelp").redirectErrorStream(true).start();
            String engines = new String(p.getInputStream().readAllBytes());
            p.waitFor();
            return engines.lines().anyMatch(l -> l.strip().equals("nbd"));
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    private void awaitStatus(String what, Predicate<List<PathState>> condition) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(SEE_MS);
        List<PathState> s = status();
        while (!condition.test(s)) {
            if (System.nanoTime() > deadline) {
                fail("waited " + SEE_MS + " ms for " + what + ": " + s + "\n" + String.join("\n", trace) + "\nclient log:\n"
                        + client.daemonLog() + "\nnbdkit log:\n" + JdmSession.read(dir.resolve("nbdkit.log")));
            }
            Thread.sleep(50);
            s = status();
        }
    }

    private static List<Integer> notActive(List<PathState> s) {
        List<Integer> down = new ArrayList<>();
        for (int i = 0; i < s.size(); i++) {
            if (s.get(i).state() != 'A') {
                down.add(i);
            }
        }
        return down;
    }

    /** Every path's state and fail count, in table order, from the kernel's status line of a multipath target. */
    private List<PathState> status() throws Exception {
        // Straight to the control socket: polled every 50 ms, a CLI process each time would load the machine.
        try (ControlClient c = ControlClient.connect(client.socket)) {
            List<PathState> s = parseStatus(c.call(ControlClient.request("status").put("name", "mp")).path("targets").get(0).path("params").asText());
            synchronized (trace) {
                if (!s.equals(lastSeen)) {
                    lastSeen = s;
                    note("status " + s.stream().map(x -> x.state() + "/" + x.failCount()).collect(Collectors.joining(" ")));
                }
            }
            return s;
        }
    }

    /**
     * The kernel's layout: feature count and features, handler count and args, group count, next group, then per
     * group its state, the selector's group words (a count and words), path count, words per path, and per path
     * its device, A or F, fail count and the selector's words.
     */
    static List<PathState> parseStatus(String params) {
        String[] w = params.strip().split(" ");
        int i = 0;
        i += 1 + Integer.parseInt(w[i]);
        i += 1 + Integer.parseInt(w[i]);
        int groups = Integer.parseInt(w[i]);
        i += 2;
        List<PathState> out = new ArrayList<>();
        for (int g = 0; g < groups; g++) {
            i++; // group state
            i += 1 + Integer.parseInt(w[i]);
            int pathCount = Integer.parseInt(w[i]);
            int selectorWords = Integer.parseInt(w[i + 1]);
            i += 2;
            for (int p = 0; p < pathCount; p++) {
                out.add(new PathState(w[i + 1].charAt(0), Integer.parseInt(w[i + 2])));
                i += 3 + selectorWords;
            }
        }
        return out;
    }
}
