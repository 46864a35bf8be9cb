package dev.jdm.targets.crypt;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.Sectors;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.Target;
import dev.jdm.core.spi.TargetContext;
import dev.jdm.core.spi.TargetException;
import dev.jdm.core.spi.TargetType;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * {@code crypt <cipher> <key> <iv_offset> <dev> <offset> [<#opt_params> <opt_params>...]}:
 * transparent encryption (dm-crypt.c), producing the kernel's ciphertext byte for byte.
 * <p>
 * Each crypto sector ({@code sector_size} bytes, 512 by default) is encrypted on its own with an IV
 * made from its sector number; sector {@code n} uses key {@code n mod keycount}. Writes are
 * encrypted into a bounce buffer (the caller's buffer is left alone); reads are decrypted in place.
 * The key never appears in errors or logs; it is printed only by {@link #table()}, as the kernel does.
 */
public final class CryptTarget implements Target {

    public static final class Type implements TargetType {
        @Override
        public String name() {
            return "crypt";
        }

        @Override
        public Version version() {
            return new Version(1, 24, 0);
        }

        @Override
        public Target construct(TargetContext ctx, Args args) throws TargetException {
            return new CryptTarget(ctx, args);
        }
    }

    private static final String SYNTAX = "<cipher> <key> <iv_offset> <dev> <offset> [<#opt_params> <opt_params>...]";
    private static final int KEY_ARG = 1;
    /** How errors name the key: never by its value. */
    private static final String KEY_ARGUMENT = "argument " + (KEY_ARG + 1) + " (key)";
    private static final int MAX_FEATURE_ARGS = 8;
    /** Bytes encrypted per bounce-buffer round on writes (and on reads into direct buffers). */
    private static final int CHUNK = 64 * 1024;
    private static final int POOLED_WORKERS = 32;

    private final BlockDevice device;
    private final long startSector;
    private final long startByte;
    private final long ivOffset;
    private final CipherSpec spec;
    private final Options options;
    private final int sectorSize;
    private final KeyLayout layout;
    private final byte[] key;
    private final WorkerPool<Worker> workers;
    private volatile IvGenerator ivGenerator;
    private volatile boolean keyValid;
    private volatile boolean suspended;

    /** The optional parameters, kept to print them back in the kernel's order. */
    private record Options(boolean allowDiscards, boolean sameCpuCrypt, boolean submitFromCryptCpus,
                           boolean noReadWorkqueue, boolean noWriteWorkqueue, int sectorSize, boolean ivLargeSectors) {
        List<String> words() {
            List<String> w = new ArrayList<>();
            if (allowDiscards) w.add("allow_discards");
            if (sameCpuCrypt) w.add("same_cpu_crypt");
            if (submitFromCryptCpus) w.add("submit_from_crypt_cpus");
            if (noReadWorkqueue) w.add("no_read_workqueue");
            if (noWriteWorkqueue) w.add("no_write_workqueue");
            if (sectorSize != 512) w.add("sector_size:" + sectorSize);
            if (ivLargeSectors) w.add("iv_large_sectors");
            return w;
        }
    }

    private CryptTarget(TargetContext ctx, Args args) throws TargetException {
        args.requireAtLeast(5, SYNTAX);
        Args fixed = args.take(5);
        // As in the kernel, optional parameters come first: the sector size shapes everything else.
        options = parseOptions(ctx, args);
        sectorSize = options.sectorSize();

        CipherAlgorithm algorithm;
        Args.Arg cipher = fixed.next("cipher");
        try {
            spec = CipherSpec.parse(cipher.text());
            algorithm = CipherAlgorithm.of(spec);
            KeyLayout.checkIvMode(KeyLayout.ivMode(spec, algorithm), sectorSize);
        } catch (IllegalArgumentException e) {
            throw cipher.error(e.getMessage());
        }
        key = decodeKey(fixed.shift("key"), -1, KEY_ARGUMENT);
        try {
            try {
                layout = new KeyLayout(spec, algorithm, key.length);
            } catch (IllegalArgumentException e) {
                throw keyError(KEY_ARGUMENT, e.getMessage());
            }
            ivGenerator = layout.ivGenerator(key, sectorSize);
            keyValid = true;

            ivOffset = fixed.shiftSectors("iv_offset sector");
            long sectorsPerCryptoSector = Sectors.fromBytes(sectorSize);
            if (ivOffset % sectorsPerCryptoSector != 0) {
                throw fixed.error("Invalid iv_offset sector: not a multiple of sector_size (" + sectorsPerCryptoSector + " sectors)");
            }
            Args.Arg deviceArg = fixed.next("device");
            startSector = fixed.shiftSectors("device sector");
            device = ctx.device(deviceArg, startSector, ctx.length());
        } catch (TargetException | RuntimeException e) {
            Arrays.fill(key, (byte) 0);
            if (ivGenerator != null) {
                ivGenerator.wipe();
            }
            throw e;
        }
        startByte = Sectors.toBytes(startSector);
        workers = new WorkerPool<>(POOLED_WORKERS, Worker::new, Worker::wipe);
    }

    // ---- construction -----------------------------------------------------------------------------

    /** {@code [<#opt_params> <opt_params>...]} after the five fixed arguments (crypt_ctr_optional). */
    private static Options parseOptions(TargetContext ctx, Args rest) throws TargetException {
        boolean allowDiscards = false, sameCpu = false, submitFromCryptCpus = false, noRead = false, noWrite = false, ivLarge = false;
        int sectorSize = 512;
        if (rest.hasMore()) {
            int count = (int) rest.shiftNumber(Args.Rule.SCANF_U64, "number of feature args", 0, MAX_FEATURE_ARGS);
            if (count > rest.remaining()) {
                throw rest.error("Not enough feature arguments: " + count + " announced, " + rest.remaining() + " given");
            }
            Args features = rest.take(count);
            // The kernel ignores what follows the group; a stray word here is more likely a mistake than a wish.
            rest.requireEnd("unexpected argument after the " + count + " announced feature argument" + (count == 1 ? "" : "s"));
            while (features.hasMore()) {
                String opt = features.shift("feature");
                switch (Args.lowerCase(opt)) {
                    case "allow_discards" -> allowDiscards = true;
                    case "same_cpu_crypt" -> sameCpu = true;
                    case "submit_from_crypt_cpus" -> submitFromCryptCpus = true;
                    case "no_read_workqueue" -> noRead = true;
                    case "no_write_workqueue" -> noWrite = true;
                    case "iv_large_sectors" -> ivLarge = true;
                    default -> {
                        // sscanf's "sector_size:%hu" and strncmp's "integrity:" match their prefix case-sensitively.
                        if (opt.startsWith("sector_size:")) {
                            sectorSize = parseSectorSize(ctx, features, opt.substring("sector_size:".length()));
                        } else if (opt.startsWith("integrity:")) {
                            throw features.error("integrity (AEAD and per-sector metadata) is not supported by jdm's crypt target");
                        } else {
                            throw features.error("Invalid feature arguments");
                        }
                    }
                }
            }
        }
        return new Options(allowDiscards, sameCpu, submitFromCryptCpus, noRead, noWrite, sectorSize, ivLarge);
    }

    /** The value of {@code sector_size:<bytes>}, the option last shifted from {@code features}. */
    private static int parseSectorSize(TargetContext ctx, Args features, String value) throws TargetException {
        // sscanf's %hu keeps the low 16 bits.
        long size = Args.Rule.SCANF_U64.parse(value).orElse(-1) & 0xffff;
        if (size < 512 || size > 4096 || Long.bitCount(size) != 1) {
            throw features.error("Invalid feature value for sector_size (a power of two from 512 to 4096)");
        }
        long step = Sectors.fromBytes(size);
        if (ctx.length() % step != 0) {
            throw features.error("Device size is not multiple of sector_size feature (" + ctx.length() + " sectors)");
        }
        if (ctx.begin() % step != 0) {
            throw features.error("target start " + ctx.begin() + " is not aligned to sector_size (the device's logical block size)");
        }
        return (int) size;
    }

    /**
     * Decodes a hex key ({@code -} = none). Errors say {@code where} the key came from but never
     * echo it. With {@code expectedSize >= 0} (key set), the size must match.
     */
    private static byte[] decodeKey(String text, int expectedSize, String where) throws TargetException {
        if (text.startsWith(":")) {
            throw keyError(where, "kernel keyring keys (:<key_size>:<type>:<description>) are not available in jdm; give the key in hex");
        }
        if (text.equals("-")) {
            return new byte[0];
        }
        if (text.length() % 2 != 0) {
            throw keyError(where, "hex key has an odd number of digits (" + text.length() + ")");
        }
        if (expectedSize >= 0 && text.length() / 2 != expectedSize) {
            throw keyError(where, "new key has " + text.length() / 2 + " bytes, the table's key has " + expectedSize + " (the size may not change)");
        }
        byte[] k = new byte[text.length() / 2];
        if (!Bytes.decodeHex(text, k)) {
            Arrays.fill(k, (byte) 0);
            throw keyError(where, "key is not hexadecimal (only 0-9, a-f, A-F)");
        }
        return k;
    }

    private static TargetException keyError(String where, String why) {
        return new TargetException(where + ": " + why);
    }

    // ---- per-I/O state ------------------------------------------------------------------------------

    /** One I/O's ciphers and IV ({@link SectorTransformer}) and bounce buffer. */
    private final class Worker {
        final SectorTransformer transformer = new SectorTransformer(layout, key, sectorSize, options.ivLargeSectors());
        final byte[] chunk = new byte[CHUNK];
        final ByteBuffer chunkView = ByteBuffer.wrap(chunk);

        void wipe() {
            transformer.wipe();
            Arrays.fill(chunk, (byte) 0);
        }
    }

    /** Decrypts whole crypto sectors of {@code buf[off, off+len)} in place, the first at target byte {@code offset}. */
    private void decrypt(Worker w, byte[] buf, int off, int len, long offset) {
        w.transformer.transform(ivGenerator, buf, off, buf, off, len, Sectors.fromBytes(offset) + ivOffset, false);
    }

    /** Encrypts whole crypto sectors of {@code src} into {@code dst} (the same range, or apart). */
    private void encrypt(Worker w, byte[] src, int srcOff, byte[] dst, int dstOff, int len, long offset) {
        w.transformer.transform(ivGenerator, src, srcOff, dst, dstOff, len, Sectors.fromBytes(offset) + ivOffset, true);
    }

    private void checkIo(long offset, long length) throws BlockIoException {
        if (((offset | length) & (sectorSize - 1)) != 0) {
            throw new BlockIoException(Errno.EIO, "crypt: I/O of " + length + " bytes at byte " + offset
                    + " is not aligned to the " + sectorSize + "-byte encryption sector");
        }
        if (!keyValid) {
            throw new BlockIoException(Errno.EIO, "crypt: the key has been wiped");
        }
    }

    // ---- I/O ----------------------------------------------------------------------------------------

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        checkIo(offset, dst.remaining());
        Worker w = workers.take();
        try {
            if (dst.hasArray()) {
                int start = dst.position();
                int len = dst.remaining();
                device.read(startByte + offset, dst);
                decrypt(w, dst.array(), dst.arrayOffset() + start, len, offset);
                return;
            }
            while (dst.hasRemaining()) {
                int n = Math.min(dst.remaining(), CHUNK);
                w.chunkView.clear().limit(n);
                device.read(startByte + offset, w.chunkView);
                decrypt(w, w.chunk, 0, n, offset);
                dst.put(w.chunk, 0, n);
                offset += n;
            }
        } finally {
            workers.give(w);
        }
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        checkIo(offset, src.remaining());
        Worker w = workers.take();
        try {
            while (src.hasRemaining()) {
                int n = Math.min(src.remaining(), CHUNK);
                if (src.hasArray()) {
                    encrypt(w, src.array(), src.arrayOffset() + src.position(), w.chunk, 0, n, offset);
                    src.position(src.position() + n);
                } else {
                    src.get(w.chunk, 0, n);
                    encrypt(w, w.chunk, 0, w.chunk, 0, n, offset);
                }
                device.write(startByte + offset, w.chunkView.clear().limit(n), fua);
                offset += n;
            }
        } finally {
            workers.give(w);
        }
    }

    /** dm-crypt has no write-zeroes: the block layer writes zero pages, which are encrypted like any data. */
    @Override
    public void writeZeroes(long offset, long length, boolean mayUnmap) throws IOException {
        checkIo(offset, length);
        Worker w = workers.take();
        try {
            long end = offset + length;
            while (offset < end) {
                int n = (int) Math.min(end - offset, CHUNK);
                Arrays.fill(w.chunk, 0, n, (byte) 0);
                encrypt(w, w.chunk, 0, w.chunk, 0, n, offset);
                device.write(startByte + offset, w.chunkView.clear().limit(n), false);
                offset += n;
            }
        } finally {
            workers.give(w);
        }
    }

    /** Discards pass through unencrypted, and only with {@code allow_discards}, as in the kernel. */
    @Override
    public void discard(long offset, long length) throws IOException {
        if (!options.allowDiscards()) {
            throw new BlockIoException(Errno.EOPNOTSUPP, "crypt: discards need the allow_discards option");
        }
        device.discard(startByte + offset, length);
    }

    /** With {@code sector_size} the device only takes whole crypto sectors, as the kernel's io_hints say. */
    @Override
    public int logicalBlockSize() {
        return sectorSize;
    }

    @Override
    public boolean supportsDiscard() {
        return options.allowDiscards() && device.supportsDiscard();
    }

    @Override
    public void flush() throws IOException {
        device.flush();
    }

    // ---- control ------------------------------------------------------------------------------------

    @Override
    public String table() {
        StringBuilder sb = new StringBuilder();
        sb.append(spec.text()).append(' ').append(key.length == 0 ? "-" : Bytes.hex(key))
                .append(' ').append(ivOffset).append(' ').append(device.id()).append(' ').append(startSector);
        List<String> words = options.words();
        if (!words.isEmpty()) {
            sb.append(' ').append(words.size());
            words.forEach(word -> sb.append(' ').append(word));
        }
        return sb.toString();
    }

    /** {@code key set <hex>} and {@code key wipe}, only while suspended (EINVAL otherwise), as dm-crypt. */
    @Override
    public String message(Args argv) throws DmException {
        if (argv.count() >= 2 && argv.shiftWord("message").equals("key")) {
            if (!suspended) {
                throw new DmException(Errno.EINVAL, "crypt: not suspended during key manipulation");
            }
            String operation = argv.shiftWord("key operation");
            if (argv.count() == 3 && operation.equals("set")) {
                setKey(argv.shift("key"));
                return null;
            }
            if (argv.count() == 2 && operation.equals("wipe")) {
                wipeKey();
                return null;
            }
        }
        throw new DmException(Errno.EINVAL, "crypt: unrecognised message received (expected \"key set <key>\" or \"key wipe\")");
    }

    private synchronized void setKey(String text) throws TargetException {
        byte[] fresh = decodeKey(text, key.length, "crypt: key set");
        workers.wipeAll();
        System.arraycopy(fresh, 0, key, 0, key.length);
        Arrays.fill(fresh, (byte) 0);
        IvGenerator old = ivGenerator;
        ivGenerator = layout.ivGenerator(key, sectorSize);
        if (old != null) {
            old.wipe();
        }
        keyValid = true;
    }

    /** Like the kernel: overwrite with random bytes, drop everything keyed from it, then zero. */
    private synchronized void wipeKey() {
        keyValid = false;
        new SecureRandom().nextBytes(key);
        IvGenerator ivGen = ivGenerator;
        if (ivGen != null) {
            ivGen.wipe();
        }
        workers.wipeAll();
        Arrays.fill(key, (byte) 0);
    }

    @Override
    public void postsuspend() {
        suspended = true;
    }

    @Override
    public void preresume() throws DmException {
        if (!keyValid) {
            throw new DmException(Errno.EAGAIN, "crypt: aborting resume - crypt key is not set (use message \"key set <key>\")");
        }
    }

    @Override
    public void resume() {
        suspended = false;
    }

    @Override
    public List<BlockDevice> devices() {
        return List.of(device);
    }

    @Override
    public void close() {
        wipeKey();
    }
}
