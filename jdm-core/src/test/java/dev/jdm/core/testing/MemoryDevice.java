package dev.jdm.core.testing;

import dev.jdm.core.io.BlockDevice;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A block device in a byte array, for tests that need no file. It counts writes and flushes and, while
 * recording, remembers every write and flush in order (and every read), so a test can rebuild the device
 * as a crash at any point would have left it. Its next flush can be made to fail once
 * ({@link #failNextFlush}): a commit that dies after its blocks, before its superblock.
 */
public final class MemoryDevice implements BlockDevice {
    /** One event on the device: a write (bytes at an offset) or a flush (bytes null). */
    public record Event(long offset, byte[] bytes, boolean fua) {
        public boolean isFlush() {
            return bytes == null;
        }
    }

    /** One read while recording: where and how many bytes. */
    public record Read(long offset, int length) {
    }

    private final String name;
    private final byte[] bytes;
    private final List<Event> events = new ArrayList<>();
    private final List<Read> reads = new ArrayList<>();
    private boolean recording;
    private int writes;
    private int flushes;
    private String failNextFlush;

    public MemoryDevice(long size) {
        this("memory", Math.toIntExact(size));
    }

    public MemoryDevice(String name, int size) {
        this(name, new byte[size]);
    }

    public MemoryDevice(String name, byte[] contents) {
        this.name = name;
        this.bytes = contents;
    }

    /** The device's bytes themselves (not a copy): tests read and change them in place. */
    public byte[] bytes() {
        return bytes;
    }

    public byte[] snapshot() {
        return bytes.clone();
    }

    public byte[] slice(long offset, int length) {
        return Arrays.copyOfRange(bytes, (int) offset, (int) offset + length);
    }

    public synchronized int writes() {
        return writes;
    }

    public synchronized int flushes() {
        return flushes;
    }

    public synchronized void record(boolean on) {
        recording = on;
        events.clear();
        reads.clear();
    }

    public synchronized List<Read> reads() {
        return List.copyOf(reads);
    }

    public synchronized List<Event> events() {
        return List.copyOf(events);
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
        checkRange("read", offset, n);
        dst.put(bytes, (int) offset, n);
        if (recording) {
            reads.add(new Read(offset, n));
        }
    }

    @Override
    public synchronized void write(long offset, ByteBuffer src, boolean fua) {
        int n = src.remaining();
        checkRange("write", offset, n);
        byte[] data = new byte[n];
        src.get(data);
        System.arraycopy(data, 0, bytes, (int) offset, n);
        writes++;
        if (recording) {
            events.add(new Event(offset, data, fua));
        }
    }

    /** The next flush throws an IOException with this message, once. */
    public synchronized void failNextFlush(String message) {
        failNextFlush = message;
    }

    @Override
    public synchronized void flush() throws IOException {
        if (failNextFlush != null) {
            String message = failNextFlush;
            failNextFlush = null;
            throw new IOException(message);
        }
        flushes++;
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

    private void checkRange(String what, long offset, int n) {
        if (offset < 0 || offset + n > bytes.length) {
            throw new IndexOutOfBoundsException(what + " beyond the device: " + offset + "+" + n);
        }
    }
}
