package dev.jdm.targets.integrity;

import dev.jdm.core.io.BlockDevice;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The tag store, buffered the way dm-bufio buffers it for dm-integrity: whole buffers of
 * {@code buffer_sectors} read on demand, changed in memory, their changed sectors written back on
 * flush or eviction.
 * Tag ranges are byte positions on the metadata device. Callers hold the target's lock.
 */
final class MetadataCache {
    private static final int MAX_BUFFERS = 256;

    private final BlockDevice device;
    private final long base;
    private final int bufferBytes;
    private final LinkedHashMap<Long, Buffer> buffers = new LinkedHashMap<>(64, 0.75f, true);

    /** One buffer; only its changed byte range [dirtyFrom, dirtyTo), widened to sectors, is written back. */
    private static final class Buffer {
        final byte[] bytes;
        int dirtyFrom = Integer.MAX_VALUE;
        int dirtyTo;

        Buffer(int size) {
            bytes = new byte[size];
        }

        void markDirty(int from, int to) {
            dirtyFrom = Math.min(dirtyFrom, from);
            dirtyTo = Math.max(dirtyTo, to);
        }

        boolean dirty() {
            return dirtyTo > 0;
        }
    }

    MetadataCache(BlockDevice device, long baseByte, int bufferBytes) {
        this.device = device;
        this.base = baseByte;
        this.bufferBytes = bufferBytes;
    }

    void read(long tagByte, byte[] dst, int offset, int length) throws IOException {
        transfer(tagByte, dst, offset, length, false);
    }

    void write(long tagByte, byte[] src, int offset, int length) throws IOException {
        transfer(tagByte, src, offset, length, true);
    }

    private void transfer(long tagByte, byte[] bytes, int offset, int length, boolean write) throws IOException {
        long rel = tagByte - base;
        while (length > 0) {
            long index = rel / bufferBytes;
            int within = (int) (rel % bufferBytes);
            int n = Math.min(length, bufferBytes - within);
            Buffer b = buffer(index);
            if (write) {
                System.arraycopy(bytes, offset, b.bytes, within, n);
                b.markDirty(within, within + n);
            } else {
                System.arraycopy(b.bytes, within, bytes, offset, n);
            }
            rel += n;
            offset += n;
            length -= n;
        }
    }

    private Buffer buffer(long index) throws IOException {
        Buffer b = buffers.get(index);
        if (b != null) {
            return b;
        }
        if (buffers.size() >= MAX_BUFFERS) {
            Iterator<Map.Entry<Long, Buffer>> eldest = buffers.entrySet().iterator();
            Map.Entry<Long, Buffer> e = eldest.next();
            writeBack(e.getKey(), e.getValue());
            eldest.remove();
        }
        b = new Buffer(bufferBytes);
        device.read(base + index * bufferBytes, ByteBuffer.wrap(b.bytes));
        buffers.put(index, b);
        return b;
    }

    private void writeBack(long index, Buffer b) throws IOException {
        if (b.dirty()) {
            int from = b.dirtyFrom & ~511;
            int to = (b.dirtyTo + 511) & ~511;
            device.write(base + index * bufferBytes + from, ByteBuffer.wrap(b.bytes, from, to - from), false);
            b.dirtyFrom = Integer.MAX_VALUE;
            b.dirtyTo = 0;
        }
    }

    /** Writes every changed buffer and flushes the device ({@code dm_bufio_write_dirty_buffers}). */
    void flush() throws IOException {
        for (Map.Entry<Long, Buffer> e : buffers.entrySet()) {
            writeBack(e.getKey(), e.getValue());
        }
        device.flush();
    }
}
