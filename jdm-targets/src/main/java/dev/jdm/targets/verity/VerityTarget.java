package dev.jdm.targets.verity;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.Errno;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.Target;
import dev.jdm.core.spi.TargetContext;
import dev.jdm.core.spi.TargetException;
import dev.jdm.core.spi.TargetType;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * {@code verity <version> <data_dev> <hash_dev> <data_block_size> <hash_block_size> <num_data_blocks>
 * <hash_start_block> <algorithm> <root_digest> <salt|-> [<#opt> <opt>...]}: a read-only device whose
 * every block is checked against a Merkle tree before it is returned (dm-verity-target.c, v1.13 with the
 * FEC counter of 6.19 in its status).
 *
 * <p>Corruption handling: by default the read fails with EIO naming the block; {@code ignore_corruption}
 * returns the data anyway; {@code restart_on_corruption} fails the read and raises an event (jdm cannot
 * reboot the machine); {@code panic_on_corruption} stops the device: this and every later I/O fail.
 * Any corruption turns the status from {@code V} to {@code C}.
 */
public final class VerityTarget implements Target {

    public static final class Type implements TargetType {
        @Override
        public String name() {
            return "verity";
        }

        @Override
        public Version version() {
            return new Version(1, 13, 0);
        }

        @Override
        public Set<Feature> features() {
            return Set.of(Feature.SINGLETON, Feature.IMMUTABLE);
        }

        @Override
        public Target construct(TargetContext ctx, Args args) throws TargetException {
            return VerityTarget.construct(ctx, args);
        }
    }

    private static final System.Logger LOG = System.getLogger(VerityTarget.class.getName());
    /** The kernel logs and signals the first 100 corruptions only. */
    private static final int MAX_CORRUPTED_ERRS = 100;
    /** The kernel's DM_VERITY_FEC_MAX_RECURSION: FEC of a hash block may need FEC of its parents. */
    private static final int MAX_FEC_DEPTH = 4;
    private static final int PAGE_SIZE = 4096;
    /**
     * Bytes of verified hash blocks to keep: 2% of the heap as dm-bufio's default share of memory, at
     * least 16 MiB. A level-0 hash block covers 128 data blocks (sha256, 4 KiB), so 16 MiB keeps the
     * whole tree of a 2 GiB image and a random read there costs one data read and one hash.
     */
    private static final long CACHE_BYTES = Math.max(16L << 20, Runtime.getRuntime().maxMemory() / 50);
    /**
     * MiB of verified data blocks to keep (0, the default: none). Off because jdm's devices are mostly
     * read through NBD by a kernel that keeps its own page cache above us, as it does above dm-verity.
     */
    public static final String DATA_CACHE_PROPERTY = "jdm.verity.dataCacheMiB";
    /**
     * Reads of at least two slices are read and verified in parallel slices of this many bytes: small
     * enough that hashing the first slices overlaps reading the others, large enough that each is a
     * cheap device read (a 1 MiB read is 4 slices; 128 KiB slices cost ~100 µs more CPU per MiB on
     * O_DIRECT reads of a virtio disk, 512 KiB slices overlap less).
     */
    private static final int SLICE_BYTES = 256 << 10;
    /** Slices mostly wait for the device, so a virtual thread each: the JDK adds carriers while they block in file reads. */
    private static final Thread.Builder SLICE_THREADS = Thread.ofVirtual().name("verity-slice");

    enum CorruptionMode {
        EIO(null), LOGGING("ignore_corruption"), RESTART("restart_on_corruption"), PANIC("panic_on_corruption");

        final String option;

        CorruptionMode(String option) {
            this.option = option;
        }
    }

    enum ErrorMode {
        NONE(null), RESTART("restart_on_error"), PANIC("panic_on_error");

        final String option;

        ErrorMode(String option) {
            this.option = option;
        }
    }

    private enum BlockType {
        DATA("data"), METADATA("metadata");

        final String word;

        BlockType(String word) {
            this.word = word;
        }
    }

    private record Fec(BlockDevice device, long blocks, long start, int roots) {
    }

    private final TargetContext context;
    private final BlockDevice dataDevice;
    private final BlockDevice hashDevice;
    private final int dataBlockSize;
    private final int sliceBlocks;
    private final HashTree tree;
    private final BlockHasher hasher;
    private final byte[] rootDigest;
    private final CorruptionMode mode;
    private final ErrorMode errorMode;
    private final byte[] zeroDigest;
    private final AtomicLongArray validated;
    private final boolean tasklet;
    private final Fec fec;
    private final FecDecoder fecDecoder;
    private final VerifiedBlockCache cache;
    /** Verified data blocks kept as read, or null when {@link #DATA_CACHE_PROPERTY} is 0 (the default). */
    private final VerifiedBlockCache dataCache;
    private final ConcurrentHashMap<Long, CompletableFuture<byte[]>> loading = new ConcurrentHashMap<>();

    private volatile boolean hashFailed;
    /** Why a panic mode stopped the device, or null while it runs. */
    private volatile String stoppedBy;
    private final AtomicInteger corruptedErrs = new AtomicInteger();
    private final AtomicLong fecCorrected = new AtomicLong();

    private VerityTarget(TargetContext context, BlockDevice dataDevice, BlockDevice hashDevice, int dataBlockSize,
                         HashTree tree, BlockHasher hasher, byte[] rootDigest, Options options) {
        this.context = context;
        this.dataDevice = dataDevice;
        this.hashDevice = hashDevice;
        this.dataBlockSize = dataBlockSize;
        this.sliceBlocks = Math.max(1, SLICE_BYTES / dataBlockSize);
        this.tree = tree;
        this.hasher = hasher;
        this.rootDigest = rootDigest;
        this.mode = options.mode;
        this.errorMode = options.errorMode;
        this.tasklet = options.tasklet;
        this.fec = options.fec;
        if (options.ignoreZeroBlocks) {
            zeroDigest = new byte[hasher.digestSize()];
            hasher.digest(ByteBuffer.allocate(dataBlockSize), zeroDigest);
        } else {
            zeroDigest = null;
        }
        this.validated = options.checkAtMostOnce ? new AtomicLongArray((int) ((tree.dataBlocks() + 63) >>> 6)) : null;
        long treeBlocks = Math.max(1, tree.hashBlocks());
        this.cache = new VerifiedBlockCache((int) Math.min(treeBlocks, Math.max(64, Math.min(Integer.MAX_VALUE - 8, CACHE_BYTES / tree.hashBlockSize()))));
        long dataCacheBlocks = Math.min(tree.dataBlocks(), (Long.getLong(DATA_CACHE_PROPERTY, 0) << 20) / dataBlockSize);
        this.dataCache = dataCacheBlocks > 0 ? new VerifiedBlockCache((int) Math.min(Integer.MAX_VALUE - 8, dataCacheBlocks)) : null;
        if (dataCache != null) {
            LOG.log(Level.INFO, "{0}: keeping up to {1} verified data blocks ({2} MiB)", dataDevice.id(),
                    dataCache.capacity(), (long) dataCache.capacity() * dataBlockSize >> 20);
        }
        this.fecDecoder = fec == null ? null : new FecDecoder(new FecLayout(fec.roots, dataBlockSize, fec.blocks),
                fec.device, fec.start * dataBlockSize, hasher, new Area());
    }

    /** Optional arguments, in the order the kernel prints them. */
    private static final class Options {
        CorruptionMode mode = CorruptionMode.EIO;
        ErrorMode errorMode = ErrorMode.NONE;
        boolean ignoreZeroBlocks;
        boolean checkAtMostOnce;
        boolean tasklet;
        Fec fec;
        int count() {
            return (mode != CorruptionMode.EIO ? 1 : 0) + (errorMode != ErrorMode.NONE ? 1 : 0)
                    + (ignoreZeroBlocks ? 1 : 0) + (checkAtMostOnce ? 1 : 0) + (tasklet ? 1 : 0) + (fec != null ? 8 : 0);
        }
    }

    private static final int MAX_OPTIONS = 5 + 8 + 2;

    static VerityTarget construct(TargetContext ctx, Args args) throws TargetException {
        if (!ctx.readOnly()) {
            throw new TargetException("Device must be readonly (load the table read-only)");
        }
        if (args.count() < 10) {
            throw new TargetException("Not enough arguments (<version> <data_dev> <hash_dev> <data_block_size> "
                    + "<hash_block_size> <num_data_blocks> <hash_start_block> <algorithm> <digest> <salt>), got " + args.count());
        }
        int version = (int) args.number(0, "version", 0, 1);
        int dataBlockSize = blockSize(args, 3, "data", PAGE_SIZE);
        int hashBlockSize = blockSize(args, 4, "hash", Integer.MAX_VALUE);
        int dataShift = Integer.numberOfTrailingZeros(dataBlockSize) - 9;
        long dataBlocks = args.u64(5, "data blocks");
        if ((dataBlocks << dataShift) >>> dataShift != dataBlocks || (dataBlocks << dataShift) < 0) {
            throw args.error(5, "Invalid data blocks");
        }
        if (ctx.length() > dataBlocks << dataShift) {
            throw args.error(5, "Data device is too small: " + dataBlocks + " blocks of " + dataBlockSize
                    + " bytes cover fewer than the target's " + ctx.length() + " sectors");
        }
        int hashShift = Integer.numberOfTrailingZeros(hashBlockSize) - 9;
        long hashStart = args.u64(6, "hash start");
        if ((hashStart << hashShift) >>> hashShift != hashStart || (hashStart << hashShift) < 0) {
            throw args.error(6, "Invalid hash start");
        }
        String algorithm = args.get(7);
        BlockHasher probe = BlockHasher.forKernelName(algorithm, version, new byte[0])
                .orElseThrow(() -> args.error(7, "Cannot initialize hash function (known: md5, sha1, sha224, sha256, "
                        + "sha384, sha512, sha3-224, sha3-256, sha3-384, sha3-512)"));
        if (hashBlockSize < probe.digestSize() * 2) {
            throw args.error(4, "Digest size too big for this hash block size");
        }
        byte[] root = hex(args, 8, "Invalid root digest");
        if (args.get(8).length() != probe.digestSize() * 2) {
            throw args.error(8, "Invalid root digest: " + algorithm + " needs " + probe.digestSize() * 2 + " hex digits");
        }
        byte[] salt = args.get(9).equals("-") ? new byte[0] : hex(args, 9, "Invalid salt");
        BlockHasher hasher = BlockHasher.forKernelName(algorithm, version, salt).orElseThrow();

        HashTree tree;
        try {
            tree = new HashTree(version, dataBlocks, hashBlockSize, probe.digestSize(), hashStart);
        } catch (IllegalArgumentException | ArithmeticException e) {
            throw new TargetException(Errno.EFBIG, "Too many tree levels or hash device offset overflow");
        }

        BlockDevice data = ctx.device(args, 1, 0, ctx.length());
        BlockDevice hash = ctx.device(args, 2, 0, 0);
        if (data.size() / dataBlockSize < dataBlocks) {
            throw args.error(1, "Data device is too small for " + dataBlocks + " blocks of " + dataBlockSize + " bytes");
        }
        if (hash.size() / hashBlockSize < tree.hashEnd()) {
            throw new TargetException(Errno.EFBIG, args.error(2, "Hash device is too small: the tree needs "
                    + tree.hashEnd() + " blocks of " + hashBlockSize + " bytes").getMessage());
        }
        args.skip(10);
        Options options = parseOptions(ctx, args, dataBlocks);
        if (options.fec != null) {
            checkFec(options.fec, tree, dataBlockSize, hashBlockSize, hash);
        }
        return new VerityTarget(ctx, data, hash, dataBlockSize, tree, hasher, root, options);
    }

    private static int blockSize(Args args, int index, String which, int max) throws TargetException {
        long v = args.u32(index, which + " block size");
        if (v < 512 || v > max || (v & (v - 1)) != 0) {
            throw args.error(index, "Invalid " + which + " device block size (a power of two, 512.." + max + ")");
        }
        return (int) v;
    }

    private static byte[] hex(Args args, int index, String why) throws TargetException {
        String s = args.get(index);
        if (s.isEmpty() || s.length() % 2 != 0) {
            throw args.error(index, why);
        }
        try {
            return HexFormat.of().parseHex(s);
        } catch (IllegalArgumentException e) {
            throw args.error(index, why);
        }
    }

    /** {@code [<#opt_params> <opt_params>...]} after the ten fixed arguments; what follows the group is ignored, as verity_ctr does. */
    private static Options parseOptions(TargetContext ctx, Args rest, long dataBlocks) throws TargetException {
        Options o = new Options();
        if (!rest.hasMore()) {
            return o;
        }
        int n = (int) rest.shiftNumber(Args.Rule.SCANF_U64, "number of feature args", 0, MAX_OPTIONS);
        if (n > rest.remaining()) {
            throw rest.error("Not enough arguments for " + n + " feature args");
        }
        Args features = rest.take(n);
        rest.ignoreRest();
        BlockDevice fecDevice = null;
        long fecBlocks = 0, fecStart = 0;
        int fecRoots = 0;
        while (features.hasMore()) {
            String word = features.shiftWord("feature");
            switch (word) {
                case "ignore_corruption" -> o.mode = CorruptionMode.LOGGING;
                case "restart_on_corruption" -> o.mode = CorruptionMode.RESTART;
                case "panic_on_corruption" -> o.mode = CorruptionMode.PANIC;
                case "restart_on_error" -> o.errorMode = ErrorMode.RESTART;
                case "panic_on_error" -> o.errorMode = ErrorMode.PANIC;
                case "ignore_zero_blocks" -> o.ignoreZeroBlocks = true;
                case "check_at_most_once" -> {
                    if (dataBlocks > Integer.MAX_VALUE) {
                        throw new TargetException(Errno.EFBIG, features.error("device too large to use check_at_most_once").getMessage());
                    }
                    o.checkAtMostOnce = true;
                }
                case "try_verify_in_tasklet" -> o.tasklet = true;
                case "use_fec_from_device", "fec_blocks", "fec_start", "fec_roots" -> {
                    if (!features.hasMore()) {
                        throw features.error("FEC feature arguments require a value");
                    }
                    switch (word) {
                        case "use_fec_from_device" -> fecDevice = ctx.device(features.next("FEC device"), 0, 0);
                        case "fec_blocks" -> fecBlocks = features.shiftNumber(Args.Rule.SCANF_U64, "fec_blocks", 0, Long.MAX_VALUE);
                        case "fec_start" -> fecStart = features.shiftNumber(Args.Rule.SCANF_U64, "fec_start", 0, Long.MAX_VALUE);
                        default -> fecRoots = (int) features.shiftNumber(Args.Rule.SCANF_U64, "fec_roots", 2, 24);
                    }
                }
                case "root_hash_sig_key_desc" -> throw features.error(
                        "root hash signatures need the kernel keyring, which jdm does not have: verify the signature before loading the table");
                default -> throw features.error("Unrecognized verity feature request");
            }
        }
        if (fecDevice != null) {
            o.fec = new Fec(fecDevice, fecBlocks, fecStart, fecRoots);
        } else if (fecBlocks != 0 || fecStart != 0 || fecRoots != 0) {
            throw new TargetException("fec_blocks, fec_start and fec_roots need use_fec_from_device");
        }
        return o;
    }

    private static void checkFec(Fec f, HashTree tree, int dataBlockSize, int hashBlockSize, BlockDevice hash)
            throws TargetException {
        if (dataBlockSize != hashBlockSize) {
            throw new TargetException("Block sizes must match to use FEC");
        }
        if (f.roots == 0) {
            throw new TargetException("Missing fec_roots");
        }
        if (f.blocks == 0) {
            throw new TargetException("Missing fec_blocks");
        }
        if (f.blocks < tree.dataBlocks() + tree.hashBlocks()) {
            throw new TargetException("Invalid fec_blocks: " + f.blocks + " is less than the " + tree.dataBlocks()
                    + " data and " + tree.hashBlocks() + " hash blocks it must cover");
        }
        if (hash.size() / hashBlockSize < f.blocks - tree.dataBlocks()) {
            throw new TargetException(Errno.EFBIG, "Hash device is too small for fec_blocks");
        }
        FecLayout layout = new FecLayout(f.roots, dataBlockSize, f.blocks);
        if (f.device.size() < f.start * dataBlockSize + layout.parityBytes()) {
            throw new TargetException(Errno.EFBIG, "FEC device is too small: it needs " + layout.parityBytes()
                    + " bytes from block " + f.start);
        }
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        String stop = stoppedBy;
        if (stop != null) {
            throw new BlockIoException(Errno.EIO, "verity: device stopped after " + stop + " (panic mode)");
        }
        int length = dst.remaining();
        if (offset % dataBlockSize != 0 || length % dataBlockSize != 0) {
            throw new BlockIoException(Errno.EIO, "verity: unaligned io (offset " + offset + ", length " + length
                    + ", block size " + dataBlockSize + ")");
        }
        long first = offset / dataBlockSize;
        int count = length / dataBlockSize;
        if (first + count > tree.dataBlocks()) {
            throw new BlockIoException(Errno.EIO, "verity: io out of range");
        }
        ByteBuffer region = dst.slice(dst.position(), length);
        try {
            if (dataCache != null && copyFromDataCache(region, first, count)) {
                // every block was verified when it was read into the cache, and cached blocks never change
            } else if (count < 2 * sliceBlocks) {
                readAndVerify(region, first, 0, count, dataCache != null);
            } else {
                readAndVerifyInSlices(region, first, count);
            }
        } catch (DataReadFailure f) {
            throw ioError(f.failure);
        }
        dst.position(dst.position() + length);
    }

    /** Fills the region from the data cache if it holds every block; false (region partly written) otherwise. */
    private boolean copyFromDataCache(ByteBuffer region, long first, int count) {
        for (int i = 0; i < count; i++) {
            byte[] content = dataCache.get(first + i);
            if (content == null) {
                return false;
            }
            region.put(i * dataBlockSize, content);
        }
        return true;
    }

    /** A read of the data device failed (and there is no FEC to repair it): the error mode applies once per I/O. */
    private static final class DataReadFailure extends IOException {
        final IOException failure;

        DataReadFailure(IOException failure) {
            super(failure.getMessage(), failure);
            this.failure = failure;
        }
    }

    /**
     * Reads blocks {@code from..to} of the region from the data device, then checks them; {@code keep}
     * puts those verified now in the data cache (small reads only: a streaming read would evict the
     * blocks small reads come back to, and copying it into the cache added ~40% to its CPU time).
     */
    private void readAndVerify(ByteBuffer region, long first, int from, int to, boolean keep) throws IOException {
        boolean reread = false;
        try {
            dataDevice.read((first + from) * dataBlockSize, region.slice(from * dataBlockSize, (to - from) * dataBlockSize));
        } catch (IOException e) {
            if (fecDecoder == null) {
                throw new DataReadFailure(e);
            }
            reread = true; // each block is read again on its own so FEC repairs only the unreadable ones
        }
        for (int i = from; i < to; i++) {
            ByteBuffer content = region.slice(i * dataBlockSize, dataBlockSize);
            if (verifyDataBlock(first + i, content, reread) && keep) {
                keepVerified(first + i, content);
            }
        }
    }

    /**
     * A large read is cut into slices that are each read and then checked on their own thread, so hashing
     * one slice overlaps reading the next and all cores hash; the error reported is the one of the lowest
     * failing slice, as a sequential check would report. Reads below two slices stay on the caller's
     * thread, where handing off would cost more than it saves.
     */
    private void readAndVerifyInSlices(ByteBuffer region, long first, int count) throws IOException {
        int slices = (count + sliceBlocks - 1) / sliceBlocks;
        IOException[] failures = new IOException[slices];
        Thread[] helpers = new Thread[slices];
        for (int s = 1; s < slices; s++) {
            int slice = s;
            helpers[s] = SLICE_THREADS.start(() -> failures[slice] = readAndVerifySlice(region, first, count, slice));
        }
        failures[0] = readAndVerifySlice(region, first, count, 0);
        boolean interrupted = false;
        for (int s = 1; s < slices; s++) {
            while (true) {
                try {
                    helpers[s].join(); // even when interrupted: the helpers write into the caller's buffer
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        for (IOException e : failures) {
            if (e != null) {
                throw e;
            }
        }
    }

    private IOException readAndVerifySlice(ByteBuffer region, long first, int count, int slice) {
        try {
            readAndVerify(region, first, slice * sliceBlocks, Math.min(count, (slice + 1) * sliceBlocks), false);
            return null;
        } catch (IOException e) {
            return e;
        } catch (RuntimeException e) {
            return new IOException("verity: verifying a read failed", e);
        }
    }

    private IOException ioError(IOException e) {
        if (errorMode == ErrorMode.PANIC) {
            stoppedBy = "an I/O error";
        }
        if (errorMode != ErrorMode.NONE) {
            context.raiseEvent();
        }
        return e;
    }

    /** Checks one block read into {@code content}; true when its digest matched now (possibly after FEC repaired it). */
    private boolean verifyDataBlock(long block, ByteBuffer content, boolean reread) throws IOException {
        if (validated != null && isValidated(block)) {
            return false;
        }
        byte[] want = hashForBlock(block, 0);
        if (zeroDigest != null && Arrays.equals(want, zeroDigest)) {
            content.duplicate().put(new byte[dataBlockSize]);
            return false;
        }
        if (reread && !readBlock(dataDevice, block * dataBlockSize, content.duplicate())) {
            content.duplicate().put(new byte[dataBlockSize]); // let FEC decide; the digest below fails
        }
        byte[] real = new byte[hasher.digestSize()];
        hasher.digest(content, real);
        if (Arrays.equals(real, want)) {
            if (validated != null) {
                markValidated(block);
            }
            return true;
        }
        if (fecDecoder != null) {
            byte[] repaired = fecDecoder.repair(block, want, 1);
            if (repaired != null) {
                fecCorrected.incrementAndGet();
                content.duplicate().put(repaired);
                return true;
            }
        }
        if (handleError(BlockType.DATA, block)) {
            throw new BlockIoException(Errno.EIO, "verity: data block " + block + " is corrupted");
        }
        return false; // ignore_corruption: returned as read, never cached
    }

    /** Only content whose digest just matched goes in: a copy, as the caller's buffer may change. */
    private void keepVerified(long block, ByteBuffer content) {
        byte[] copy = new byte[dataBlockSize];
        content.get(content.position(), copy);
        dataCache.put(block, copy);
    }

    private static boolean readBlock(BlockDevice device, long offset, ByteBuffer dst) {
        try {
            device.read(offset, dst);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * The digest the tree holds for a data block, verifying each hash block on the way down from the
     * root unless it is already cached as verified (verity_hash_for_block).
     */
    private byte[] hashForBlock(long block, int fecDepth) throws IOException {
        int digestSize = hasher.digestSize();
        if (tree.levels() == 0) {
            return rootDigest;
        }
        byte[] leaf = cache.get(tree.hashBlockFor(block, 0));
        if (leaf != null) {
            int at = tree.offsetFor(block, 0);
            return Arrays.copyOfRange(leaf, at, at + digestSize);
        }
        byte[] want = rootDigest;
        for (int level = tree.levels() - 1; level >= 0; level--) {
            long hashBlock = tree.hashBlockFor(block, level);
            byte[] content = cache.get(hashBlock);
            if (content == null) {
                content = loadOnce(hashBlock, want, fecDepth);
            }
            int at = tree.offsetFor(block, level);
            want = Arrays.copyOfRange(content, at, at + digestSize);
        }
        return want;
    }

    /**
     * Loads a hash block that is not cached, once: concurrent readers needing the same block wait for the
     * first one, so a damaged block is reported (or repaired and counted) once, not once per reader.
     */
    private byte[] loadOnce(long hashBlock, byte[] want, int fecDepth) throws IOException {
        CompletableFuture<byte[]> mine = new CompletableFuture<>();
        CompletableFuture<byte[]> other = loading.putIfAbsent(hashBlock, mine);
        if (other != null) {
            try {
                return other.join();
            } catch (CompletionException e) {
                throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
            }
        }
        try {
            byte[] content = cache.get(hashBlock); // loaded by someone who finished just before we registered
            if (content == null) {
                content = loadHashBlock(hashBlock, want, fecDepth);
            }
            mine.complete(content);
            return content;
        } catch (IOException | RuntimeException e) {
            mine.completeExceptionally(e);
            throw e;
        } finally {
            loading.remove(hashBlock);
        }
    }

    private byte[] loadHashBlock(long hashBlock, byte[] want, int fecDepth) throws IOException {
        byte[] content = new byte[tree.hashBlockSize()];
        try {
            hashDevice.read(hashBlock * tree.hashBlockSize(), ByteBuffer.wrap(content));
        } catch (IOException e) {
            if (fecDecoder == null) {
                throw ioError(e);
            }
        }
        byte[] real = new byte[hasher.digestSize()];
        hasher.digest(content, 0, content.length, real);
        if (Arrays.equals(real, want)) {
            cache.put(hashBlock, content);
            return content;
        }
        if (fecDecoder != null && fecDepth < MAX_FEC_DEPTH) {
            byte[] repaired = fecDecoder.repair(tree.dataBlocks() + hashBlock - tree.hashStart(), want, fecDepth + 1);
            if (repaired != null) {
                fecCorrected.incrementAndGet();
                cache.put(hashBlock, repaired);
                return repaired;
            }
        }
        if (handleError(BlockType.METADATA, hashBlock)) {
            throw new BlockIoException(Errno.EIO, "verity: metadata block " + hashBlock + " is corrupted");
        }
        return content; // ignore_corruption: use it, but never trust it enough to cache
    }

    /** Records a corruption; true when the I/O must fail (verity_handle_err). */
    private boolean handleError(BlockType type, long block) {
        hashFailed = true;
        if (corruptedErrs.get() < MAX_CORRUPTED_ERRS) {
            int n = corruptedErrs.incrementAndGet();
            if (n <= MAX_CORRUPTED_ERRS) {
                LOG.log(Level.WARNING, "{0}: {1} block {2} is corrupted", dataDevice.id(), type.word, block);
                if (n == MAX_CORRUPTED_ERRS) {
                    LOG.log(Level.WARNING, "{0}: reached maximum errors", dataDevice.id());
                }
                context.raiseEvent();
            }
        }
        return switch (mode) {
            case LOGGING -> false;
            case PANIC -> {
                stoppedBy = "corruption";
                yield true;
            }
            case EIO, RESTART -> true;
        };
    }

    private boolean isValidated(long block) {
        return (validated.get((int) (block >>> 6)) & (1L << block)) != 0;
    }

    private void markValidated(long block) {
        validated.getAndUpdate((int) (block >>> 6), w -> w | (1L << block));
    }

    /** The target's view of the FEC-protected area: data blocks, then the hash device from the tree start. */
    private final class Area implements FecDecoder.ProtectedArea {
        @Override
        public boolean read(long block, ByteBuffer dst) {
            if (block < tree.dataBlocks()) {
                return readBlock(dataDevice, block * dataBlockSize, dst);
            }
            return readBlock(hashDevice, (block - tree.dataBlocks() + tree.hashStart()) * dataBlockSize, dst);
        }

        @Override
        public Boolean corrupt(long block, byte[] content, int depth) {
            if (block >= tree.dataBlocks()) {
                return null;
            }
            try {
                byte[] want = hashForBlock(block, depth);
                byte[] real = new byte[hasher.digestSize()];
                hasher.digest(content, 0, content.length, real);
                return !Arrays.equals(real, want);
            } catch (IOException e) {
                return null;
            }
        }

        @Override
        public boolean knownZero(long block, int depth) {
            if (zeroDigest == null || block >= tree.dataBlocks()) {
                return false;
            }
            try {
                return Arrays.equals(hashForBlock(block, depth), zeroDigest);
            } catch (IOException e) {
                return false;
            }
        }
    }

    /** A suspended device may have its data changed underneath before it resumes: cached blocks are read and verified again. */
    @Override
    public void postsuspend() {
        if (dataCache != null) {
            dataCache.clear();
        }
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        throw new BlockIoException(Errno.EIO, "verity: device is read-only");
    }

    @Override
    public void flush() {
        // nothing is ever written, so there is nothing to make stable
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        throw new BlockIoException(Errno.EOPNOTSUPP, "verity: discard not supported");
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayUnmap) throws IOException {
        throw new BlockIoException(Errno.EIO, "verity: device is read-only");
    }

    @Override
    public boolean supportsDiscard() {
        return false;
    }

    /** As the kernel's verity_io_hints: nothing smaller than a data block can be read, so that is the device's block. */
    @Override
    public int logicalBlockSize() {
        return dataBlockSize;
    }

    @Override
    public String status() {
        return (hashFailed ? "C" : "V") + (fec == null ? " -" : " " + fecCorrected.get());
    }

    @Override
    public String table() {
        HexFormat hex = HexFormat.of();
        StringBuilder sb = new StringBuilder();
        sb.append(tree.version()).append(' ').append(dataDevice.id()).append(' ').append(hashDevice.id())
                .append(' ').append(dataBlockSize).append(' ').append(tree.hashBlockSize())
                .append(' ').append(tree.dataBlocks()).append(' ').append(tree.hashStart())
                .append(' ').append(hasher.algorithm()).append(' ').append(hex.formatHex(rootDigest)).append(' ');
        byte[] salt = hasher.salt();
        sb.append(salt.length == 0 ? "-" : hex.formatHex(salt));
        List<String> opts = new ArrayList<>();
        if (mode.option != null) {
            opts.add(mode.option);
        }
        if (errorMode.option != null) {
            opts.add(errorMode.option);
        }
        if (zeroDigest != null) {
            opts.add("ignore_zero_blocks");
        }
        if (validated != null) {
            opts.add("check_at_most_once");
        }
        if (tasklet) {
            opts.add("try_verify_in_tasklet");
        }
        if (fec != null) {
            opts.addAll(List.of("use_fec_from_device", fec.device.id(), "fec_blocks", Long.toString(fec.blocks),
                    "fec_start", Long.toString(fec.start), "fec_roots", Integer.toString(fec.roots)));
        }
        if (!opts.isEmpty()) {
            sb.append(' ').append(opts.size());
            opts.forEach(o -> sb.append(' ').append(o));
        }
        return sb.toString();
    }

    @Override
    public List<BlockDevice> devices() {
        return fec == null ? List.of(dataDevice, hashDevice) : List.of(dataDevice, hashDevice, fec.device);
    }
}
