package dev.jdm.core.testing;

import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.ExtentSink;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A device in front of another that passes every call through: a test's wrapper (slow, counting, with another
 * block size) overrides only what it changes.
 */
public abstract class ForwardingDevice implements BlockDevice {
    protected final BlockDevice inner;

    protected ForwardingDevice(BlockDevice inner) {
        this.inner = inner;
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
    public int logicalBlockSize() {
        return inner.logicalBlockSize();
    }

    @Override
    public boolean isReadOnly() {
        return inner.isReadOnly();
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        inner.read(offset, dst);
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        inner.write(offset, src, fua);
    }

    @Override
    public void flush() throws IOException {
        inner.flush();
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        inner.discard(offset, length);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayUnmap) throws IOException {
        inner.writeZeroes(offset, length, mayUnmap);
    }

    @Override
    public void allocation(long offset, long length, ExtentSink sink) throws IOException {
        inner.allocation(offset, length, sink);
    }

    @Override
    public void close() throws IOException {
        inner.close();
    }
}
