package dev.jdm.pdata;

import dev.jdm.core.io.BlockDevice;

import java.nio.ByteBuffer;

/** A byte-array BlockDevice for tests that need no file, counting writes and flushes. */
final class MemoryDevice implements BlockDevice {
    final byte[] bytes;
    int writes;
    int flushes;

    MemoryDevice(long size) {
        this.bytes = new byte[Math.toIntExact(size)];
    }

    @Override
    public String id() {
        return "memory";
    }

    @Override
    public long size() {
        return bytes.length;
    }

    @Override
    public boolean isReadOnly() {
        return false;
    }

    @Override
    public void read(long offset, ByteBuffer dst) {
        dst.put(bytes, Math.toIntExact(offset), dst.remaining());
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) {
        writes++;
        src.get(bytes, Math.toIntExact(offset), src.remaining());
    }

    @Override
    public void flush() {
        flushes++;
    }

    @Override
    public void discard(long offset, long length) {
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayUnmap) {
        java.util.Arrays.fill(bytes, Math.toIntExact(offset), Math.toIntExact(offset + length), (byte) 0);
    }

    @Override
    public void close() {
    }
}
