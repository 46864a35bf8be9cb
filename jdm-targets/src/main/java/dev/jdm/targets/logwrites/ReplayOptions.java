package dev.jdm.targets.logwrites;

import java.util.Objects;

/**
 * What {@link LogReplay#replay} and {@link LogReplay#find} do, named after xfstests' replay-log
 * options ({@code --start-entry}, {@code --start-mark}, {@code --limit}, {@code --end-mark},
 * {@code --next-flush}, {@code --next-fua}, {@code --no-discard}, {@code --start-sector},
 * {@code --end-sector}, {@code --check}). Immutable: every setter returns a new instance.
 */
public final class ReplayOptions {

    /** How discard entries reach the replay device. */
    public enum Discards {
        /** Discard the range (a file punches a hole), as replay-log does. */
        DISCARD,
        /** Write zeroes over the range, for devices where discarded data would stay readable. */
        ZERO,
        /** Leave the range alone ({@code --no-discard}). */
        SKIP
    }

    /** When a {@link CheckPoint} runs ({@code --check <n>|flush|fua}). */
    public enum CheckMode { EVERY, FLUSH, FUA }

    private long startEntry;
    private String startMark;
    private long limit;
    private long endEntry = -1;
    private String endMark;
    private long stopFlags;
    private Discards discards = Discards.DISCARD;
    private long startSector;
    private long endSector = Long.MAX_VALUE;
    private CheckMode checkMode;
    private long checkEvery;
    private CheckPoint checkPoint;
    private ReplayListener listener = new ReplayListener() { };

    public static ReplayOptions defaults() {
        return new ReplayOptions();
    }

    private ReplayOptions copy() {
        ReplayOptions o = new ReplayOptions();
        o.startEntry = startEntry;
        o.startMark = startMark;
        o.limit = limit;
        o.endEntry = endEntry;
        o.endMark = endMark;
        o.stopFlags = stopFlags;
        o.discards = discards;
        o.startSector = startSector;
        o.endSector = endSector;
        o.checkMode = checkMode;
        o.checkEvery = checkEvery;
        o.checkPoint = checkPoint;
        o.listener = listener;
        return o;
    }

    /** Start at this entry without replaying the ones before (the device holds a snapshot of that point). */
    public ReplayOptions startEntry(long entry) {
        if (entry < 0) throw new IllegalArgumentException("start entry must be >= 0: " + entry);
        ReplayOptions o = copy();
        o.startEntry = entry;
        return o;
    }

    /** Start right after the first mark with this text. */
    public ReplayOptions startMark(String mark) {
        ReplayOptions o = copy();
        o.startMark = Objects.requireNonNull(mark);
        return o;
    }

    /** Stop after replaying this many entries (0: no limit). */
    public ReplayOptions limit(long entries) {
        if (entries < 0) throw new IllegalArgumentException("limit must be >= 0: " + entries);
        ReplayOptions o = copy();
        o.limit = entries;
        return o;
    }

    /** Stop after replaying the entry with this number (inclusive). */
    public ReplayOptions endEntry(long entry) {
        if (entry < 0) throw new IllegalArgumentException("end entry must be >= 0: " + entry);
        ReplayOptions o = copy();
        o.endEntry = entry;
        return o;
    }

    /** Stop after the first mark with this text. */
    public ReplayOptions endMark(String mark) {
        ReplayOptions o = copy();
        o.endMark = Objects.requireNonNull(mark);
        return o;
    }

    /** Stop after the next FLUSH entry. */
    public ReplayOptions nextFlush() {
        ReplayOptions o = copy();
        o.stopFlags |= LogFormat.FLAG_FLUSH;
        return o;
    }

    /** Stop after the next FUA entry. */
    public ReplayOptions nextFua() {
        ReplayOptions o = copy();
        o.stopFlags |= LogFormat.FLAG_FUA;
        return o;
    }

    public ReplayOptions discards(Discards mode) {
        ReplayOptions o = copy();
        o.discards = Objects.requireNonNull(mode);
        return o;
    }

    /** Replay only entries touching log sectors [start, end] (marks and flushes always count). */
    public ReplayOptions sectors(long start, long end) {
        if (start < 0 || end < start) throw new IllegalArgumentException("bad sector range " + start + ".." + end);
        ReplayOptions o = copy();
        o.startSector = start;
        o.endSector = end;
        return o;
    }

    /** Run {@code checkPoint} every {@code n} replayed entries. */
    public ReplayOptions checkEvery(long n, CheckPoint checkPoint) {
        if (n <= 0) throw new IllegalArgumentException("check interval must be > 0: " + n);
        ReplayOptions o = copy();
        o.checkMode = CheckMode.EVERY;
        o.checkEvery = n;
        o.checkPoint = Objects.requireNonNull(checkPoint);
        return o;
    }

    /** Run {@code checkPoint} after each FLUSH entry ({@link CheckMode#FLUSH}) or FUA entry ({@link CheckMode#FUA}). */
    public ReplayOptions checkAt(CheckMode mode, CheckPoint checkPoint) {
        if (mode == CheckMode.EVERY) throw new IllegalArgumentException("use checkEvery(n, ...) for a fixed interval");
        ReplayOptions o = copy();
        o.checkMode = mode;
        o.checkPoint = Objects.requireNonNull(checkPoint);
        return o;
    }

    public ReplayOptions listener(ReplayListener listener) {
        ReplayOptions o = copy();
        o.listener = Objects.requireNonNull(listener);
        return o;
    }

    long startEntry() {
        return startEntry;
    }

    String startMark() {
        return startMark;
    }

    Discards discards() {
        return discards;
    }

    long startSector() {
        return startSector;
    }

    long endSector() {
        return endSector;
    }

    ReplayListener listener() {
        return listener;
    }

    /** Whether the replay (or find) ends with this entry, the {@code count}-th one handled. */
    boolean stopsAt(LogEntry e, long count) {
        if (limit > 0 && count == limit) return true;
        if (e.index() == endEntry) return true;
        if ((e.flags() & stopFlags) != 0) return true;
        return endMark != null && e.isMark(endMark);
    }

    /** The check point to run after this entry, the {@code count}-th replayed, or null. */
    CheckPoint checkAfter(LogEntry e, long count) {
        if (checkMode == null) return null;
        boolean due = switch (checkMode) {
            case EVERY -> count % checkEvery == 0;
            case FLUSH -> e.isFlush();
            case FUA -> e.isFua();
        };
        return due ? checkPoint : null;
    }
}
