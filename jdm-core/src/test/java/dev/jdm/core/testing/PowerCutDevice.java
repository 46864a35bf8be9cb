package dev.jdm.core.testing;

import dev.jdm.core.io.BlockDevice;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The power-cut device tests share, in its two forms. Live: a wrapper whose writes are counted in
 * 4 KiB pieces; the piece after the first {@code cutAfter} is not done and fails with {@link PowerCut},
 * as does everything after it (the writer is dead from then on). With {@code loseUnflushed}, pieces sit
 * in a volatile cache until a flush, and the cut loses them too. Replayed: {@link #imageAfter} rebuilds
 * what a cut at any point of a {@link MemoryDevice} recording leaves on the medium, torn writes included.
 */
public final class PowerCutDevice implements BlockDevice {
    /** The unit a live cut falls between: the power can go between any two 4 KiB pieces of a longer write. */
    public static final int PIECE = 4096;

    private final BlockDevice inner;
    private final int cutAfter;
    private final boolean loseUnflushed;
    private final Map<Long, byte[]> volatileCache = new LinkedHashMap<>();
    private int writes;
    private boolean dead;

    /** {@code cutAfter} {@link Integer#MAX_VALUE} never cuts: a dry run that counts the pieces. */
    public PowerCutDevice(BlockDevice inner, int cutAfter, boolean loseUnflushed) {
        this.inner = inner;
        this.cutAfter = cutAfter;
        this.loseUnflushed = loseUnflushed;
    }

    /** The pieces written so far (done or cached), the count a cut point is chosen from. */
    public synchronized int writes() {
        return writes;
    }

    /** Thrown by the write the power went during and by everything after it. */
    public static final class PowerCut extends IOException {
        PowerCut() {
            super("power cut");
        }
    }

    private void alive() throws PowerCut {
        if (dead) {
            throw new PowerCut();
        }
    }

    @Override
    public synchronized void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        while (src.hasRemaining()) {
            alive();
            if (writes >= cutAfter) {
                dead = true;
                throw new PowerCut();
            }
            writes++;
            int n = Math.min(PIECE, src.remaining());
            ByteBuffer one = src.slice(src.position(), n);
            src.position(src.position() + n);
            if (loseUnflushed) {
                byte[] b = new byte[n];
                one.get(b);
                volatileCache.put(offset, b);
            } else {
                inner.write(offset, one, fua);
            }
            offset += n;
        }
    }

    @Override
    public synchronized void flush() throws IOException {
        alive();
        for (var e : volatileCache.entrySet()) {
            inner.write(e.getKey(), ByteBuffer.wrap(e.getValue()), false);
        }
        volatileCache.clear();
        inner.flush();
    }

    /** The medium's bytes with the still-cached pieces laid over them, as the writer sees its own writes. */
    @Override
    public synchronized void read(long offset, ByteBuffer dst) throws IOException {
        int n = dst.remaining();
        byte[] seen = new byte[n];
        inner.read(offset, ByteBuffer.wrap(seen));
        for (var e : volatileCache.entrySet()) {
            long from = Math.max(offset, e.getKey());
            long to = Math.min(offset + n, e.getKey() + e.getValue().length);
            if (from < to) {
                System.arraycopy(e.getValue(), (int) (from - e.getKey()), seen, (int) (from - offset), (int) (to - from));
            }
        }
        dst.put(seen);
    }

    @Override
    public synchronized void writeZeroes(long offset, long length, boolean mayUnmap) throws IOException {
        write(offset, ByteBuffer.allocate(Math.toIntExact(length)), false);
    }

    /** Discards are hints the cut may lose: they are dropped. */
    @Override
    public synchronized void discard(long offset, long length) throws IOException {
        alive();
    }

    @Override
    public String id() {
        return inner.id();
    }

    @Override
    public long size() {
        return inner.size();
    }

    @Override
    public boolean isReadOnly() {
        return false;
    }

    @Override
    public void close() {
    }

    /**
     * What a cut after the first {@code cut} recorded events leaves on a medium that held {@code clean}:
     * those events' writes, and with {@code tear} a random choice of the {@code tearUnit}-byte units of
     * event {@code cut} (a write torn by the cut). Flushes change nothing on the medium.
     */
    public static byte[] imageAfter(byte[] clean, List<MemoryDevice.Event> events, int cut, Random tear, int tearUnit) {
        byte[] image = clean.clone();
        for (int i = 0; i < cut; i++) {
            apply(image, events.get(i), null, tearUnit);
        }
        if (tear != null) {
            apply(image, events.get(cut), tear, tearUnit);
        }
        return image;
    }

    private static void apply(byte[] image, MemoryDevice.Event e, Random tear, int unit) {
        if (e.isFlush()) {
            return;
        }
        for (int at = 0; at < e.bytes().length; at += unit) {
            if (tear == null || tear.nextBoolean()) {
                System.arraycopy(e.bytes(), at, image, (int) e.offset() + at, Math.min(unit, e.bytes().length - at));
            }
        }
    }
}
