package dev.jdm.targets.integrity;

import dev.jdm.core.io.BlockDevice;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A block device in a byte array that remembers every write and flush in order, so a test can
 * rebuild the device as a crash at any point would have left it (and, while recording, its reads).
 */
final class MemoryDevice implements BlockDevice {
    /** One event on the device: a write (bytes at an offset) or a flush (bytes null). */
    record Event(long offset, byte[] bytes, boolean fua) {
        boolean isFlush() {
            return bytes == null;
        }
    }

    private final String name;
    private final byte[] bytes;
    /** One read while recording: where and how many bytes. */
    record Read(long offset, int length) {
    }

    private final List<Event> events = new ArrayList<>();
    private final List<Read> reads = new ArrayList<>();
    private boolean recording;

    MemoryDevice(String name, int size) {
        this(name, new byte[size]);
    }

    MemoryDevice(String name, byte[] contents) {
        this.name = name;
        this.bytes = contents;
    }

    byte[] bytes() {
        return bytes;
    }

    byte[] snapshot() {
        return bytes.clone();
    }

    synchronized void record(boolean on) {
        recording = on;
        events.clear();
        reads.clear();
    }

    synchronized List<Read> reads() {
        return List.copyOf(reads);
    }

    synchronized List<Event> events() {
        return List.copyOf(events);
    }

    byte[] slice(long offset, int length) {
        return Arrays.copyOfRange(bytes, (int) offset, (int) offset + length);
    }

    @Override
    public String id() {
        return "/mem/" + name;
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
    public synchronized void read(long offset, ByteBuffer dst) {
        int n = dst.remaining();
        if (offset < 0 || offset + n > bytes.length) {
            throw new IndexOutOfBoundsException("read beyond the device: " + offset + "+" + n);
        }
        dst.put(bytes, (int) offset, n);
        if (recording) {
            reads.add(new Read(offset, n));
        }
    }

    @Override
    public synchronized void write(long offset, ByteBuffer src, boolean fua) {
        int n = src.remaining();
        if (offset < 0 || offset + n > bytes.length) {
            throw new IndexOutOfBoundsException("write beyond the device: " + offset + "+" + n);
        }
        byte[] data = new byte[n];
        src.get(data);
        System.arraycopy(data, 0, bytes, (int) offset, n);
        if (recording) {
            events.add(new Event(offset, data, fua));
        }
    }

    @Override
    public synchronized void flush() {
        if (recording) {
            events.add(new Event(-1, null, false));
        }
    }

    @Override
    public synchronized void discard(long offset, long length) {
        Arrays.fill(bytes, (int) offset, (int) (offset + length), (byte) 0);
    }

    @Override
    public synchronized void writeZeroes(long offset, long length, boolean mayUnmap) {
        Arrays.fill(bytes, (int) offset, (int) (offset + length), (byte) 0);
    }

    @Override
    public void close() {
    }
}
