package dev.jdm.daemon;

import dev.jdm.core.engine.MappedDevice;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * A daemon in a process of its own, for crash tests: besides its control socket it takes
 * {@code write NAME OFFSET TEXT} (written, then flushed) and {@code read NAME OFFSET LENGTH} on
 * standard input, the I/O an export would do, and answers each on standard output.
 */
public final class DaemonProcess {
    private DaemonProcess() {
    }

    public static void main(String[] args) throws Exception {
        JdmDaemon daemon = JdmDaemon.start(JdmDaemon.Config.defaults(Path.of(args[0])), new PrintStream(OutputStream.nullOutputStream()));
        System.out.println("ready");
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            String[] w = line.split(" ", 4);
            MappedDevice md = daemon.deviceMapper().device(w[1]);
            long offset = Long.parseLong(w[2]);
            if (w[0].equals("write")) {
                md.write(offset, ByteBuffer.wrap(w[3].getBytes(StandardCharsets.UTF_8)), false);
                md.flush();
                System.out.println("ok");
            } else {
                ByteBuffer b = ByteBuffer.allocate(Integer.parseInt(w[3]));
                md.read(offset, b);
                System.out.println(new String(b.array(), StandardCharsets.UTF_8));
            }
        }
    }
}
