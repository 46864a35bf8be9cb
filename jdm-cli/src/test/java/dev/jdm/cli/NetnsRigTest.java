package dev.jdm.cli;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The rig itself: hosts reachable on their own addresses only, a cut link loses packets, close leaves nothing behind. */
class NetnsRigTest {
    private static final int PORT = 10809;

    @Test
    void hostsServeOnTheirOwnAddressAndACutLinkLosesWhatIsSent() throws Exception {
        Tools.require("nbdkit", "nbdkit");
        NetnsRig.Host first;
        Process server;
        try (NetnsRig rig = new NetnsRig(2)) {
            first = rig.host(0);
            NetnsRig.Host second = rig.host(1);
            assertTrue(first.namespace().startsWith("jdm-" + ProcessHandle.current().pid() + "r"), first.namespace());
            assertNotEquals(first.address(), second.address());
            assertEquals(List.of(true, true), List.of(listed("netns", first.namespace()), listed("link", first.rootVeth())));

            server = new ProcessBuilder(first.command(List.of("nbdkit", "-f", "-i", first.address(), "-p", Integer.toString(PORT), "memory", "1M")))
                    .redirectErrorStream(true).start();
            waitUntilAccepting(first.address());
            assertThrows(IOException.class, () -> connect(second.address()), "nothing listens on the other host");

            rig.cut(first);
            assertThrows(SocketTimeoutException.class, () -> connect(first.address()), "a cut link loses the SYN: no refusal, a timeout");
            rig.restore(first);
            waitUntilAccepting(first.address());
        }
        assertTrue(server.waitFor(10, TimeUnit.SECONDS), "close killed the server in the namespace");
        assertEquals(List.of(false, false), List.of(listed("netns", first.namespace()), listed("link", first.rootVeth())));
    }

    private static boolean listed(String what, String name) throws Exception {
        Process p = new ProcessBuilder("ip", "-o", what, "list").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        p.waitFor();
        return List.of(out.split("[\\s:@]+")).contains(name);
    }

    private static void connect(String address) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(address, PORT), 700);
        }
    }

    private static void waitUntilAccepting(String address) throws Exception {
        for (int i = 0; ; i++) {
            try {
                connect(address);
                return;
            } catch (IOException e) {
                if (i == 100) {
                    throw e;
                }
                Thread.sleep(100);
            }
        }
    }
}
