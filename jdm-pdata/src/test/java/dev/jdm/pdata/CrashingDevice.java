package dev.jdm.pdata;

import dev.jdm.core.io.BlockDevice;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Simulates a power cut: the write after the first {@code cutAfter} is not done and fails, as does everything
 * after it (the writer is dead from then on). With {@code loseUnflushed}, writes sit in a volatile cache until
 * a flush, and the cut also loses them.
 */
final class CrashingDevice implements BlockDevice {
    private final BlockDevice inner;
    private final int cutAfter;
    private final boolean loseUnflushed;
    private final Map<Long, byte[]> volatileCache = new LinkedHashMap<>();
    int writes;
    private boolean dead;

    CrashingDevice(BlockDevice inner, int cutAfter, boolean loseUnflushed) {
        this.inner = inner;
        this.cutAfter = cutAfter;
        this.loseUnflushed = loseUnflushed;
    }

    private boolean cut() {
        return writes >= cutAfter;
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        // Counted and cut per metadata block: the power can go between any two blocks of a longer write.
        while (src.hasRemaining()) {
            if (dead || cut()) {
                dead = true;
                throw new PowerCut();
            }
            writes++;
            int n = Math.min(Block.SIZE, src.remaining());
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
    public void flush() throws IOException {
        if (dead) {
            throw new PowerCut();
        }
        for (var e : volatileCache.entrySet()) {
            inner.write(e.getKey(), ByteBuffer.wrap(e.getValue()), false);
        }
        volatileCache.clear();
        inner.flush();
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        byte[] pending = volatileCache.get(offset);
        if (pending != null && pending.length == dst.remaining()) {
            dst.put(pending);
        } else {
            inner.read(offset, dst);
        }
    }

    static final class PowerCut extends IOException {
        PowerCut() {
            super("power cut");
        }
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
    public void discard(long offset, long length) {
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayUnmap) {
        throw new UnsupportedOperationException("metadata is written block by block");
    }

    @Override
    public void close() {
    }
}
