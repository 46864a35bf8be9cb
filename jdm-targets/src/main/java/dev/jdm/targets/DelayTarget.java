package dev.jdm.targets;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.Errno;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.Args.Rule;
import dev.jdm.core.spi.FilterTarget;
import dev.jdm.core.spi.Target;
import dev.jdm.core.spi.TargetContext;
import dev.jdm.core.spi.TargetException;
import dev.jdm.core.spi.TargetType;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
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
public final class DelayTarget extends FilterTarget {

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
            DelayClass read = delayClass(ctx, args, "");
            DelayClass write = n >= 6 ? delayClass(ctx, args, "write ") : read;
            DelayClass flush = n == 9 ? delayClass(ctx, args, "flush ") : write;
            return new DelayTarget(read, write, flush, n);
        }

        /** One {@code <dev> <offset> <delay_ms>} triple at the cursor. */
        private static DelayClass delayClass(TargetContext ctx, Args args, String what) throws TargetException {
            Args.Arg device = args.next(what + "device");
            long start = args.shiftSectors(what + "device sector");
            long delayMs = args.shiftNumber(Rule.SCANF_U64, what + "delay", 0, 0xffff_ffffL);
            BlockDevice dev = ctx.device(device, start, ctx.length());
            return new DelayClass(new Route(dev, start), delayMs);
        }
    }

    /** Where one class of I/O goes and how long it waits first. */
    private record DelayClass(Route route, long delayMs) {
        String format() {
            return route.table() + " " + delayMs;
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
    /** Per class, the held I/Os in the order they came (the kernel's list of delayed bios); status counts them. */
    private final List<ArrayDeque<Held>> waiting = List.of(new ArrayDeque<>(), new ArrayDeque<>(), new ArrayDeque<>());

    /** One held I/O: when its delay is over (a class, not a record: two with one deadline are two I/Os). */
    private static final class Held {
        final long deadline;

        Held(long deadline) {
            this.deadline = deadline;
        }
    }

    private DelayTarget(DelayClass read, DelayClass write, DelayClass flush, int argCount) {
        super(read.route, write.route, flush.route);
        this.read = read;
        this.write = write;
        this.flush = flush;
        this.argCount = argCount;
    }

    /**
     * Parks the calling I/O until its class's delay has passed or the target is suspended. I/O of one class
     * leaves in the order it came, as the kernel's worker walks its list of delayed bios: a held I/O whose time
     * is up still waits for the ones of its class that came before it, so two writes to one block land in the
     * order they were issued however the threads are woken.
     */
    private void hold(DelayClass c, int counter) throws IOException {
        if (c.delayMs == 0) {
            return;
        }
        lock.lock();
        try {
            if (!mayDelay) {
                return;
            }
            Held me = new Held(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(c.delayMs));
            ArrayDeque<Held> queue = waiting.get(counter);
            queue.addLast(me);
            try {
                long left;
                while (mayDelay && ((left = me.deadline - System.nanoTime()) > 0 || queue.peekFirst() != me)) {
                    if (left > 0) {
                        released.awaitNanos(left);
                    } else {
                        released.await(); // time is up, but an earlier I/O of the class has not left yet
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new BlockIoException(Errno.EIO, "interrupted while held by the delay target", e);
            } finally {
                queue.remove(me);
                Held next = queue.peekFirst();
                if (next != null && next.deadline - System.nanoTime() <= 0) {
                    released.signalAll(); // it may be waiting only for this one to leave
                }
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    protected boolean beforeRead(long offset, int length) throws IOException {
        hold(read, READS);
        return false;
    }

    /** A read without its delay is only allowed when reads have none. */
    @Override
    protected boolean readsPassThrough(long offset, long length) {
        return read.delayMs == 0;
    }

    @Override
    protected ByteBuffer beforeWrite(long offset, ByteBuffer piece, boolean fua) throws IOException {
        hold(write, WRITES);
        return piece;
    }

    /** Discards and zeroing are writes, as in the kernel; flushes have their own class. */
    @Override
    protected boolean beforeDataless(Dataless op, long offset, long length) throws IOException {
        if (op == Dataless.FLUSH) {
            hold(flush, FLUSHES);
        } else {
            hold(write, WRITES);
        }
        return true;
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
            return waiting.get(READS).size() + " " + waiting.get(WRITES).size() + " " + waiting.get(FLUSHES).size();
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
}
