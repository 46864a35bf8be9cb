package dev.jdm.bench;

import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * aes-xts-plain64 with 4 KiB crypto sectors through the crypt target, in process: every operation
 * is one 4 KiB write (encryption) or read (decryption) through the mapped device, as
 * {@code openssl speed -evp aes-256-xts -bytes 4096} encrypts one 4 KiB unit per call. The crypt
 * table sits on a {@code zero} device, so what is measured is the cipher plus the engine's path
 * (suspend gate, table lookup, worker pool), not a disk or the page cache.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class CryptBenchmark {
    static final int IO = 4096;
    static final long DEVICE_BYTES = 1L << 30;
    /** AES-256-XTS: two 32-byte keys, not secret. */
    static final String KEY = "6c2f0ba8c5f8d4a1e3b79260f1d84ac3".repeat(2) + "0f9e8d7c6b5a49382716a5b4c3d2e1f0".repeat(2);

    /** One crypt device shared by all benchmark threads, as connections of one export would share it. */
    @State(Scope.Benchmark)
    public static class Device {
        DeviceMapper dm;
        MappedDevice crypt;

        @Setup(Level.Trial)
        public void setUp() throws Exception {
            dm = DeviceMapper.create();
            long sectors = DEVICE_BYTES >> 9;
            dm.create("backing", null, "0 " + sectors + " zero", false);
            dm.create("crypt", null, "0 " + sectors + " crypt aes-xts-plain64 " + KEY + " 0 /dev/mapper/backing 0 1 sector_size:4096", false);
            crypt = dm.device("crypt");
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            dm.close();
        }
    }

    /** Each thread's buffer and its walk over the device's 4 KiB sectors. */
    @State(Scope.Thread)
    public static class Buffer {
        final ByteBuffer data = ByteBuffer.allocate(IO);
        final SplittableRandom random = new SplittableRandom(42);
        long offset;

        @Setup(Level.Trial)
        public void fill() {
            random.nextBytes(data.array());
        }

        long next() {
            offset = (offset + IO) % DEVICE_BYTES;
            return offset;
        }
    }

    @Benchmark
    @Threads(1)
    public void encrypt1(Device d, Buffer b) throws IOException {
        encrypt(d, b);
    }

    @Benchmark
    @Threads(2)
    public void encrypt2(Device d, Buffer b) throws IOException {
        encrypt(d, b);
    }

    @Benchmark
    @Threads(1)
    public ByteBuffer decrypt1(Device d, Buffer b) throws IOException {
        return decrypt(d, b);
    }

    @Benchmark
    @Threads(2)
    public ByteBuffer decrypt2(Device d, Buffer b) throws IOException {
        return decrypt(d, b);
    }

    private static void encrypt(Device d, Buffer b) throws IOException {
        d.crypt.write(b.next(), b.data.clear(), false);
    }

    private static ByteBuffer decrypt(Device d, Buffer b) throws IOException {
        d.crypt.read(b.next(), b.data.clear());
        return b.data;
    }
}
