package dev.jdm.targets;

import dev.jdm.core.Sectors;
import dev.jdm.core.BlockIoException;
import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.Args.Rule;
import dev.jdm.core.spi.FilterTarget;
import dev.jdm.core.spi.Target;
import dev.jdm.core.spi.TargetContext;
import dev.jdm.core.spi.TargetException;
import dev.jdm.core.spi.TargetType;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.OptionalLong;
import java.util.TreeMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * {@code dust <dev> <offset> <blksz>} (dm-dust.c): a linear mapping with a list of bad blocks that,
 * once enabled, fail reads the way a disk reports an unreadable sector. A write to a bad block fails
 * while its write-fail count lasts and then rewrites ("repairs") the block, removing it from the list.
 * <p>
 * Blocks are {@code blksz} bytes counted on the underlying device from its sector 0; I/O is split at
 * block boundaries of the target (the kernel's max_io_len), and each piece is judged by the block of
 * its first sector. Flushes pass untouched. The list is changed only by messages and, while
 * enabled, by writes; {@code quiet} only silences the log, as in the kernel.
 */
public final class DustTarget extends FilterTarget {
    private static final System.Logger LOG = System.getLogger(DustTarget.class.getName());
    private static final long MAX_BLOCK_SECTORS = 2_097_152;

    public static final class Type implements TargetType {
        @Override
        public String name() {
            return "dust";
        }

        @Override
        public Version version() {
            return new Version(1, 0, 0);
        }

        @Override
        public Target construct(TargetContext ctx, Args args) throws TargetException {
            args.requireCount(3, "<dev> <offset> <blksz>");
            Args.Arg device = args.next("device");
            Args.Arg offset = args.next("device offset sector");
            long blockSize = args.shiftNumber(Rule.SCANF_U64, "block size", 1, 0xffff_ffffL);
            if (blockSize < 512) {
                throw args.error("block size must be at least 512");
            }
            if (Long.bitCount(blockSize) != 1) {
                throw args.error("block size must be a power of 2");
            }
            if (Sectors.fromBytes(blockSize) > Math.min(ctx.length(), MAX_BLOCK_SECTORS)) {
                throw args.error("block size is too large (at most the target length and 1 GiB)");
            }
            // The kernel reads the offset after the block size, so a line with both wrong names the block size.
            long start = args.u64(offset.index(), "device offset sector");
            BlockDevice dev = ctx.device(device, start, ctx.length());
            return new DustTarget(new Route(dev, start), (int) blockSize);
        }
    }

    private final int blockSize;
    private final int sectorsPerBlockShift;

    private final ReentrantLock lock = new ReentrantLock();
    /** Bad block number to its remaining write-fail count. */
    private final TreeMap<Long, Integer> badBlocks = new TreeMap<>();
    /**
     * The list's size, published after every change made under the lock: I/O skips the lock while
     * the list is empty. A message that has returned is seen by every I/O that starts after it.
     */
    private volatile int badBlockCount;
    private volatile boolean failReadOnBadBlock;
    private volatile boolean quiet;

    private DustTarget(Route route, int blockSize) {
        super(route);
        this.blockSize = blockSize;
        this.sectorsPerBlockShift = Long.numberOfTrailingZeros(Sectors.fromBytes(blockSize));
    }

    private long blockOf(long targetOffset) {
        return (route().startSector() + Sectors.fromBytes(targetOffset)) >>> sectorsPerBlockShift;
    }

    /** I/O is cut at the target's block boundaries (the kernel's max_io_len). */
    @Override
    protected long pieceLength(long offset, long remaining) {
        return Math.min(remaining, blockSize - (offset & (blockSize - 1)));
    }

    private BlockIoException badBlock(long block, String op) {
        return new BlockIoException(Errno.EIO, "dust: " + op + " of bad block " + block);
    }

    /** Whether I/O is judged at all: enabled, with a list that is not empty. */
    private boolean judging() {
        return failReadOnBadBlock && badBlockCount != 0;
    }

    private void checkRead(long offset) throws BlockIoException {
        if (!judging()) {
            return;
        }
        long block = blockOf(offset);
        lock.lock();
        try {
            if (badBlocks.containsKey(block)) {
                throw badBlock(block, "read");
            }
        } finally {
            lock.unlock();
        }
    }

    /** A write to a bad block fails while its count lasts, then removes the block from the list. */
    private void checkWrite(long offset) throws BlockIoException {
        if (!judging()) {
            return;
        }
        long block = blockOf(offset);
        lock.lock();
        try {
            Integer failures = badBlocks.get(block);
            if (failures == null) {
                return;
            }
            if (failures > 0) {
                badBlocks.put(block, failures - 1);
                throw badBlock(block, "write");
            }
            badBlocks.remove(block);
            badBlockCount = badBlocks.size();
        } finally {
            lock.unlock();
        }
        log("block " + block + " removed from badblocklist by write");
    }

    private void log(String message) {
        if (!quiet) {
            LOG.log(System.Logger.Level.DEBUG, "dust: {0}", message);
        }
    }

    @Override
    protected boolean beforeRead(long offset, int length) throws BlockIoException {
        checkRead(offset);
        return false;
    }

    @Override
    protected boolean readsPassThrough(long offset, long length) {
        return !judging();
    }

    @Override
    protected ByteBuffer beforeWrite(long offset, ByteBuffer piece, boolean fua) throws BlockIoException {
        checkWrite(offset);
        return piece;
    }

    /** Discards and zeroing are writes; flushes pass untouched. */
    @Override
    protected boolean beforeDataless(Dataless op, long offset, long length) throws BlockIoException {
        if (op != Dataless.FLUSH) {
            checkWrite(offset);
        }
        return true;
    }

    // ---- messages -------------------------------------------------------------------------------

    private static DmException invalid(String why) {
        return new DmException(Errno.EINVAL, "dust: " + why);
    }

    /** A block number as the kernel's {@code sscanf("%llu%c")} takes it, checked against the device's blocks. */
    private long parseBlock(String s) throws DmException {
        OptionalLong parsed = Rule.SCANF_U64.parse(s);
        if (parsed.isEmpty()) {
            throw invalid("invalid block number \"" + s + "\"");
        }
        long block = parsed.getAsLong();
        // The kernel accepts block == number of blocks ('>' not '>='); kept for compatibility.
        long deviceBlocks = Sectors.fromBytes(route().device().size()) >>> sectorsPerBlockShift;
        if (Long.compareUnsigned(block, deviceBlocks) > 0) {
            throw invalid("selected block value " + Long.toUnsignedString(block) + " out of range (device has " + deviceBlocks + " blocks)");
        }
        return block;
    }

    /** A write-fail count as the kernel's {@code sscanf("%u%c")} takes it, at most 255. */
    private static int parseWriteFailCount(String s) throws DmException {
        OptionalLong parsed = Rule.SCANF_U32.parse(s);
        if (parsed.isEmpty()) {
            throw invalid("invalid write fail count \"" + s + "\"");
        }
        long n = parsed.getAsLong();
        if (n > 255) {
            throw invalid("selected write fail count " + n + " out of range (0..255)");
        }
        return (int) n;
    }

    /** Messages are rare: each runs whole under the lock, so it sees and leaves a consistent list. */
    @Override
    public String message(Args args) throws DmException {
        List<String> argv = args.all();
        lock.lock();
        try {
            String reply = handle(argv);
            badBlockCount = badBlocks.size();
            return reply;
        } finally {
            lock.unlock();
        }
    }

    private String handle(List<String> argv) throws DmException {
        String verb = Args.lowerCase(argv.getFirst()); // strcasecmp's ASCII rule, as every message word
        switch (argv.size()) {
            case 1 -> {
                switch (verb) {
                    case "addbadblock", "removebadblock", "queryblock" -> throw invalid(verb + " requires an additional argument");
                    case "enable" -> failReadOnBadBlock = true;
                    case "disable" -> failReadOnBadBlock = false;
                    case "quiet" -> quiet = !quiet;
                    case "countbadblocks" -> {
                        return "countbadblocks: " + badBlocks.size() + " badblock(s) found";
                    }
                    case "clearbadblocks" -> {
                        boolean any = !badBlocks.isEmpty();
                        badBlocks.clear();
                        return any ? "dust_clear_badblocks: badblocks cleared" : "dust_clear_badblocks: no badblocks found";
                    }
                    case "listbadblocks" -> {
                        return listBadBlocks();
                    }
                    default -> throw invalid("unrecognized message '" + argv.getFirst() + "' received");
                }
                return null;
            }
            case 2 -> {
                long block = parseBlock(argv.get(1));
                switch (verb) {
                    case "addbadblock" -> addBadBlock(block, 0);
                    case "removebadblock" -> removeBadBlock(block);
                    case "queryblock" -> {
                        return "dust_query_block: block " + block
                                + (badBlocks.containsKey(block) ? " found" : " not found") + " in badblocklist";
                    }
                    default -> throw invalid("unrecognized message '" + argv.getFirst() + "' received");
                }
                return null;
            }
            case 3 -> {
                long block = parseBlock(argv.get(1));
                int failures = parseWriteFailCount(argv.get(2));
                if (!verb.equals("addbadblock")) {
                    throw invalid("unrecognized message '" + argv.getFirst() + "' received");
                }
                addBadBlock(block, failures);
                return null;
            }
            default -> throw invalid("invalid number of arguments '" + argv.size() + "'");
        }
    }

    private void addBadBlock(long block, int writeFailures) throws DmException {
        if (badBlocks.putIfAbsent(block, writeFailures) != null) {
            throw invalid("block " + block + " already in badblocklist");
        }
        log("badblock added at block " + block + " with write fail count " + writeFailures);
    }

    private void removeBadBlock(long block) throws DmException {
        if (badBlocks.remove(block) == null) {
            throw invalid("block " + block + " not found in badblocklist");
        }
        log("badblock removed at block " + block);
    }

    private String listBadBlocks() {
        if (badBlocks.isEmpty()) {
            return "No blocks in badblocklist";
        }
        StringBuilder sb = new StringBuilder();
        for (long block : badBlocks.keySet()) {
            sb.append(block).append('\n');
        }
        return sb.toString();
    }

    /** {@code <dev> <fail_read_on_bad_block|bypass> <quiet|verbose>}. */
    @Override
    public String status() {
        return route().device().id() + " " + (failReadOnBadBlock ? "fail_read_on_bad_block" : "bypass") + " " + (quiet ? "quiet" : "verbose");
    }

    @Override
    public String table() {
        return route().table() + " " + blockSize;
    }
}
