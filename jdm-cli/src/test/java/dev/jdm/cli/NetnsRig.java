package dev.jdm.cli;

import dev.jdm.core.testing.ExternalTools;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * "Other machines" on this one: network namespaces, each joined to the root namespace by a veth pair of its own
 * (a /30 from 10.231.B.0/24, a block no address or route of this machine uses), for tests whose peers must be
 * separate hosts that can die or lose their link. Commands run in a host with {@code ip netns exec}; {@link #cut}
 * takes the host's end of its link down (packets to it vanish, as with a pulled cable) and {@link #restore} brings
 * it back. {@link #close} kills every process left in the namespaces and removes the namespaces and veths the rig
 * made, and nothing else. Needs root and iproute2 ({@link #require}: skipped outside CI, a failure under CI=true).
 */
final class NetnsRig implements AutoCloseable {
    /** One namespace: its name, its end of the veth pair and its address, the root end and the root's address. */
    record Host(String namespace, String veth, String address, String rootVeth, String rootAddress) {
        /** {@code COMMAND...} run inside this host's namespace. */
        List<String> command(List<String> command) {
            List<String> c = new ArrayList<>(List.of(ip(), "netns", "exec", namespace));
            c.addAll(command);
            return c;
        }
    }

    private static final AtomicInteger RIGS = new AtomicInteger();
    private static final String PREFIX = "10.231.";

    private final List<Host> hosts = new ArrayList<>();

    /** Skips (outside CI) or fails (CI=true) when this machine cannot make namespaces. */
    static void require() {
        ExternalTools.require(ExternalTools.isRoot(), "network namespaces need root");
        String ip = ExternalTools.find("ip");
        ExternalTools.require(ip != null, "ip is not installed (Debian package iproute2)");
        ExternalTools.require(run(List.of(ip, "netns", "list")).exit() == 0, "ip netns does not work here");
    }

    /** Makes {@code count} hosts; on a failure midway what was made is removed again. */
    NetnsRig(int count) throws IOException {
        require();
        long pid = ProcessHandle.current().pid();
        int rig = RIGS.getAndIncrement() % 100;
        int block = freeBlock((int) ((pid * 7 + rig) % 256));
        try {
            for (int i = 0; i < count; i++) {
                // Interface names have at most 15 characters.
                String id = pid + "r" + rig + "h" + i;
                Host h = new Host("jdm-" + id, "jn" + id, PREFIX + block + "." + (4 * i + 2), "jr" + id,
                        PREFIX + block + "." + (4 * i + 1));
                ok(ip(), "netns", "add", h.namespace());
                hosts.add(h);
                ok(ip(), "link", "add", h.rootVeth(), "type", "veth", "peer", "name", h.veth(), "netns", h.namespace());
                ok(ip(), "addr", "add", h.rootAddress() + "/30", "dev", h.rootVeth());
                ok(ip(), "link", "set", h.rootVeth(), "up");
                ok(ip(), "-n", h.namespace(), "addr", "add", h.address() + "/30", "dev", h.veth());
                ok(ip(), "-n", h.namespace(), "link", "set", h.veth(), "up");
                ok(ip(), "-n", h.namespace(), "link", "set", "lo", "up");
            }
        } catch (IOException | RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    List<Host> hosts() {
        return List.copyOf(hosts);
    }

    Host host(int i) {
        return hosts.get(i);
    }

    /** Takes the host's end of its link down: what is sent to it is lost, nothing is refused. */
    void cut(Host h) throws IOException {
        ok(ip(), "-n", h.namespace(), "link", "set", h.veth(), "down");
    }

    void restore(Host h) throws IOException {
        ok(ip(), "-n", h.namespace(), "link", "set", h.veth(), "up");
    }

    /** Kills what still runs in the namespaces, then removes the veths and namespaces this rig made. */
    @Override
    public void close() {
        for (Host h : hosts) {
            for (String pid : run(List.of(ip(), "netns", "pids", h.namespace())).out().split("\\s+")) {
                if (!pid.isEmpty()) {
                    ProcessHandle.of(Long.parseLong(pid)).ifPresent(p -> {
                        p.destroyForcibly();
                        p.onExit().orTimeout(10, TimeUnit.SECONDS).exceptionally(e -> p).join();
                    });
                }
            }
            // Deleting one end of a veth pair deletes both; the root end is gone with the namespace otherwise.
            run(List.of(ip(), "link", "del", h.rootVeth()));
            run(List.of(ip(), "netns", "del", h.namespace()));
        }
        hosts.clear();
    }

    /** The first /24 of 10.231.0.0/16 from {@code start} on that no address or route of this machine touches. */
    private static int freeBlock(int start) throws IOException {
        String used = ok(ip(), "-4", "-o", "addr", "show") + ok(ip(), "-4", "route", "show", "table", "all");
        for (int i = 0; i < 256; i++) {
            int block = (start + i) % 256;
            if (!used.contains(PREFIX + block + ".")) {
                return block;
            }
        }
        throw new IOException("no free /24 in " + PREFIX + "0.0/16 on this machine");
    }

    private static String ip() {
        return ExternalTools.find("ip");
    }

    record Run(int exit, String out) {
    }

    private static Run run(List<String> command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return new Run(-1, out);
            }
            return new Run(p.exitValue(), out);
        } catch (IOException e) {
            return new Run(-1, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Run(-1, "interrupted");
        }
    }

    private static String ok(String... command) throws IOException {
        Run r = run(List.of(command));
        if (r.exit() != 0) {
            throw new IOException(String.join(" ", command) + " failed (" + r.exit() + "): " + r.out().strip());
        }
        return r.out();
    }
}
