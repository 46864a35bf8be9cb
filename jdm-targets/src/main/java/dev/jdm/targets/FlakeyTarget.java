package dev.jdm.targets;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.Errno;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.Args.Rule;
import dev.jdm.core.spi.FilterTarget;
import dev.jdm.core.spi.Target;
import dev.jdm.core.spi.TargetContext;
import dev.jdm.core.spi.TargetException;
import dev.jdm.core.spi.TargetType;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.util.Random;
import java.util.function.LongSupplier;

/**
 * {@code flakey <dev> <offset> <up_s> <down_s> [<#features> <feature>...]} (dm-flakey.c 1.5.0): behaves
 * like linear for {@code up_s} seconds, then misbehaves for {@code down_s} seconds, over and over, the
 * clock starting when the table is loaded.
 * <p>
 * Down-phase features: {@code error_reads}, {@code drop_writes} or {@code error_writes},
 * {@code corrupt_bio_byte <N> <r|w> <value> <flags>}, {@code random_read_corrupt <p>} and
 * {@code random_write_corrupt <p>} (p in billionths). Without any of them, reads and writes both fail
 * (the kernel's implicit {@code error_reads error_writes}).
 * <p>
 * {@code <flags>} of corrupt_bio_byte are matched against a flag word jdm builds for each I/O with the
 * bit values of Linux 6.x: {@code 0x1} (REQ_OP_WRITE) on writes and {@code 0x20000} (REQ_FUA) on FUA
 * writes; reads carry 0. The I/O is corrupted only if all requested bits are set, so 0 matches
 * everything and any other bit matches nothing.
 * <p>
 * jdm extension: {@code random_seed <n>} (two feature words) seeds the random corruption, so a run
 * repeats exactly when its I/O arrives in the same order; it is printed back in the table.
 */
public final class FlakeyTarget extends FilterTarget {
    /** Probabilities are in billionths, as in the kernel. */
    public static final long PROBABILITY_BASE = 1_000_000_000L;
    /** Our flag word's bits (Linux 6.x values of REQ_OP_WRITE and REQ_FUA). */
    public static final long FLAG_WRITE = 0x1;
    public static final long FLAG_FUA = 0x20000;
    private static final long NANOS_PER_SECOND = 1_000_000_000L;
    private static final long U32_MAX = 0xffff_ffffL;

    public static final class Type implements TargetType {
        private final LongSupplier nanoClock;

        /** The production type: the monotonic system clock. */
        public Type() {
            this(System::nanoTime);
        }

        /** A type whose targets read time from {@code nanoClock} (tests drive the up/down cycle with it). */
        public Type(LongSupplier nanoClock) {
            this.nanoClock = nanoClock;
        }

        @Override
        public String name() {
            return "flakey";
        }

        @Override
        public Version version() {
            return new Version(1, 5, 0);
        }

        @Override
        public Target construct(TargetContext ctx, Args args) throws TargetException {
            args.requireAtLeast(4, "<dev> <offset> <up interval> <down interval> [<#features> <feature>...]");
            Args.Arg device = args.next("device");
            long start = args.shiftSectors("device sector");
            long up = args.shiftNumber(Rule.SCANF_U64, "up interval", 0, U32_MAX);
            long down = args.shiftNumber(Rule.SCANF_U64, "down interval", 0, U32_MAX);
            if (up + down == 0) {
                throw new TargetException("total (up + down) interval is zero");
            }
            if (up + down > U32_MAX) {
                throw new TargetException("interval overflow: up + down must fit in 32 bits");
            }
            Features f = Features.parse(args);
            BlockDevice dev = ctx.device(device, start, ctx.length());
            return new FlakeyTarget(new Route(dev, start), up, down, f, nanoClock);
        }
    }

    /** The parsed feature group; immutable once the constructor has checked it. */
    private record Features(boolean errorReads, boolean dropWrites, boolean errorWrites,
                            long corruptByte, boolean corruptWrites, int corruptValue, long corruptFlags,
                            long randomReadCorrupt, long randomWriteCorrupt, Long seed) {

        /** The optional {@code <#features> <feature>...} group at the cursor, which must end the line. */
        static Features parse(Args args) throws TargetException {
            boolean errorReads = false, dropWrites = false, errorWrites = false, corruptWrites = false;
            long corruptByte = 0, corruptFlags = 0, randomRead = 0, randomWrite = 0;
            int corruptValue = 0;
            Long seed = null;
            Args group = args.take(0);
            if (args.hasMore()) {
                int words = (int) args.shiftNumber(Rule.SCANF_U64, "number of feature arguments", 0, 13);
                if (words > args.remaining()) {
                    throw args.error("needs " + words + " feature arguments, only " + args.remaining() + " follow");
                }
                group = args.take(words);
            }
            while (group.hasMore()) {
                String name = group.shiftWord("flakey feature");
                switch (name) {
                    case "error_reads" -> {
                        if (errorReads) throw group.error("feature error_reads duplicated");
                        errorReads = true;
                    }
                    case "drop_writes" -> {
                        if (dropWrites) throw group.error("feature drop_writes duplicated");
                        if (errorWrites) throw group.error("feature drop_writes conflicts with feature error_writes");
                        dropWrites = true;
                    }
                    case "error_writes" -> {
                        if (errorWrites) throw group.error("feature error_writes duplicated");
                        if (dropWrites) throw group.error("feature error_writes conflicts with feature drop_writes");
                        errorWrites = true;
                    }
                    case "corrupt_bio_byte" -> {
                        if (corruptByte != 0) throw group.error("feature corrupt_bio_byte duplicated");
                        if (group.remaining() < 4) throw group.error("feature corrupt_bio_byte requires 4 parameters");
                        corruptByte = group.shiftNumber(Rule.SCANF_U64, "corrupt bio byte", 1, U32_MAX);
                        String dir = group.shiftWord("corrupt bio direction");
                        if (dir.equals("w")) {
                            corruptWrites = true;
                        } else if (!dir.equals("r")) {
                            throw group.error("invalid corrupt bio direction (r or w)");
                        }
                        corruptValue = (int) group.shiftNumber(Rule.SCANF_U64, "corrupt value to write into bio byte", 0, 255);
                        corruptFlags = group.shiftNumber(Rule.SCANF_U64, "corrupt bio flags mask", 0, U32_MAX);
                    }
                    case "random_read_corrupt" -> {
                        if (randomRead != 0) throw group.error("feature random_read_corrupt duplicated");
                        requireParameter(group, name);
                        randomRead = group.shiftNumber(Rule.SCANF_U64, "random corrupt probability", 0, PROBABILITY_BASE);
                    }
                    case "random_write_corrupt" -> {
                        if (randomWrite != 0) throw group.error("feature random_write_corrupt duplicated");
                        requireParameter(group, name);
                        randomWrite = group.shiftNumber(Rule.SCANF_U64, "random corrupt probability", 0, PROBABILITY_BASE);
                    }
                    case "random_seed" -> {
                        if (seed != null) throw group.error("feature random_seed duplicated");
                        requireParameter(group, name);
                        seed = group.shiftNumber(Rule.SCANF_U64, "random seed", 0, Long.MAX_VALUE);
                    }
                    default -> throw group.error("unrecognised flakey feature");
                }
            }
            args.requireEnd("unexpected argument after the feature group");
            boolean writeCorruption = (corruptByte != 0 && corruptWrites) || randomWrite != 0;
            boolean readCorruption = (corruptByte != 0 && !corruptWrites) || randomRead != 0;
            if (dropWrites && writeCorruption) {
                throw new TargetException("drop_writes is incompatible with random_write_corrupt or corrupt_bio_byte with the WRITE flag set");
            }
            if (errorWrites && writeCorruption) {
                throw new TargetException("error_writes is incompatible with random_write_corrupt or corrupt_bio_byte with the WRITE flag set");
            }
            if (errorReads && readCorruption) {
                throw new TargetException("error_reads is incompatible with random_read_corrupt or corrupt_bio_byte with the READ flag set");
            }
            if (!errorReads && !dropWrites && !errorWrites && corruptByte == 0 && randomRead == 0 && randomWrite == 0) {
                // The kernel's default when no fault is named: fail everything while down.
                errorReads = true;
                errorWrites = true;
            }
            return new Features(errorReads, dropWrites, errorWrites, corruptByte, corruptWrites, corruptValue,
                    corruptFlags, randomRead, randomWrite, seed);
        }

        /** Refuses a one-value feature whose group ends before its value; the error names the feature. */
        private static void requireParameter(Args group, String name) throws TargetException {
            if (!group.hasMore()) {
                throw group.error("feature " + name + " requires a parameter");
            }
        }

        /** The feature group as the kernel prints it, count first. */
        String format() {
            int words = (errorReads ? 1 : 0) + (dropWrites ? 1 : 0) + (errorWrites ? 1 : 0)
                    + (corruptByte > 0 ? 5 : 0) + (randomReadCorrupt > 0 ? 2 : 0) + (randomWriteCorrupt > 0 ? 2 : 0)
                    + (seed != null ? 2 : 0);
            StringBuilder sb = new StringBuilder().append(words);
            if (errorReads) sb.append(" error_reads");
            if (dropWrites) sb.append(" drop_writes");
            else if (errorWrites) sb.append(" error_writes");
            if (corruptByte > 0) {
                sb.append(" corrupt_bio_byte ").append(corruptByte).append(corruptWrites ? " w " : " r ")
                        .append(corruptValue).append(' ').append(corruptFlags);
            }
            if (randomReadCorrupt > 0) sb.append(" random_read_corrupt ").append(randomReadCorrupt);
            if (randomWriteCorrupt > 0) sb.append(" random_write_corrupt ").append(randomWriteCorrupt);
            if (seed != null) sb.append(" random_seed ").append(seed);
            return sb.toString();
        }
    }

    private final long upSeconds;
    private final long cycleSeconds;
    private final Features features;
    private final LongSupplier nanoClock;
    private final long startNanos;
    /** Drawn from only in the down phase; {@link Random} is thread-safe and repeats from a seed. */
    private final Random random;

    private FlakeyTarget(Route route, long up, long down, Features features, LongSupplier nanoClock) {
        super(route);
        this.upSeconds = up;
        this.cycleSeconds = up + down;
        this.features = features;
        this.nanoClock = nanoClock;
        this.startNanos = nanoClock.getAsLong();
        this.random = features.seed != null ? new Random(features.seed) : new Random(new SecureRandom().nextLong());
    }

    /** Whether the device is in its down phase now: whole seconds since load, modulo the cycle. */
    boolean isDown() {
        long elapsed = (nanoClock.getAsLong() - startNanos) / NANOS_PER_SECOND;
        return elapsed % cycleSeconds >= upSeconds;
    }

    private static BlockIoException eio(String what) {
        return new BlockIoException(Errno.EIO, "flakey: " + what + " failed: the device is in its down interval");
    }

    /** While down, reads fail or are read and then corrupted (the kernel decides at map time, as here). */
    @Override
    protected boolean beforeRead(long offset, int length) throws IOException {
        if (!isDown()) {
            return false;
        }
        if (features.errorReads) {
            throw eio("read");
        }
        return true;
    }

    @Override
    protected void afterRead(long offset, ByteBuffer piece) {
        int length = piece.remaining();
        if (features.corruptByte != 0 && !features.corruptWrites && flagsMatch(0)) {
            corruptAt(piece, length, features.corruptByte - 1, (byte) features.corruptValue);
        }
        if (fires(features.randomReadCorrupt)) {
            corruptRandomly(piece, length);
        }
    }

    @Override
    protected boolean readsPassThrough(long offset, long length) {
        return !isDown();
    }

    @Override
    protected ByteBuffer beforeWrite(long offset, ByteBuffer piece, boolean fua) throws IOException {
        if (!isDown()) {
            return piece;
        }
        if (!downWriteProceeds()) {
            return null;
        }
        boolean fixed = features.corruptByte != 0 && features.corruptWrites
                && flagsMatch(FLAG_WRITE | (fua ? FLAG_FUA : 0));
        boolean randomly = fires(features.randomWriteCorrupt);
        if (!fixed && !randomly) {
            return piece;
        }
        // The caller's buffer stays intact: a copy is corrupted and written, as the kernel clones the bio.
        int length = piece.remaining();
        ByteBuffer copy = ByteBuffer.allocate(length).put(piece.duplicate()).flip();
        if (fixed) {
            corruptAt(copy, length, features.corruptByte - 1, (byte) features.corruptValue);
        }
        if (randomly) {
            corruptRandomly(copy, length);
        }
        return copy;
    }

    /** Flushes, discards and zeroing are writes without data: dropped or failed while down, never corrupted. */
    @Override
    protected boolean beforeDataless(Dataless op, long offset, long length) throws BlockIoException {
        return !isDown() || downWriteProceeds();
    }

    /** Whether a write in the down phase goes on (to be corrupted, perhaps): false drops it, error_writes fails it. */
    private boolean downWriteProceeds() throws BlockIoException {
        if (features.errorWrites) {
            throw eio("write");
        }
        return !features.dropWrites;
    }

    private boolean flagsMatch(long ioFlags) {
        return (ioFlags & features.corruptFlags) == features.corruptFlags;
    }

    private boolean fires(long probability) {
        return probability != 0 && random.nextLong(PROBABILITY_BASE) < probability;
    }

    /** Sets byte {@code index} of the I/O (a byte beyond its end corrupts nothing, as in the kernel). */
    private static void corruptAt(ByteBuffer buf, int length, long index, byte value) {
        if (index < length) {
            buf.put((int) index, value);
        }
    }

    private void corruptRandomly(ByteBuffer buf, int length) {
        if (length > 0) {
            int index = random.nextInt(length);
            byte value = (byte) random.nextInt(256);
            buf.put(index, value);
        }
    }

    @Override
    public String table() {
        return route().table() + " " + upSeconds + " " + (cycleSeconds - upSeconds) + " " + features.format();
    }
}
