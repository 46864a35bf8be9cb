package dev.jdm.targets.logwrites;

import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.FileBlockDevice;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * Reads a dm-log-writes log (written by jdm's log-writes target, the kernel's, or qemu's
 * blklogwrites) and replays it onto a device: all of it, up to an entry or a mark, or step by step
 * with a {@link Cursor} that stops at every flush point. It does what xfstests' replay-log does, as a
 * library: the CLI's {@code jdm log-writes} commands and crash-consistency harnesses sit on top.
 * <p>
 * The log is trusted only as far as its super block's entry count. Entries are decoded once, on
 * first use, and kept (a few dozen bytes each).
 */
public final class LogReplay implements AutoCloseable {
    /** Data is copied from the log to the replay device in pieces of at most this size. */
    private static final int COPY_CHUNK = 1 << 20;

    private final BlockDevice log;
    private final boolean ownsLog;
    private final int sectorSize;
    private final long entryCount;
    private List<LogEntry> entries;

    private LogReplay(BlockDevice log, boolean ownsLog, int sectorSize, long entryCount) {
        this.log = log;
        this.ownsLog = ownsLog;
        this.sectorSize = sectorSize;
        this.entryCount = entryCount;
    }

    /** Opens a log kept in a file or block device, read-only; {@link #close()} closes it. */
    public static LogReplay open(Path logFile) throws IOException {
        BlockDevice dev = FileBlockDevice.open(logFile, FileBlockDevice.Options.READ_ONLY);
        try {
            return open(dev, true);
        } catch (IOException | RuntimeException e) {
            dev.close();
            throw e;
        }
    }

    /** Reads a log from a device the caller keeps owning (a mapped device, for instance). */
    public static LogReplay open(BlockDevice log) throws IOException {
        return open(log, false);
    }

    private static LogReplay open(BlockDevice log, boolean owns) throws IOException {
        if (log.size() < LogFormat.SUPER_SIZE) {
            throw new IOException("not a write log: " + log.size() + " bytes is too small for the super block");
        }
        ByteBuffer sb = ByteBuffer.allocate(LogFormat.SUPER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        log.read(0, sb);
        sb.flip();
        long magic = sb.getLong();
        long version = sb.getLong();
        long entries = sb.getLong();
        int sectorSize = sb.getInt();
        if (magic != LogFormat.MAGIC) {
            throw new IOException("not a write log: magic is 0x" + Long.toHexString(magic)
                    + ", expected 0x" + Long.toHexString(LogFormat.MAGIC));
        }
        if (version != LogFormat.VERSION) {
            throw new IOException("unsupported write log version " + version + " (this reader knows version 1)");
        }
        if (sectorSize < 512 || Integer.bitCount(sectorSize) != 1 || sectorSize > (1 << 24)) {
            throw new IOException("invalid sector size " + Integer.toUnsignedString(sectorSize) + " in the log's super block");
        }
        if (entries < 0) {
            throw new IOException("invalid entry count " + Long.toUnsignedString(entries) + " in the log's super block");
        }
        return new LogReplay(log, owns, sectorSize, entries);
    }

    public int sectorSize() {
        return sectorSize;
    }

    /** The number of entries the super block announces. */
    public long entryCount() {
        return entryCount;
    }

    /** Every entry, in log order (numbered from 0). */
    public List<LogEntry> entries() throws IOException {
        if (entries == null) {
            List<LogEntry> all = new ArrayList<>();
            long offset = sectorSize;
            for (long i = 0; i < entryCount; i++) {
                LogEntry e = readEntry(i, offset);
                all.add(e);
                offset = e.nextLogOffset();
            }
            entries = List.copyOf(all);
        }
        return entries;
    }

    public LogEntry entry(long index) throws IOException {
        if (index < 0 || index >= entryCount) {
            throw new IOException("invalid entry number " + index + ": the log has " + entryCount + " entries");
        }
        return entries().get((int) index);
    }

    private LogEntry readEntry(long index, long offset) throws IOException {
        if (offset > log.size() - sectorSize) {
            throw new IOException("entry " + index + " at log sector " + offset / sectorSize + " lies beyond the end of the log");
        }
        ByteBuffer b = ByteBuffer.allocate(sectorSize).order(ByteOrder.LITTLE_ENDIAN);
        log.read(offset, b);
        b.flip();
        long sector = b.getLong();
        long sectors = b.getLong();
        long flags = b.getLong();
        long dataLen = b.getLong();
        // replay-log's sanity checks: an all-zero header, or a non-mark whose padding is not zero.
        if (flags == 0 && sectors == 0) {
            throw malformed(index, offset, "empty header");
        }
        boolean mark = (flags & LogFormat.FLAG_MARK) != 0;
        if (flags != LogFormat.FLAG_MARK && b.get(LogFormat.ENTRY_HEADER_SIZE) != 0) {
            throw malformed(index, offset, "padding after the header is not zero");
        }
        if (sectors < 0 || sectors > Long.MAX_VALUE / sectorSize || sector < 0 || sector > Long.MAX_VALUE / sectorSize) {
            throw malformed(index, offset, "sector " + Long.toUnsignedString(sector) + " or count "
                    + Long.toUnsignedString(sectors) + " out of range");
        }
        String text = null;
        if (mark) {
            if (dataLen < 0 || dataLen > sectorSize - LogFormat.ENTRY_HEADER_SIZE) {
                throw malformed(index, offset, "mark length " + dataLen + " does not fit in the entry block");
            }
            text = new String(b.array(), LogFormat.ENTRY_HEADER_SIZE, (int) dataLen, StandardCharsets.UTF_8);
        }
        return new LogEntry(index, offset, sector, sectors, flags, text, sectorSize);
    }

    private IOException malformed(long index, long offset, String why) {
        return new IOException("malformed entry " + index + " at log sector " + offset / sectorSize + ": " + why);
    }

    /** The first entry at or after {@code fromIndex} that satisfies the predicate. */
    public Optional<LogEntry> find(long fromIndex, Predicate<LogEntry> predicate) throws IOException {
        List<LogEntry> all = entries();
        for (int i = (int) Math.max(0, fromIndex); i < all.size(); i++) {
            if (predicate.test(all.get(i))) {
                return Optional.of(all.get(i));
            }
        }
        return Optional.empty();
    }

    /** The first mark with exactly this text. */
    public Optional<LogEntry> findMark(String mark) throws IOException {
        return find(0, e -> e.isMark(mark));
    }

    /** The entries after which the device was durable: each FLUSH and FUA entry, in order. */
    public List<LogEntry> flushPoints() throws IOException {
        return entries().stream().filter(e -> e.isFlush() || e.isFua()).toList();
    }

    /** The data an entry wrote (empty for discards, marks and flushes). */
    public ByteBuffer data(LogEntry e) throws IOException {
        if (!e.hasData()) {
            return ByteBuffer.allocate(0);
        }
        if (e.length() > Integer.MAX_VALUE - 8) {
            throw new IOException("entry " + e.index() + " is too large to read at once (" + e.length() + " bytes)");
        }
        ByteBuffer b = ByteBuffer.allocate((int) e.length());
        log.read(e.dataOffset(), b);
        return b.flip();
    }

    /**
     * The entry where a replay with these options would stop (replay-log's {@code --find}), without
     * writing anything; empty if the log ends first.
     */
    public Optional<LogEntry> find(ReplayOptions options) throws IOException {
        long first = firstEntry(options);
        long count = 0;
        for (LogEntry e : entries().subList((int) first, (int) entryCount)) {
            if (options.stopsAt(e, ++count)) {
                return Optional.of(e);
            }
        }
        return Optional.empty();
    }

    private long firstEntry(ReplayOptions options) throws IOException {
        if (options.startMark() != null) {
            LogEntry m = findMark(options.startMark())
                    .orElseThrow(() -> new IOException("couldn't find starting mark \"" + options.startMark() + "\""));
            return m.index() + 1;
        }
        if (options.startEntry() > entryCount || (options.startEntry() == entryCount && entryCount > 0)) {
            throw new IOException("invalid start entry " + options.startEntry() + ": the log has " + entryCount + " entries");
        }
        return options.startEntry();
    }

    /** Why a replay ended. */
    public enum StopReason { END_OF_LOG, STOP_CONDITION, CHECK_FAILED }

    /**
     * @param replayed entries handled (replayed or skipped by sector range)
     * @param last     the last entry handled, null if none
     */
    public record Result(long replayed, LogEntry last, StopReason reason) {
    }

    /**
     * Replays onto {@code target} as the options say, then flushes it. Check points run after the
     * entry that triggers them, with the target flushed first.
     */
    public Result replay(BlockDevice target, ReplayOptions options) throws IOException {
        Cursor cursor = cursor(target, options);
        cursor.seek(firstEntry(options));
        long count = 0;
        LogEntry last = null;
        StopReason reason = StopReason.END_OF_LOG;
        while (cursor.hasNext()) {
            last = cursor.next();
            count++;
            CheckPoint check = options.checkAfter(last, count);
            if (check != null) {
                target.flush();
                if (!check.check(last, target)) {
                    reason = StopReason.CHECK_FAILED;
                    break;
                }
            }
            if (options.stopsAt(last, count)) {
                reason = StopReason.STOP_CONDITION;
                break;
            }
        }
        target.flush();
        return new Result(count, last, reason);
    }

    /** A cursor at entry 0 that replays onto {@code target} with the options' discard mode, sector range and listener. */
    public Cursor cursor(BlockDevice target, ReplayOptions options) {
        return new Cursor(target, options);
    }

    /**
     * Replays a log entry by entry. {@link #seek} moves without writing (the target already holds
     * the state at that point, e.g. a snapshot); {@link #next} applies one entry;
     * {@link #nextFlushPoint} applies entries through the next FLUSH or FUA, so a harness can check
     * the device at every point where it was durable and carry on from there.
     */
    public final class Cursor {
        private final BlockDevice target;
        private final ReplayOptions options;
        private long position;

        private Cursor(BlockDevice target, ReplayOptions options) {
            this.target = target;
            this.options = options;
        }

        /** The number of the next entry to replay. */
        public long position() {
            return position;
        }

        public boolean hasNext() {
            return position < entryCount;
        }

        public void seek(long entry) throws IOException {
            if (entry < 0 || entry > entryCount) {
                throw new IOException("invalid entry number " + entry + ": the log has " + entryCount + " entries");
            }
            position = entry;
        }

        /** Replays the next entry and returns it. */
        public LogEntry next() throws IOException {
            if (!hasNext()) {
                throw new IOException("no entry left: the log has " + entryCount + " entries");
            }
            LogEntry e = entry(position);
            position++;
            apply(e);
            options.listener().progress(position, entryCount);
            return e;
        }

        /** Replays entries through the first one matching (inclusive); empty if the log ended first. */
        public Optional<LogEntry> replayThrough(Predicate<LogEntry> stop) throws IOException {
            while (hasNext()) {
                LogEntry e = next();
                if (stop.test(e)) {
                    return Optional.of(e);
                }
            }
            return Optional.empty();
        }

        /** Replays through the next FLUSH or FUA entry and flushes the target. */
        public Optional<LogEntry> nextFlushPoint() throws IOException {
            Optional<LogEntry> e = replayThrough(x -> x.isFlush() || x.isFua());
            target.flush();
            return e;
        }

        private boolean outsideRange(LogEntry e) {
            return e.sectors() > 0 && (e.sector() + e.sectors() <= options.startSector() || e.sector() > options.endSector());
        }

        private void apply(LogEntry e) throws IOException {
            if (outsideRange(e)) {
                options.listener().skipped(e);
                return;
            }
            if (e.isDiscard()) {
                switch (options.discards()) {
                    case DISCARD -> target.discard(e.deviceOffset(), e.length());
                    case ZERO -> target.writeZeroes(e.deviceOffset(), e.length(), false);
                    case SKIP -> { }
                }
            } else if (e.hasData()) {
                copyData(e);
            }
            if (e.isFlush()) {
                target.flush();
            }
            options.listener().replayed(e);
        }

        private void copyData(LogEntry e) throws IOException {
            long done = 0;
            ByteBuffer buf = ByteBuffer.allocateDirect((int) Math.min(COPY_CHUNK, e.length()));
            while (done < e.length()) {
                int n = (int) Math.min(buf.capacity(), e.length() - done);
                buf.clear().limit(n);
                log.read(e.dataOffset() + done, buf);
                buf.flip();
                target.write(e.deviceOffset() + done, buf, false);
                done += n;
            }
        }
    }

    @Override
    public void close() throws IOException {
        if (ownsLog) {
            log.close();
        }
    }
}
