package dev.jdm.targets;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.Errno;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.ExtentSink;
import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.Target;
import dev.jdm.core.spi.TargetContext;
import dev.jdm.core.spi.TargetException;
import dev.jdm.core.spi.TargetType;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * {@code delay <dev> <offset> <delay_ms> [<wdev> <woff> <wdelay> [<fdev> <foff> <fdelay>]]} (dm-delay.c):
 * holds reads, writes and flushes for their class's delay before passing them on, each class to its
 * own device and offset. With 3 arguments the one triple serves all classes; with 6 the second triple
 * serves writes and flushes.
 * <p>
 * Every I/O already runs on its own (virtual) thread, so an I/O is held by parking its thread until
 * it expires: nothing else waits, neither other targets of the table nor other devices. Presuspend
 * wakes every held I/O at once and stops delaying until resume, as the kernel does.
 */
public final class DelayTarget implements Target {

    public static final class Type implements TargetType {
        @Override
        public String name() {
            return "delay";
        }

        @Override
        public Version version() {
            return new Version(1, 5, 0);
        }

        @Override
        public Target construct(TargetContext ctx, Args args) throws TargetException {
            int n = args.count();
            if (n != 3 && n != 6 && n != 9) {
                throw new TargetException("expected 3, 6 or 9 arguments (<dev> <offset> <delay_ms> for reads,"
                        + " then optionally the same for writes, then for flushes), got " + n);
            }
            DelayClass read = delayClass(ctx, args, 0, "");
            DelayClass write = n >= 6 ? delayClass(ctx, args, 3, "write ") : read;
            DelayClass flush = n == 9 ? delayClass(ctx, args, 6, "flush ") : write;
            return new DelayTarget(read, write, flush, n);
        }

        private static DelayClass delayClass(TargetContext ctx, Args args, int first, String what) throws TargetException {
            long start = args.u64(first + 1, what + "device sector");
            long delayMs = args.u32(first + 2, what + "delay");
            BlockDevice dev = ctx.device(args, first, start, ctx.length());
            return new DelayClass(dev, start, delayMs);
        }
    }

    /** Where one class of I/O goes and how long it waits first. */
    private record DelayClass(BlockDevice device, long startSector, long delayMs) {
        long deviceOffset(long offset) {
            return (startSector << 9) + offset;
        }

        String format() {
            return device.id() + " " + startSector + " " + delayMs;
        }
    }

    private static final int READS = 0;
    private static final int WRITES = 1;
    private static final int FLUSHES = 2;

    private final DelayClass read;
    private final DelayClass write;
    private final DelayClass flush;
    private final int argCount;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition released = lock.newCondition();
    /** False between presuspend and resume: I/O passes without waiting. */
    private boolean mayDelay = true;
    private final int[] held = new int[3];

    private DelayTarget(DelayClass read, DelayClass write, DelayClass flush, int argCount) {
        this.read = read;
        this.write = write;
        this.flush = flush;
        this.argCount = argCount;
    }

    /** Parks the calling I/O until its class's delay has passed or the target is suspended. */
    private void hold(DelayClass c, int counter) throws IOException {
        if (c.delayMs == 0) {
            return;
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(c.delayMs);
        lock.lock();
        try {
            if (!mayDelay) {
                return;
            }
            held[counter]++;
            try {
                long left;
                while (mayDelay && (left = deadline - System.nanoTime()) > 0) {
                    released.awaitNanos(left);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new BlockIoException(Errno.EIO, "interrupted while held by the delay target", e);
            } finally {
                held[counter]--;
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        hold(read, READS);
        read.device.read(read.deviceOffset(offset), dst);
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        hold(write, WRITES);
        write.device.write(write.deviceOffset(offset), src, fua);
    }

    @Override
    public void flush() throws IOException {
        hold(flush, FLUSHES);
        flush.device.flush();
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        hold(write, WRITES);
        write.device.discard(write.deviceOffset(offset), length);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayUnmap) throws IOException {
        hold(write, WRITES);
        write.device.writeZeroes(write.deviceOffset(offset), length, mayUnmap);
    }

    @Override
    public void allocation(long offset, long length, ExtentSink sink) throws IOException {
        read.device.allocation(read.deviceOffset(offset), length, sink);
    }

    @Override
    public boolean supportsDiscard() {
        return write.device.supportsDiscard();
    }

    /** Releases everything held at once; new I/O passes undelayed until resume. */
    @Override
    public void presuspend(boolean noflush) {
        lock.lock();
        try {
            mayDelay = false;
            released.signalAll();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void resume() {
        lock.lock();
        try {
            mayDelay = true;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void close() {
        presuspend(false);
    }

    /** {@code <reads_held> <writes_held> <flushes_held>}. */
    @Override
    public String status() {
        lock.lock();
        try {
            return held[READS] + " " + held[WRITES] + " " + held[FLUSHES];
        } finally {
            lock.unlock();
        }
    }

    /** Echoes as many triples as the table gave (3, 6 or 9 arguments). */
    @Override
    public String table() {
        StringBuilder sb = new StringBuilder(read.format());
        if (argCount >= 6) {
            sb.append(' ').append(write.format());
        }
        if (argCount == 9) {
            sb.append(' ').append(flush.format());
        }
        return sb.toString();
    }

    @Override
    public List<BlockDevice> devices() {
        return List.copyOf(new LinkedHashSet<>(List.of(read.device, write.device, flush.device)));
    }
}
