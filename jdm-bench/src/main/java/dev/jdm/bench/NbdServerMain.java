package dev.jdm.bench;

import dev.jdm.core.DmException;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.nbd.NbdServer;
import picocli.CommandLine;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/**
 * Serves one table over NBD without a daemon, for the NBD benchmarks (bench/nbd-lib.sh):
 * {@code java -cp jdm-bench.jar dev.jdm.bench.NbdServerMain --socket S --table "0 N linear FILE 0" --name disk}.
 * {@code --device NAME=TABLE} makes another device first, one the served table needs beside it (a snapshot of
 * the origin that {@code snapshot-origin} serves, in bench/snapshot-nbd.sh).
 */
@CommandLine.Command(name = "jdm-nbd-server", mixinStandardHelpOptions = true,
        description = "Serve one device-mapper table over NBD until killed.")
public final class NbdServerMain implements Callable<Integer> {
    @CommandLine.Option(names = "--socket", description = "Unix socket path") Path socket;
    @CommandLine.Option(names = "--tcp", description = "TCP port (on loopback unless --host)", defaultValue = "-1") int port;
    @CommandLine.Option(names = "--host", description = "TCP address to bind") String host;
    @CommandLine.Option(names = "--table", required = true, description = "table text, lines separated by newlines or ';'") String table;
    @CommandLine.Option(names = "--name", defaultValue = "disk", description = "device and export name") String name;
    @CommandLine.Option(names = "--device", description = "another device, NAME=TABLE, made before the served one (repeatable)")
    List<String> devices = List.of();
    @CommandLine.Option(names = "--read-only") boolean readOnly;
    @CommandLine.Option(names = "--tls", defaultValue = "OFF", description = "off, on or require") NbdServer.TlsMode tlsMode;
    @CommandLine.Option(names = "--tls-key") Path key;
    @CommandLine.Option(names = "--tls-cert") Path cert;

    @Override
    public Integer call() throws IOException, DmException, InterruptedException {
        DeviceMapper dm = DeviceMapper.create();
        for (String device : devices) {
            int eq = device.indexOf('=');
            dm.create(device.substring(0, eq), null, device.substring(eq + 1).replace(';', '\n'), false);
        }
        dm.create(name, null, table.replace(';', '\n'), readOnly);
        NbdServer server = new NbdServer(dm, new NbdServer.Config(socket, host, port, tlsMode, key, cert));
        server.start();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            dm.close();
            stopped.countDown();
        }));
        System.err.println("jdm-nbd-server: serving " + name + (socket != null ? " on " + socket : "")
                + (server.tcpAddress() != null ? " on " + server.tcpAddress() : ""));
        stopped.await();
        return 0;
    }

    public static void main(String[] args) {
        CommandLine cmd = new CommandLine(new NbdServerMain()).setCaseInsensitiveEnumValuesAllowed(true);
        int status = cmd.execute(args);
        if (status != 0) {
            System.exit(status);
        }
    }
}
