package dev.jdm.targets.snapshot.store;

import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.TargetException;
import dev.jdm.core.testing.ForwardingDevice;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/** Devices and table words the store tests share. */
final class StoreDevices {
    private StoreDevices() {
    }

    /** The store's two words at their place in a snapshot line ({@code <origin> <cow> <type> <chunk>}). */
    static Args storeArgs(String type, String chunk) {
        Args args = new Args(List.of("origin", "cow", type, chunk));
        args.skip(2);
        return args;
    }

    static ExceptionStore create(BlockDevice origin, BlockDevice cow, String type, int chunk) throws TargetException {
        return ExceptionStores.create(storeArgs(type, Integer.toString(chunk)), origin, cow);
    }

    static PersistentStore persistent(BlockDevice origin, BlockDevice cow, int chunk) throws TargetException {
        return (PersistentStore) create(origin, cow, "P", chunk);
    }

    /** The 16 bytes of an entry as the kernel lays it out. */
    static byte[] entry(long oldChunk, long newChunk) {
        return ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(oldChunk).putLong(newChunk).array();
    }

    /** A device in front of another: its own logical block size, counted FUA writes, and slow writes if asked. */
    static final class Wrapped extends ForwardingDevice {
        private final int logicalBlockSize;
        private final long writeDelayNanos;
        final AtomicInteger fuaWrites = new AtomicInteger();

        Wrapped(BlockDevice inner, int logicalBlockSize, long writeDelayNanos) {
            super(inner);
            this.logicalBlockSize = logicalBlockSize;
            this.writeDelayNanos = writeDelayNanos;
        }

        @Override
        public int logicalBlockSize() {
            return logicalBlockSize;
        }

        @Override
        public boolean isReadOnly() {
            return false;
        }

        @Override
        public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
            if (fua) {
                fuaWrites.incrementAndGet();
            }
            if (writeDelayNanos > 0) {
                LockSupport.parkNanos(writeDelayNanos);
            }
            inner.write(offset, src, fua);
        }
    }
}
