package dev.jdm.targets;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.Sectors;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.ExtentSink;
import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.Target;
import dev.jdm.core.spi.TargetContext;
import dev.jdm.core.spi.TargetException;
import dev.jdm.core.spi.TargetType;
import dev.jdm.targets.logwrites.LogFormat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * {@code log-writes <dev> <log_dev>} (dm-log-writes.c 1.1.0): passes all I/O to {@code dev} and records
 * every write, discard, flush and mark on {@code log_dev} in the kernel's format
 * ({@link LogFormat}), so that {@link dev.jdm.targets.logwrites.LogReplay} (or replay-log) can
 * rebuild the device as it was at any flush or mark.
 * <p>
 * The log follows the order in which data became durable, with the kernel's rules: a completed plain
 * write or discard waits on an "unflushed" list; a flush takes that list when it is issued and, once
 * the flush completes, logs those entries and then itself; a FUA write is logged as soon as it
 * completes; a mark is logged at once. The super block (entry count) is rewritten after each FUA or
 * mark entry. When the target is destroyed, the unflushed list and a {@code dm-log-writes-end} mark
 * are logged. Logging stops for good ({@code logging_disabled}) when the log device is full or a log
 * write fails; the data device keeps working.
 * <p>
 * Like the kernel, I/O reaches {@code dev} at the mapped device's sector (target begin + offset), and
 * log entries count in {@code dev}'s logical block size. Differences: writes not aligned to that block
 * size are refused (EINVAL: the format cannot express them, and the kernel never sees them); a write
 * that fails on {@code dev} is not logged; zeroing is logged as a write of zeroes (what the kernel's
 * block layer turns it into for this target); extra table arguments are refused.
 */
public final class LogWritesTarget implements Target {
    private static final System.Logger LOG = System.getLogger(LogWritesTarget.class.getName());

    public static final class Type implements TargetType {
        @Override
        public String name() {
            return "log-writes";
        }

        @Override
        public Version version() {
            return new Version(1, 1, 0);
        }

        @Override
        public Target construct(TargetContext ctx, Args args) throws TargetException {
            args.requireCount(2, "<dev> <log_dev>");
            BlockDevice dev = ctx.device(args.next("device"), ctx.begin(), ctx.length());
            int sectorSize = dev.logicalBlockSize();
            BlockDevice logDev = ctx.device(args.next("log device"), 0, Sectors.fromBytes(2L * sectorSize));
            return new LogWritesTarget(dev, logDev, Sectors.toBytes(ctx.begin()), sectorSize);
        }
    }

    /** An entry waiting to be logged; {@code data} null with sectors > 0 means zeroes. */
    private record Pending(long sector, long sectors, long flags, byte[] data, byte[] mark) {
    }

    private final BlockDevice device;
    private final BlockDevice logDevice;
    private final long beginByte;
    private final int sectorSize;
    private final long sectorsPerBlock;

    private final ReentrantLock lock = new ReentrantLock();
    private List<Pending> unflushed = new ArrayList<>();
    /** Next free 512-byte sector of the log (the kernel's next_sector). */
    private long nextSector;
    private final long endSector;
    private long loggedEntries;
    private volatile boolean loggingEnabled = true;
    private boolean closed;

    private LogWritesTarget(BlockDevice device, BlockDevice logDevice, long beginByte, int sectorSize) {
        this.device = device;
        this.logDevice = logDevice;
        this.beginByte = beginByte;
        this.sectorSize = sectorSize;
        this.sectorsPerBlock = Sectors.fromBytes(sectorSize);
        this.nextSector = sectorsPerBlock;
        this.endSector = Sectors.fromBytes(logDevice.size());
    }

    private void checkAligned(long offset, long length) throws BlockIoException {
        if ((beginByte + offset) % sectorSize != 0 || length % sectorSize != 0) {
            throw new BlockIoException(Errno.EINVAL, "log-writes: I/O of " + length + " bytes at " + offset
                    + " is not aligned to the logged device's " + sectorSize + "-byte blocks");
        }
    }

    private long firstBlock(long offset) {
        return (beginByte + offset) / sectorSize;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        device.read(beginByte + offset, dst);
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        if (!loggingEnabled) {
            device.write(beginByte + offset, src, fua);
            return;
        }
        int length = src.remaining();
        checkAligned(offset, length);
        // Copied before the write: the caller may reuse its buffer as soon as we return.
        byte[] data = new byte[length];
        src.duplicate().get(data);
        device.write(beginByte + offset, src, fua);
        completed(new Pending(firstBlock(offset), length / sectorSize, fua ? LogFormat.FLAG_FUA : 0, data, null));
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayUnmap) throws IOException {
        if (!loggingEnabled) {
            device.writeZeroes(beginByte + offset, length, mayUnmap);
            return;
        }
        checkAligned(offset, length);
        device.writeZeroes(beginByte + offset, length, mayUnmap);
        completed(new Pending(firstBlock(offset), length / sectorSize, 0, null, null));
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        if (!loggingEnabled) {
            discardOnDevice(offset, length);
            return;
        }
        checkAligned(offset, length);
        discardOnDevice(offset, length);
        completed(new Pending(firstBlock(offset), length / sectorSize, LogFormat.FLAG_DISCARD, null, null));
    }

    /** A device without discard still sees the discard logged, as in the kernel. */
    private void discardOnDevice(long offset, long length) throws IOException {
        if (device.supportsDiscard()) {
            device.discard(beginByte + offset, length);
        }
    }

    /** Where a completed write goes: FUA straight into the log, anything else onto the unflushed list. */
    private void completed(Pending p) {
        lock.lock();
        try {
            if ((p.flags & LogFormat.FLAG_FUA) != 0) {
                log(p);
            } else {
                unflushed.add(p);
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void flush() throws IOException {
        if (!loggingEnabled) {
            device.flush();
            return;
        }
        List<Pending> covered;
        lock.lock();
        try {
            covered = unflushed;
            unflushed = new ArrayList<>();
        } finally {
            lock.unlock();
        }
        device.flush();
        lock.lock();
        try {
            covered.forEach(this::log);
            log(new Pending(0, 0, LogFormat.FLAG_FLUSH, null, null));
        } finally {
            lock.unlock();
        }
    }

    /** Appends one entry to the log (lock held), or gives up logging for good if it does not fit or fails. */
    private void log(Pending p) {
        if (!loggingEnabled) {
            return;
        }
        long entrySector = nextSector;
        boolean carriesData = (p.flags & LogFormat.FLAG_DISCARD) == 0;
        if (carriesData) {
            nextSector += p.sectors * sectorsPerBlock;
        }
        nextSector += sectorsPerBlock;
        if (nextSector >= endSector) {
            LOG.log(System.Logger.Level.ERROR, "log-writes: ran out of space on the log device {0}", logDevice.id());
            loggingEnabled = false;
            return;
        }
        loggedEntries++;
        try {
            long at = Sectors.toBytes(entrySector);
            logDevice.write(at, LogFormat.encodeEntry(p.sector, p.sectors, p.flags, p.mark, sectorSize), false);
            if (carriesData && p.sectors > 0) {
                long dataAt = at + sectorSize;
                if (p.data != null) {
                    logDevice.write(dataAt, ByteBuffer.wrap(p.data), false);
                } else {
                    logDevice.writeZeroes(dataAt, p.sectors * sectorSize, false);
                }
            }
            if ((p.flags & (LogFormat.FLAG_FUA | LogFormat.FLAG_MARK)) != 0) {
                logDevice.write(0, LogFormat.encodeSuper(loggedEntries, sectorSize), false);
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.ERROR, "log-writes: error writing the log, logging stops", e);
            loggingEnabled = false;
        }
    }

    /** {@code mark <text>}: logs a mark entry now (ahead of writes still waiting for a flush, as in the kernel). */
    @Override
    public String message(Args argv) throws DmException {
        if (argv.count() != 2) {
            throw new DmException(Errno.EINVAL, "log-writes: invalid message arguments, expected 2 (mark <text>), got " + argv.count());
        }
        if (!argv.shiftWord("message").equals("mark")) {
            throw new DmException(Errno.EINVAL, "log-writes: unrecognised message \"" + argv.get(0) + "\" (only mark <text>)");
        }
        mark(argv.shift("mark text"));
        return null;
    }

    private void mark(String text) {
        lock.lock();
        try {
            log(new Pending(0, 0, LogFormat.FLAG_MARK, null, LogFormat.markBytes(text, sectorSize)));
        } finally {
            lock.unlock();
        }
    }

    /** Logs what still waits for a flush, then the end mark (which also rewrites the super block). */
    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            unflushed.forEach(this::log);
            unflushed = new ArrayList<>();
            log(new Pending(0, 0, LogFormat.FLAG_MARK, null, LogFormat.markBytes(LogFormat.END_MARK, sectorSize)));
        } finally {
            lock.unlock();
        }
        try {
            logDevice.flush();
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "log-writes: flushing the log device failed", e);
        }
    }

    @Override
    public void allocation(long offset, long length, ExtentSink sink) throws IOException {
        device.allocation(beginByte + offset, length, sink);
    }

    /** {@code <logged_entries> <next_free_log_sector - 1>[ logging_disabled]}, sectors of 512 bytes. */
    @Override
    public String status() {
        lock.lock();
        try {
            return loggedEntries + " " + (nextSector - 1) + (loggingEnabled ? "" : " logging_disabled");
        } finally {
            lock.unlock();
        }
    }

    @Override
    public String table() {
        return device.id() + " " + logDevice.id();
    }

    @Override
    public List<BlockDevice> devices() {
        return List.of(device, logDevice);
    }
}
