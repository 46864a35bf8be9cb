package dev.jdm.targets.integrity;

import dev.jdm.core.testing.MemoryDevice;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.TargetContext;
import dev.jdm.core.spi.TargetException;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/** Builds integrity targets over in-memory devices named in the table line, outside any mapped device. */
final class Harness {
    private Harness() {
    }

    /** Constructs (and, like a table going live, resumes) {@code integrity <args>} with the given length. */
    static IntegrityTarget open(Map<String, BlockDevice> devices, long lengthSectors, String args) throws TargetException {
        IntegrityTarget t = construct(devices, lengthSectors, args);
        t.resume();
        return t;
    }

    static IntegrityTarget construct(Map<String, BlockDevice> devices, long lengthSectors, String args) throws TargetException {
        Context ctx = new Context(devices, lengthSectors);
        return (IntegrityTarget) new IntegrityTarget.Type().construct(ctx, new Args(List.of(args.trim().split("\\s+"))));
    }

    static IntegrityTarget open(MemoryDevice dev, long lengthSectors, String argsAfterDevice) throws TargetException {
        return open(Map.of("dev", dev), lengthSectors, "dev " + argsAfterDevice);
    }

    private record Context(Map<String, BlockDevice> devices, long length) implements TargetContext {
        @Override
        public long begin() {
            return 0;
        }

        @Override
        public boolean readOnly() {
            return false;
        }

        @Override
        public BlockDevice device(Args.Arg arg, long startSector, long lengthSectors) throws TargetException {
            BlockDevice d = devices.get(arg.text());
            if (d == null) {
                throw arg.error("no such test device");
            }
            return d;
        }

        @Override
        public void raiseEvent() {
        }

        @Override
        public String deviceName() {
            return "test";
        }
    }

    static byte[] read(IntegrityTarget t, long sector, int sectors) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(sectors << 9);
        t.read(sector << 9, b);
        return b.array();
    }

    static void write(IntegrityTarget t, long sector, byte[] data, boolean fua) throws IOException {
        t.write(sector << 9, ByteBuffer.wrap(data), fua);
    }

    static byte[] le64(long v) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, v).array();
    }

    static byte[] le32(int v) {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(0, v).array();
    }

    static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        byte[] out = new byte[n];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    static boolean allZero(byte[] b) {
        for (byte x : b) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }

    /** Runs an external tool with {@code stdin} as its input; its output as ISO-8859-1 (byte for byte). */
    static String run(List<String> command, byte[] stdin) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        // Fed from another thread: a tool that answers while it reads would otherwise fill the pipe and stall.
        Thread feeder = Thread.ofVirtual().start(() -> {
            try (OutputStream in = p.getOutputStream()) {
                in.write(stdin);
            } catch (IOException e) {
                p.destroy();
            }
        });
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (InputStream s = p.getInputStream()) {
            s.transferTo(out);
        }
        feeder.join();
        if (p.waitFor() != 0) {
            throw new IOException("exit status " + p.exitValue() + " of " + command);
        }
        return out.toString(StandardCharsets.ISO_8859_1);
    }

    static byte[] runBytes(List<String> command, byte[] stdin) throws IOException, InterruptedException {
        return run(command, stdin).getBytes(StandardCharsets.ISO_8859_1);
    }

    static byte[] pattern(int length, long seed) {
        byte[] b = new byte[length];
        new java.util.Random(seed).nextBytes(b);
        return b;
    }

    static byte[] copy(byte[] b, int from, int length) {
        return Arrays.copyOfRange(b, from, from + length);
    }
}
