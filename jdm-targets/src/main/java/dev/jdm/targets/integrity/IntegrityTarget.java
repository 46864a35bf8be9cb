package dev.jdm.targets.integrity;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.Errno;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.Target;
import dev.jdm.core.spi.TargetContext;
import dev.jdm.core.spi.TargetException;
import dev.jdm.core.spi.TargetType;
import dev.jdm.targets.lib.PeriodicWork;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * {@code integrity <dev> <reserved_sectors> <tag_size|-> <mode> <#opt> [opt...]} (dm-integrity.c):
 * keeps a tag per block beside the data, in the kernel's on-disk format, and fails reads whose data
 * no longer matches its tag. Modes: J writes data and tags through a journal first (a crash leaves
 * old or new blocks, never a mix), D writes in place (a crash may leave mismatches), B writes in
 * place but marks regions dirty in a bitmap first and recalculates their tags after a crash,
 * R reads without checking and refuses writes.
 *
 * <p>The kernel's asynchronous workers (commit, writer, bitmap flush, recalculation) run here
 * synchronously under one lock, except the commit and bitmap-flush timers; the bytes written are the same.
 */
public final class IntegrityTarget implements Target {
    private static final int DEFAULT_LOG2_SECTORS_PER_BITMAP_BIT = 15;
    private static final int RECALC_SECTORS = 32768;
    private static final int RECALC_WRITE_SUPER = 16;
    static final byte DISCARD_FILLER = (byte) 0xf6;

    public static final class Type implements TargetType {
        @Override
        public String name() {
            return "integrity";
        }

        @Override
        public Version version() {
            return new Version(1, 13, 0);
        }

        @Override
        public Set<Feature> features() {
            return Set.of(Feature.SINGLETON);
        }

        @Override
        public Target construct(TargetContext ctx, Args args) throws TargetException {
            return IntegrityTarget.construct(ctx, args);
        }
    }

    private final IntegrityOptions o;
    private final IntegrityMode mode;
    private final BlockDevice dev;
    private final BlockDevice meta;
    private final boolean hasMetaDevice;
    private final IntegritySuperblock sb;
    private final IntegrityGeometry g;
    private final IntegrityHash hash;
    private final byte[] salt;
    private final IntegrityJournal journal;
    /** The journal's circular positions; present with the journal, used in J mode. */
    private final JournalRing ring;
    private final MetadataCache tags;
    private final int log2BufferSectors;
    private final int log2BlocksPerBitmapBit;
    /** B mode's dirty bitmap, kept in the journal's memory as the kernel keeps it. */
    private final DirtyBitmap bitmap;
    private final int blockBytes;
    private final int sections;

    private final ReentrantLock lock = new ReentrantLock();
    private final AtomicLong mismatches = new AtomicLong();
    private volatile BlockIoException failure;

    private boolean justFormatted;
    private boolean journalUpToDate;
    private boolean wroteToJournal;
    private boolean active;
    /** The kernel's autocommit timer and bitmap flush work: once a period after a write asks for them. */
    private final PeriodicWork autocommit;
    private final PeriodicWork bitmapFlushTimer;

    private IntegrityTarget(IntegrityOptions o, BlockDevice dev, BlockDevice meta, IntegritySuperblock sb, IntegrityGeometry g,
                            int log2BufferSectors, int log2BlocksPerBitmapBit, int nBitmapBlocks, boolean justFormatted) {
        this.o = o;
        this.mode = o.mode();
        this.dev = dev;
        this.meta = meta;
        this.hasMetaDevice = o.metaDevice() != null;
        this.sb = sb;
        this.g = g;
        this.hash = o.internalHash();
        this.salt = sb.has(IntegritySuperblock.FLAG_FIXED_HMAC) ? sb.salt() : null;
        this.journal = !mode.hasJournalArea() ? null : new IntegrityJournal(g, o.journalMac(), salt, o.journalCrypt());
        this.log2BufferSectors = log2BufferSectors;
        this.tags = new MetadataCache(meta, (g.start + g.initialSectors) << 9, 512 << log2BufferSectors);
        this.log2BlocksPerBitmapBit = log2BlocksPerBitmapBit;
        this.bitmap = journal == null ? null : new DirtyBitmap(journal.image, meta, g, log2BlocksPerBitmapBit, nBitmapBlocks);
        this.ring = journal == null ? null : new JournalRing(journal, meta, g, o.journalWatermark());
        this.blockBytes = g.sectorsPerBlock << 9;
        this.sections = (int) g.journalSections;
        this.justFormatted = justFormatted;
        this.autocommit = new PeriodicWork("integrity-commit", o.commitTimeMs(), () -> inBackground(this::commit));
        this.bitmapFlushTimer = new PeriodicWork("integrity-bitmap-flush", o.bitmapFlushIntervalMs(),
                () -> inBackground(this::bitmapFlush));
    }

    // ---- construction (dm_integrity_ctr) ---------------------------------------------------------

    static IntegrityTarget construct(TargetContext ctx, Args args) throws TargetException {
        IntegrityOptions o = IntegrityOptions.parse(args);
        BlockDevice dev = ctx.device(args, 0, 0, 0);
        BlockDevice meta = dev;
        if (o.metaDevice() != null) {
            meta = ctx.device(new Args.Arg(args, o.metaDeviceArg(), o.metaDevice()), 0, 0);
        }
        boolean hasMeta = o.metaDevice() != null;
        long dataSectors = dev.size() >> 9;
        long metaSectors = meta.size() >> 9;
        int log2Buffer = o.log2BufferSectors();

        byte[] area = new byte[IntegritySuperblock.BYTES];
        try {
            meta.read(o.start() << 9, ByteBuffer.wrap(area));
        } catch (IOException e) {
            throw new TargetException(Errno.EIO, "Error reading superblock: " + e.getMessage(), e);
        }
        boolean format = false;
        IntegritySuperblock sb;
        if (!IntegritySuperblock.hasMagic(area)) {
            if (o.mode() != IntegrityMode.RECOVERY && !IntegritySuperblock.isAllZero(area)) {
                throw new TargetException("The device is not initialized (no integrity superblock at sector " + o.start()
                        + ", and the area is not zero)");
            }
            int[] buffer = {log2Buffer};
            sb = IntegrityFormat.initializeSuperblock(o, hasMeta, dataSectors, metaSectors, buffer);
            log2Buffer = buffer[0];
            format = o.mode() != IntegrityMode.RECOVERY;
        } else {
            sb = IntegritySuperblock.decode(area);
            if (o.mode() != IntegrityMode.RECOVERY && o.journalMac() != null && sb.has(IntegritySuperblock.FLAG_FIXED_HMAC)
                    && !Arrays.equals(sb.storedMac(o.journalMac().digestSize()), IntegrityFormat.superblockMac(o.journalMac(), area))) {
                throw new TargetException(Errno.EILSEQ, "Error reading superblock: superblock mac mismatch");
            }
        }
        IntegrityFormat.checkSuperblock(o, sb, hasMeta);

        boolean journalMac = sb.has(IntegritySuperblock.FLAG_HAVE_JOURNAL_MAC);
        boolean fixedPadding = sb.has(IntegritySuperblock.FLAG_FIXED_PADDING);
        long provided = IntegrityGeometry.providedDataSectors(o.start(), sb.tagSize, sb.log2SectorsPerBlock,
                sb.log2InterleaveSectors, hasMeta, sb.journalSections, journalMac, fixedPadding, log2Buffer, dataSectors, metaSectors);
        if (provided == 0) {
            throw new TargetException("The device is too small");
        }
        IntegrityGeometry g;
        while (true) {
            g = IntegrityGeometry.of(o.start(), sb.tagSize, sb.log2SectorsPerBlock, sb.log2InterleaveSectors, hasMeta,
                    sb.journalSections, journalMac, fixedPadding, log2Buffer, provided, metaSectors);
            if (g != null) {
                break;
            }
            if (!hasMeta || log2Buffer <= 3) {
                throw new TargetException("The device is too small");
            }
            log2Buffer--;
        }

        int log2SectorsPerBit = o.log2SectorsPerBitmapBit() < 0 ? DEFAULT_LOG2_SECTORS_PER_BITMAP_BIT : o.log2SectorsPerBitmapBit();
        log2SectorsPerBit = Math.max(log2SectorsPerBit, sb.log2SectorsPerBlock);
        long bitsInJournal = Math.min((g.journalSectors()) << 12, 0xffff_ffffL);
        if (bitsInJournal > 0) {
            while (bitsInJournal < (provided + (1L << log2SectorsPerBit) - 1) >>> log2SectorsPerBit) {
                log2SectorsPerBit++;
            }
        }
        int log2BlocksPerBit = log2SectorsPerBit - sb.log2SectorsPerBlock;
        if (format) {
            sb.log2BlocksPerBitmapBit = log2BlocksPerBit;
        }
        long bitmapBits = ((provided >>> sb.log2SectorsPerBlock) + (1L << log2BlocksPerBit) - 1) >>> log2BlocksPerBit;
        int nBitmapBlocks = (int) ((bitmapBits + DirtyBitmap.BITS_PER_BLOCK - 1) / DirtyBitmap.BITS_PER_BLOCK);
        if (!hasMeta) {
            log2Buffer = Math.min(log2Buffer, Long.numberOfTrailingZeros(g.metadataRun));
            // The kernel stops here; with a legacy 128 KiB run and interleave_sectors below 128 its
            // buffer-granular tag arithmetic would then put an area's tags on the previous area's
            // data. Buffers that divide the area stride keep every tag inside its own run.
            log2Buffer = Math.min(log2Buffer, Long.numberOfTrailingZeros(g.interleaveSectors() + g.metadataRun));
        }
        if (ctx.length() > provided) {
            throw new TargetException("Not enough provided sectors for requested mapping size: the target is "
                    + ctx.length() + " sectors, the device provides " + provided);
        }
        if (o.recalculate() && !sb.has(IntegritySuperblock.FLAG_RECALCULATING)) {
            sb.flags |= IntegritySuperblock.FLAG_RECALCULATING;
            sb.recalcSector = 0;
        }
        if (o.internalHash() == null && sb.has(IntegritySuperblock.FLAG_RECALCULATING)) {
            throw new TargetException("Recalculate can only be specified with internal_hash");
        }
        if (sb.has(IntegritySuperblock.FLAG_RECALCULATING) && sb.recalcSector < provided && IntegrityFormat.recalculationDisabled(o, sb)) {
            throw new TargetException(Errno.EOPNOTSUPP, "Recalculating with HMAC is disabled for security reasons"
                    + " - if you really need it, use the argument \"legacy_recalculate\"");
        }
        IntegrityTarget t;
        try {
            t = new IntegrityTarget(o, dev, meta, sb, g, log2Buffer, log2BlocksPerBit, nBitmapBlocks, format);
        } catch (IllegalArgumentException e) {
            throw new TargetException(Errno.ENOMEM, e.getMessage());
        }
        if (format) {
            try {
                t.journal.clearAll(meta);
                t.writeSuperblock(true);
            } catch (IOException e) {
                throw new TargetException(BlockIoException.errnoOf(e), "Error initializing journal and superblock: " + e.getMessage(), e);
            }
        }
        return t;
    }

    private void writeSuperblock(boolean fua) throws IOException {
        sb.setVersion(mode == IntegrityMode.BITMAP, hasMetaDevice);
        if (o.journalMac() != null && sb.has(IntegritySuperblock.FLAG_FIXED_HMAC)) {
            sb.storeMac(IntegrityFormat.superblockMac(o.journalMac(), sb.encode()));
        }
        meta.write(g.start << 9, ByteBuffer.wrap(sb.encode()), fua);
    }

    // ---- tags ------------------------------------------------------------------------------------

    /** {@code integrity_sector_checksum}: H([salt] ‖ le64 sector ‖ block), cut or zero-padded to the tag size. */
    private void checksum(long logicalSector, ByteBuffer block, byte[] out, int outOffset) {
        IntegrityHash.Session s = hash.begin();
        if (salt != null) {
            s.update(salt, 0, salt.length);
        }
        byte[] sector = new byte[8];
        ByteBuffer.wrap(sector).order(ByteOrder.LITTLE_ENDIAN).putLong(0, logicalSector);
        s.update(sector, 0, 8);
        s.update(block);
        byte[] d = s.finish();
        int n = Math.min(d.length, g.tagSize);
        System.arraycopy(d, 0, out, outOffset, n);
        Arrays.fill(out, outOffset + n, outOffset + g.tagSize, (byte) 0);
    }

    private void checksum(long logicalSector, byte[] data, int offset, byte[] out, int outOffset) {
        checksum(logicalSector, ByteBuffer.wrap(data, offset, blockBytes), out, outOffset);
    }

    /** Tags of consecutive blocks held in {@code data} from its position; zeroes without internal_hash. */
    private byte[] tagsFor(long logicalSector, ByteBuffer data, int blocks) {
        byte[] t = new byte[blocks * g.tagSize];
        if (hash != null) {
            for (int b = 0; b < blocks; b++) {
                checksum(logicalSector + ((long) b << g.log2SectorsPerBlock),
                        data.slice(data.position() + b * blockBytes, blockBytes), t, b * g.tagSize);
            }
        }
        return t;
    }

    private boolean isDiscardFiller(byte[] t, int offset) {
        for (int i = offset; i < offset + g.tagSize; i++) {
            if (t[i] != DISCARD_FILLER) {
                return false;
            }
        }
        return true;
    }

    // ---- I/O -------------------------------------------------------------------------------------

    private void checkUsable(long offset, long length) throws BlockIoException {
        BlockIoException f = failure;
        if (f != null) {
            throw new BlockIoException(f.errno(), "integrity: device failed earlier: " + f.getMessage(), f);
        }
        if (((offset | length) & (blockBytes - 1)) != 0) {
            throw new BlockIoException(Errno.EIO, "integrity: I/O at byte " + offset + " length " + length
                    + " is not aligned on the " + blockBytes + "-byte block size");
        }
    }

    private BlockIoException fail(Errno errno, String what) {
        BlockIoException e = new BlockIoException(errno, "integrity: " + what);
        if (errno == Errno.EILSEQ) {
            mismatches.incrementAndGet();
        }
        if (failure == null) {
            failure = e;
        }
        return e;
    }

    private BlockIoException fail(IOException cause, String what) {
        BlockIoException e = new BlockIoException(BlockIoException.errnoOf(cause), "integrity: error on " + what + ": " + cause.getMessage(), cause);
        if (failure == null) {
            failure = e;
        }
        return e;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        int length = dst.remaining();
        checkUsable(offset, length);
        // Straight into the caller's buffer; verified there before the position moves.
        ByteBuffer out = dst.slice();
        lock.lock();
        try {
            long sector = offset >>> 9;
            int done = 0;
            while (done < length) {
                if (mode == IntegrityMode.JOURNAL && ring.readNewest(sector, out, done, blockBytes)) {
                    done += blockBytes;
                    sector += g.sectorsPerBlock;
                    continue;
                }
                int run = (int) Math.min((length - done) >>> 9, g.sectorsLeftInArea(sector));
                if (mode == IntegrityMode.JOURNAL) {
                    int s = g.sectorsPerBlock;
                    while (s < run && !ring.holds(sector + s)) {
                        s += g.sectorsPerBlock;
                    }
                    run = Math.min(run, s);
                }
                readVerified(sector, out.slice(done, run << 9), run);
                done += run << 9;
                sector += run;
            }
        } finally {
            lock.unlock();
        }
        dst.position(dst.position() + length);
    }

    /** Reads sectors from the data area into {@code out} and checks every block against its stored tag. */
    private void readVerified(long sector, ByteBuffer out, int nSectors) throws IOException {
        dev.read(g.dataSector(sector) << 9, out.duplicate());
        if (hash == null || mode == IntegrityMode.RECOVERY) {
            return;
        }
        int blocks = nSectors >>> g.log2SectorsPerBlock;
        byte[] stored = new byte[blocks * g.tagSize];
        tags.read(g.tagByte(sector, log2BufferSectors), stored, 0, stored.length);
        byte[] computed = new byte[g.tagSize];
        boolean recalculating = sb.has(IntegritySuperblock.FLAG_RECALCULATING);
        for (int b = 0; b < blocks; b++) {
            long s = sector + ((long) b << g.log2SectorsPerBlock);
            if (recalculating && s + g.sectorsPerBlock > sb.recalcSector || mode == IntegrityMode.BITMAP && bitmap.recalc.get(bitmap.bit(s))) {
                continue;
            }
            checksum(s, out.slice(b * blockBytes, blockBytes), computed, 0);
            if (!Arrays.equals(computed, 0, g.tagSize, stored, b * g.tagSize, (b + 1) * g.tagSize)
                    && !(o.allowDiscards() && isDiscardFiller(stored, b * g.tagSize))) {
                mismatches.incrementAndGet();
                throw new BlockIoException(Errno.EILSEQ, "integrity: Checksum failed at sector 0x" + Long.toHexString(s)
                        + " (" + s + ")");
            }
        }
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        int length = src.remaining();
        if (mode == IntegrityMode.RECOVERY) {
            throw new BlockIoException(Errno.EIO, "integrity: writes are refused in recovery mode (R)");
        }
        checkUsable(offset, length);
        lock.lock();
        try {
            long sector = offset >>> 9;
            if (mode == IntegrityMode.JOURNAL) {
                byte[] data = new byte[length];
                src.get(data);
                journalWrite(sector, data);
                if (fua || ring.pastWatermark()) {
                    commit();
                } else {
                    autocommit.schedule();
                }
            } else {
                if (mode == IntegrityMode.BITMAP) {
                    markDirty(sector, length >>> 9);
                }
                directWrite(sector, src.slice(), length >>> 9);
                src.position(src.limit());
                if (fua) {
                    flushBuffers();
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /** Data in place, tags into the buffered tag store: what D and B modes do. */
    private void directWrite(long sector, ByteBuffer data, int nSectors) throws IOException {
        int offset = 0;
        while (nSectors > 0) {
            int run = (int) Math.min(nSectors, g.sectorsLeftInArea(sector));
            ByteBuffer piece = data.slice(offset, run << 9);
            dev.write(g.dataSector(sector) << 9, piece.duplicate(), false);
            if (hash != null) {
                byte[] t = tagsFor(sector, piece, run >>> g.log2SectorsPerBlock);
                tags.write(g.tagByte(sector, log2BufferSectors), t, 0, t.length);
            }
            offset += run << 9;
            sector += run;
            nSectors -= run;
        }
    }

    /** Copies blocks into free journal entries (__journal_read_write), making room when the journal is full. */
    private void journalWrite(long sector, byte[] data) throws IOException {
        byte[] tag = new byte[g.tagSize];
        for (int offset = 0; offset < data.length; offset += blockBytes, sector += g.sectorsPerBlock) {
            if (ring.full()) {
                commit();
                writeback();
            }
            if (hash != null) {
                checksum(sector, data, offset, tag, 0);
            }
            ring.append(sector, data, offset, tag);
        }
    }

    /** {@code integrity_commit}: closes the open section and writes the uncommitted ones with this lap's commit ids. */
    private void commit() throws IOException {
        try {
            if (!ring.commit()) {
                return;
            }
        } catch (IOException e) {
            throw fail(e, "writing journal");
        }
        wroteToJournal = true;
        if (ring.pastWatermark()) {
            writeback();
        }
    }

    /** {@code integrity_writer}: copies committed sections to their home and frees them. */
    private void writeback() throws IOException {
        ring.writeback((start, count) -> copyJournal(start, count, false));
    }

    /**
     * {@code do_journal_write}: entries of each section, in order, grouped into runs of consecutive
     * blocks; tags and data go home, then everything is flushed. On replay the entries are checked
     * first: a sector that cannot be, a section MAC or a tag that does not match fails the device.
     */
    private void copyJournal(int start, int count, boolean fromReplay) throws IOException {
        for (int n = 0; n < count; n++) {
            int i = (start + n) % sections;
            if (fromReplay && !journal.verifySectionMac(i)) {
                throw fail(Errno.EILSEQ, "journal mac mismatch in section " + i);
            }
            for (int j = 0; j < g.journalSectionEntries; j++) {
                if (journal.isUnused(i, j)) {
                    continue;
                }
                long sec = journal.entrySector(i, j);
                if (fromReplay) {
                    if ((sec & (g.sectorsPerBlock - 1)) != 0) {
                        throw fail(Errno.EIO, "invalid sector " + sec + " in journal section " + i);
                    }
                    if (sec < 0 || sec >= g.providedDataSectors) {
                        journal.setUnused(i, j);
                        continue;
                    }
                }
                int k = j + 1;
                while (k < g.journalSectionEntries && !journal.isUnused(i, k)) {
                    long sec2 = journal.entrySector(i, k);
                    if (sec2 < 0 || sec2 >= g.providedDataSectors || g.area(sec2) != g.area(sec)
                            || sec2 != sec + ((long) (k - j) << g.log2SectorsPerBlock)) {
                        break;
                    }
                    k++;
                }
                int blocks = k - j;
                byte[] data = new byte[blocks * blockBytes];
                byte[] runTags = new byte[blocks * g.tagSize];
                byte[] check = new byte[g.tagSize];
                for (int l = j; l < k; l++) {
                    int b = l - j;
                    journal.getBlock(i, l, data, b * blockBytes);
                    byte[] t = journal.tag(i, l);
                    long s = sec + ((long) b << g.log2SectorsPerBlock);
                    if (fromReplay && hash != null) {
                        checksum(s, data, b * blockBytes, check, 0);
                        if (!Arrays.equals(check, t)) {
                            throw fail(Errno.EILSEQ, "tag mismatch when replaying journal at sector " + s);
                        }
                    }
                    System.arraycopy(t, 0, runTags, b * g.tagSize, g.tagSize);
                    journal.setUnused(i, l);
                    ring.wentHome(s, i, l);
                }
                try {
                    tags.write(g.tagByte(sec, log2BufferSectors), runTags, 0, runTags.length);
                    dev.write(g.dataSector(sec) << 9, ByteBuffer.wrap(data), false);
                } catch (IOException e) {
                    throw fail(e, "copying from journal");
                }
                j = k - 1;
            }
        }
        flushBuffers();
    }

    /** {@code dm_integrity_flush_buffers(ic, true)}: tags written and both devices flushed. */
    private void flushBuffers() throws IOException {
        try {
            tags.flush();
            if (hasMetaDevice) {
                dev.flush();
            }
        } catch (IOException e) {
            throw fail(e, "writing tags");
        }
    }

    @Override
    public void flush() throws IOException {
        checkUsable(0, 0);
        lock.lock();
        try {
            if (mode == IntegrityMode.JOURNAL) {
                commit();
            } else if (mode != IntegrityMode.RECOVERY) {
                flushBuffers();
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        if (!o.allowDiscards()) {
            throw new BlockIoException(Errno.EOPNOTSUPP, "integrity: discards need the allow_discards option");
        }
        if (mode == IntegrityMode.RECOVERY) {
            throw new BlockIoException(Errno.EIO, "integrity: discards are refused in recovery mode (R)");
        }
        checkUsable(offset, length);
        lock.lock();
        try {
            if (mode == IntegrityMode.JOURNAL) {
                // Journalled blocks of the range must reach home first, or a replay would resurrect them.
                commit();
                writeback();
            } else if (mode == IntegrityMode.BITMAP) {
                markDirty(offset >>> 9, length >>> 9);
            }
            long sector = offset >>> 9;
            long left = length >>> 9;
            while (left > 0) {
                long run = Math.min(left, g.sectorsLeftInArea(sector));
                long tagBytes = (run >>> g.log2SectorsPerBlock) * g.tagSize;
                for (long done = 0; done < tagBytes; ) {
                    int n = (int) Math.min(tagBytes - done, 1 << 20);
                    byte[] filler = new byte[n];
                    Arrays.fill(filler, DISCARD_FILLER);
                    tags.write(g.tagByte(sector, log2BufferSectors) + done, filler, 0, n);
                    done += n;
                }
                dev.discard(g.dataSector(sector) << 9, run << 9);
                sector += run;
                left -= run;
            }
            flushBuffers();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayUnmap) throws IOException {
        // The kernel's integrity target has no write-zeroes; the block layer writes zero pages through it.
        int chunk = 1 << 20;
        byte[] zeroes = new byte[(int) Math.min(chunk, length)];
        for (long done = 0; done < length; ) {
            int n = (int) Math.min(zeroes.length, length - done);
            write(offset + done, ByteBuffer.wrap(zeroes, 0, n), false);
            done += n;
        }
    }

    @Override
    public boolean supportsDiscard() {
        return o.allowDiscards();
    }

    // ---- bitmap (B mode) -------------------------------------------------------------------------

    /** {@code bitmap_block_work}: regions about to change are marked dirty on disk before the write. */
    private void markDirty(long sector, long nSectors) throws IOException {
        int from = bitmap.bit(sector);
        int to = bitmap.endBit(sector, nSectors);
        if (bitmap.mayWrite.nextClearBit(from) >= to) {
            return;
        }
        bitmap.set(from, to, true);
        try {
            bitmap.writeBlocks(from, to);
        } catch (IOException e) {
            throw fail(e, "writing bitmap");
        }
        bitmap.mayWrite.set(from, to);
        bitmapFlushTimer.schedule();
    }

    /** {@code bitmap_flush_work}: once data and tags are stable, the dirty marks are cleared on disk. */
    private void bitmapFlush() throws IOException {
        flushBuffers();
        long limit = g.providedDataSectors;
        if (sb.has(IntegritySuperblock.FLAG_RECALCULATING)) {
            limit = sb.recalcSector >>> bitmap.shift() << bitmap.shift();
        }
        if (limit > 0) {
            int to = bitmap.endBit(0, limit);
            bitmap.set(0, to, false);
            bitmap.mayWrite.clear(0, to);
        }
        try {
            bitmap.write();
        } catch (IOException e) {
            throw fail(e, "writing bitmap");
        }
    }

    // ---- timers ----------------------------------------------------------------------------------

    private interface Work {
        void run() throws IOException;
    }

    private void inBackground(Work work) {
        lock.lock();
        try {
            if (active && failure == null) {
                work.run();
            }
        } catch (IOException e) {
            fail(e, "background work");
        } finally {
            lock.unlock();
        }
    }

    // ---- lifecycle (dm_integrity_resume / dm_integrity_postsuspend) --------------------------------

    @Override
    public void resume() {
        lock.lock();
        try {
            if (active) {
                return;
            }
            try {
                doResume();
            } catch (IOException e) {
                fail(e, "resume");
            }
            active = true;
        } finally {
            lock.unlock();
        }
    }

    private void doResume() throws IOException {
        wroteToJournal = false;
        if (mode == IntegrityMode.RECOVERY) {
            // Recovery looks at the device as it is: no replay, no bitmap, nothing written.
            return;
        }
        if (g.providedDataSectors != sb.providedDataSectors) {
            long old = sb.providedDataSectors;
            if (g.providedDataSectors > old && mode == IntegrityMode.BITMAP && sb.log2BlocksPerBitmapBit == log2BlocksPerBitmapBit) {
                bitmap.read();
                bitmap.set(bitmap.bit(old), bitmap.endBit(old, g.providedDataSectors - old), true);
                bitmap.write();
            }
            sb.providedDataSectors = g.providedDataSectors;
            writeSuperblock(true);
        }
        long provided = g.providedDataSectors;
        if (sb.has(IntegritySuperblock.FLAG_DIRTY_BITMAP)) {
            bitmap.read();
            int allBits = bitmap.endBit(0, provided);
            boolean anyDirty = false;
            for (int b = 0; b < allBits && !anyDirty; b++) {
                anyDirty = bitmap.get(b);
            }
            if (mode == IntegrityMode.BITMAP) {
                if (sb.log2BlocksPerBitmapBit == log2BlocksPerBitmapBit && !o.resetRecalculate()) {
                    bitmap.copyTo(bitmap.recalc, allBits);
                    bitmap.copyTo(bitmap.mayWrite, allBits);
                    if (anyDirty) {
                        startRecalculation();
                    }
                } else {
                    sb.log2BlocksPerBitmapBit = log2BlocksPerBitmapBit;
                    bitmap.recalc.set(0, allBits);
                    bitmap.mayWrite.set(0, allBits);
                    bitmap.set(0, allBits, true);
                    bitmap.write();
                    startRecalculation();
                }
            } else {
                if (!(sb.log2BlocksPerBitmapBit == log2BlocksPerBitmapBit && !anyDirty) || o.resetRecalculate()) {
                    startRecalculation();
                }
                journal.clearAll(meta);
                replayJournal();
                sb.flags &= ~IntegritySuperblock.FLAG_DIRTY_BITMAP;
            }
            writeSuperblock(true);
        } else {
            replayJournal();
            if (o.resetRecalculate()) {
                startRecalculation();
            }
            if (mode == IntegrityMode.BITMAP) {
                sb.flags |= IntegritySuperblock.FLAG_DIRTY_BITMAP;
                sb.log2BlocksPerBitmapBit = log2BlocksPerBitmapBit;
                writeSuperblock(true);
                int allBits = bitmap.endBit(0, provided);
                bitmap.set(0, allBits, false);
                bitmap.recalc.clear();
                bitmap.mayWrite.clear();
                if (sb.has(IntegritySuperblock.FLAG_RECALCULATING) && sb.recalcSector < provided) {
                    int from = bitmap.bit(sb.recalcSector);
                    bitmap.set(from, allBits, true);
                    bitmap.recalc.set(from, allBits);
                    bitmap.mayWrite.set(from, allBits);
                }
                bitmap.write();
            }
        }
        if (sb.has(IntegritySuperblock.FLAG_RECALCULATING)) {
            if (sb.recalcSector < provided) {
                recalculate();
            } else if (sb.recalcSector > provided) {
                sb.recalcSector = provided;
                flushBuffers();
                writeSuperblock(false);
            }
        }
    }

    private void startRecalculation() {
        sb.flags |= IntegritySuperblock.FLAG_RECALCULATING;
        sb.recalcSector = 0;
    }

    /**
     * {@code replay_journal}: finds the run of sections whose commit ids agree, copies their entries
     * home, and either continues the journal where it stands or clears it with a fresh sequence.
     */
    private void replayJournal() throws IOException {
        if (mode == IntegrityMode.RECOVERY || journalUpToDate) {
            return;
        }
        if (!justFormatted) {
            journal.readAll(meta);
        }
        IntegrityJournal.ReplayPlan plan = journal.plan();
        if (plan.consistent()) {
            if (!plan.empty()) {
                copyJournal(plan.writeStart(), plan.writeSections(), true);
            }
        } else {
            fail(Errno.EIO, "journal commit id not recognised");
        }
        ring.restartAfterReplay(plan, plan.consistent() && plan.writeSections() == sections
                && (mode == IntegrityMode.JOURNAL || plan.empty()));
    }

    /** {@code integrity_recalc}, run to completion: tags rebuilt from the data, in area-sized chunks. */
    private void recalculate() throws IOException {
        int superCounter = 0;
        while (sb.recalcSector < g.providedDataSectors) {
            long rangeStart = sb.recalcSector;
            long rangeLength = Math.min(Math.min(RECALC_SECTORS, g.providedDataSectors - rangeStart), g.sectorsLeftInArea(rangeStart));
            long start = rangeStart;
            long n = rangeLength;
            boolean skip = false;
            if (mode == IntegrityMode.BITMAP) {
                int from = bitmap.bit(start);
                int to = bitmap.endBit(start, n);
                if (bitmap.recalc.nextSetBit(from) < 0 || bitmap.recalc.nextSetBit(from) >= to) {
                    skip = true;
                } else {
                    while (!bitmap.recalc.get(bitmap.bit(start))) {
                        start += g.sectorsPerBlock;
                        n -= g.sectorsPerBlock;
                    }
                    while (!bitmap.recalc.get(bitmap.bit(start + n - g.sectorsPerBlock))) {
                        n -= g.sectorsPerBlock;
                    }
                }
            }
            if (!skip) {
                if (++superCounter == RECALC_WRITE_SUPER) {
                    flushBuffers();
                    writeSuperblock(false);
                    superCounter = 0;
                }
                byte[] data = new byte[(int) n << 9];
                dev.read(g.dataSector(start) << 9, ByteBuffer.wrap(data));
                byte[] t = tagsFor(start, ByteBuffer.wrap(data), (int) (n >>> g.log2SectorsPerBlock));
                tags.write(g.tagByte(start, log2BufferSectors), t, 0, t.length);
                if (mode == IntegrityMode.BITMAP) {
                    long from = rangeStart >>> bitmap.shift() << bitmap.shift();
                    long to = (rangeStart + rangeLength) >>> bitmap.shift() << bitmap.shift();
                    if (to > from) {
                        bitmap.recalc.clear(bitmap.bit(from), bitmap.bit(to));
                    }
                }
            }
            sb.recalcSector = rangeStart + rangeLength;
        }
        if (mode == IntegrityMode.BITMAP) {
            bitmap.recalc.clear();
            bitmapFlush();
        }
        flushBuffers();
        writeSuperblock(false);
    }

    @Override
    public void postsuspend() {
        lock.lock();
        try {
            if (!active) {
                return;
            }
            active = false;
            autocommit.stop();
            bitmapFlushTimer.stop();
            if (failure == null) {
                try {
                    doPostsuspend();
                } catch (IOException e) {
                    fail(e, "suspend");
                }
            }
        } finally {
            lock.unlock();
        }
    }

    private void doPostsuspend() throws IOException {
        if (mode == IntegrityMode.JOURNAL) {
            commit();
            writeback();
            flushBuffers();
            if (wroteToJournal) {
                ring.clearForSuspend();
            }
        } else if (mode == IntegrityMode.BITMAP) {
            flushBuffers();
            journal.clearAll(meta);
            sb.flags &= ~IntegritySuperblock.FLAG_DIRTY_BITMAP;
            writeSuperblock(true);
        } else if (mode == IntegrityMode.DIRECT) {
            flushBuffers();
        }
        journalUpToDate = true;
    }

    @Override
    public void close() {
        postsuspend();
        autocommit.close();
        bitmapFlushTimer.close();
    }

    // ---- status ----------------------------------------------------------------------------------

    public long providedDataSectors() {
        return g.providedDataSectors;
    }

    public long mismatches() {
        return mismatches.get();
    }

    public IntegrityGeometry geometry() {
        return g;
    }

    @Override
    public String status() {
        return mismatches.get() + " " + g.providedDataSectors + " "
                + (sb.has(IntegritySuperblock.FLAG_RECALCULATING) ? Long.toString(sb.recalcSector) : "-");
    }

    @Override
    public String table() {
        List<String> opts = new ArrayList<>();
        if (hasMetaDevice) {
            opts.add("meta_device:" + meta.id());
        }
        if (g.sectorsPerBlock != 1) {
            opts.add("block_size:" + blockBytes);
        }
        if (sb.has(IntegritySuperblock.FLAG_RECALCULATING)) {
            opts.add("recalculate");
        }
        if (o.resetRecalculate()) {
            opts.add("reset_recalculate");
        }
        if (o.allowDiscards()) {
            opts.add("allow_discards");
        }
        opts.add("journal_sectors:" + g.journalSectors());
        opts.add("interleave_sectors:" + (1L << sb.log2InterleaveSectors));
        opts.add("buffer_sectors:" + (1 << log2BufferSectors));
        if (mode == IntegrityMode.JOURNAL) {
            opts.add("journal_watermark:" + ring.watermarkPercent());
            opts.add("commit_time:" + o.commitTimeMs());
        }
        if (mode == IntegrityMode.BITMAP) {
            opts.add("sectors_per_bit:" + ((long) g.sectorsPerBlock << log2BlocksPerBitmapBit));
            opts.add("bitmap_flush_interval:" + o.bitmapFlushIntervalMs());
        }
        if (sb.has(IntegritySuperblock.FLAG_FIXED_PADDING)) {
            opts.add("fix_padding");
        }
        if (sb.has(IntegritySuperblock.FLAG_FIXED_HMAC)) {
            opts.add("fix_hmac");
        }
        if (o.legacyRecalculate()) {
            opts.add("legacy_recalculate");
        }
        if (hash != null) {
            opts.add("internal_hash:" + hash);
        }
        if (o.journalCrypt() != null) {
            opts.add("journal_crypt:" + o.journalCrypt());
        }
        if (o.journalMac() != null) {
            opts.add("journal_mac:" + o.journalMac());
        }
        return dev.id() + " " + g.start + " " + g.tagSize + " " + mode + " " + opts.size()
                + (opts.isEmpty() ? "" : " " + String.join(" ", opts));
    }

    /** {@code dm_integrity_io_hints}: the mapped device takes I/O in whole blocks. */
    @Override
    public int logicalBlockSize() {
        return blockBytes;
    }

    @Override
    public List<BlockDevice> devices() {
        return hasMetaDevice ? List.of(dev, meta) : List.of(dev);
    }
}
