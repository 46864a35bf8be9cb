package dev.jdm.targets;

import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.Sectors;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.Args.Rule;
import dev.jdm.core.spi.RemapTarget;
import dev.jdm.core.spi.Target;
import dev.jdm.core.spi.TargetContext;
import dev.jdm.core.spi.TargetException;
import dev.jdm.core.spi.TargetType;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * {@code switch <num_paths> <region_size> 0 (<dev> <offset>)...} (dm-switch.c): the target is cut into
 * regions of {@code region_size} sectors and a table says which path each region goes to; a region's
 * sectors keep their target offset on that path ({@code path offset + target offset}). The table starts
 * round-robin (region i on path i mod num_paths) and {@code set_region_mappings} changes it.
 * <p>
 * The table is packed as the kernel packs it: each entry takes the smallest bit width that holds every
 * path number, as many entries as fit in a 64-bit slot. A 1 TiB device in 64 KiB regions over 2 paths
 * (16 Mi regions of 1 bit) takes 2 MiB, over 3 or 4 paths 4 MiB. A slot is read and written whole, so
 * an I/O sees an entry from before or after a concurrent message, never a torn one.
 * <p>
 * Discards go whole to the path of their first sector (the kernel sends one discard bio: the paths reach
 * the same storage); every other I/O is cut at region boundaries. Flushes go to every path.
 */
public final class SwitchTarget extends RemapTarget {
    /** The kernel's limit: as many paths as fit in one kmalloc next to the context (4 MiB on x86-64). */
    static final int MAX_PATHS = 262_141;
    private static final Args.Range PATHS = new Args.Range(1, MAX_PATHS, "Invalid number of paths");
    private static final Args.Range REGION_SIZE = new Args.Range(1, 0xffff_ffffL, "Invalid region size");
    private static final Args.Range OPTIONAL_ARGS = new Args.Range(0, 0, "Invalid number of optional args");

    public static final class Type implements TargetType {
        @Override
        public String name() {
            return "switch";
        }

        @Override
        public Version version() {
            return new Version(1, 1, 0);
        }

        @Override
        public Target construct(TargetContext ctx, Args args) throws TargetException {
            int paths = (int) args.read(PATHS);
            long regionSectors = args.read(REGION_SIZE);
            args.group(OPTIONAL_ARGS);
            if (args.remaining() != 2L * paths) {
                throw new TargetException("Incorrect number of path arguments: expected a <dev> <offset> pair for each of the "
                        + paths + " paths (" + 2L * paths + " arguments), got " + args.remaining());
            }
            BlockDevice[] devices = new BlockDevice[paths];
            long[] starts = new long[paths];
            for (int i = 0; i < paths; i++) {
                PlacedDevice path = PlacedDevice.open(ctx, args.next("device of path " + i),
                        args.next("device starting offset of path " + i), Rule.KSTRTOULL, "Invalid device starting offset", ctx.length());
                devices[i] = path.device();
                starts[i] = path.startSector();
            }
            return new SwitchTarget(devices, starts, regionSectors, RegionTable.create(ctx.length(), regionSectors, paths));
        }
    }

    private final BlockDevice[] paths;
    private final long[] startSectors;
    private final long[] startBytes;
    private final long regionSectors;
    private final long regionBytes;
    private final RegionTable regions;
    /** Messages run one at a time (the kernel's message mutex); I/O reads the table without it. */
    private final Object messageLock = new Object();

    private SwitchTarget(BlockDevice[] paths, long[] startSectors, long regionSectors, RegionTable regions) {
        this.paths = paths;
        this.startSectors = startSectors;
        this.startBytes = new long[startSectors.length];
        for (int i = 0; i < startSectors.length; i++) {
            startBytes[i] = Sectors.toBytes(startSectors[i]);
        }
        this.regionSectors = regionSectors;
        this.regionBytes = Sectors.toBytes(regionSectors);
        this.regions = regions;
    }

    @Override
    protected Remap map(long offset, long length) {
        long region = offset / regionBytes;
        int path = regions.get(region);
        return new Remap(paths[path], startBytes[path] + offset, Math.min(length, regionBytes - offset % regionBytes));
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        int path = regions.get(offset / regionBytes);
        paths[path].discard(startBytes[path] + offset, length);
    }

    /**
     * {@code set_region_mappings <arg>...}, numbers in hex without 0x: {@code <region>:<path>},
     * {@code :<path>} (the region after the previous one) and {@code R<n>,<m>} (m times: the next region
     * copies the entry n regions back). A bad word stops the message with EINVAL and the kernel's text;
     * the words before it stay applied.
     */
    @Override
    public String message(Args argv) throws DmException {
        synchronized (messageLock) {
            if (!Args.lowerCase(argv.get(0)).equals("set_region_mappings")) {
                throw invalid("Unrecognised message received: " + argv.get(0));
            }
            long region = 0;
            for (int i = 1; i < argv.count(); i++) {
                region = apply(argv.get(i), region);
            }
            return null;
        }
    }

    private static DmException invalid(String why) {
        return new DmException(Errno.EINVAL, "switch: " + why);
    }

    /** Applies one word of set_region_mappings and returns the region it ended on. */
    private long apply(String word, long region) throws DmException {
        HexCursor s = new HexCursor(word);
        if ((s.peek() & 0xdf) == 'R') {
            s.skip();
            if (s.peek() == ',') {
                throw badWord(word);
            }
            long cycle = s.hex();
            if (!s.take(',') || s.atEnd()) {
                throw badWord(word);
            }
            long count = s.hex();
            if (!s.atEnd()) {
                throw badWord(word);
            }
            if (cycle == 0 || Long.compareUnsigned(cycle - 1, region) > 0) {
                throw invalid("invalid set_region_mappings cycle length: " + Long.toUnsignedString(cycle - 1)
                        + " > " + Long.toUnsignedString(region));
            }
            if (Long.compareUnsigned(region + count, region) < 0 || Long.compareUnsigned(region + count, regions.size()) >= 0) {
                throw invalid("invalid set_region_mappings region number: " + Long.toUnsignedString(region) + " + "
                        + Long.toUnsignedString(count) + " >= " + regions.size());
            }
            for (long end = region + count; region != end; ) {
                region++;
                regions.set(region, regions.get(region - cycle));
            }
            return region;
        }
        if (s.peek() == ':') {
            region++;
        } else {
            region = s.hex();
            if (s.peek() != ':') {
                throw badWord(word);
            }
        }
        s.skip();
        if (s.atEnd()) {
            throw badWord(word);
        }
        long path = s.hex();
        if (!s.atEnd()) {
            throw badWord(word);
        }
        if (Long.compareUnsigned(region, regions.size()) >= 0) {
            throw invalid("invalid set_region_mappings region number: " + Long.toUnsignedString(region) + " >= " + regions.size());
        }
        if (Long.compareUnsigned(path, paths.length) >= 0) {
            throw invalid("invalid set_region_mappings device: " + Long.toUnsignedString(path) + " >= " + paths.length);
        }
        regions.set(region, (int) path);
        return region;
    }

    private static DmException badWord(String word) {
        return invalid("invalid set_region_mappings argument: '" + word + "'");
    }

    /** A message word's bytes as the kernel walks them: 0 past the end (its NUL), hex digits without overflow checks. */
    private static final class HexCursor {
        private final byte[] bytes;
        private int at;

        HexCursor(String word) {
            this.bytes = word.getBytes(StandardCharsets.UTF_8);
        }

        int peek() {
            return at < bytes.length ? bytes[at] & 0xff : 0;
        }

        boolean atEnd() {
            return at >= bytes.length;
        }

        void skip() {
            at++;
        }

        boolean take(char c) {
            if (peek() != c) {
                return false;
            }
            at++;
            return true;
        }

        /** Hex digits up to the first other byte; the value wraps past 64 bits as the kernel's unsigned long does. */
        long hex() {
            long value = 0;
            for (int digit; peek() < 0x80 && (digit = Character.digit(peek(), 16)) >= 0; at++) {
                value = value << 4 | digit;
            }
            return value;
        }
    }

    @Override
    public String table() {
        StringBuilder sb = new StringBuilder().append(paths.length).append(' ').append(regionSectors).append(" 0");
        for (int i = 0; i < paths.length; i++) {
            sb.append(' ').append(paths[i].id()).append(' ').append(startSectors[i]);
        }
        return sb.toString();
    }

    @Override
    public List<BlockDevice> devices() {
        return List.of(paths);
    }

    /** The region-to-path table, packed into 64-bit slots of entries of the smallest width that holds a path number. */
    static final class RegionTable {
        private final long regions;
        private final int entryBits;
        private final int entriesPerSlot;
        private final long entryMask;
        private final AtomicLongArray slots;

        private RegionTable(long regions, int entryBits, AtomicLongArray slots) {
            this.regions = regions;
            this.entryBits = entryBits;
            this.entriesPerSlot = Long.SIZE / entryBits;
            this.entryMask = (1L << entryBits) - 1;
            this.slots = slots;
        }

        /** The table for a target of {@code lengthSectors}, filled round-robin. */
        static RegionTable create(long lengthSectors, long regionSectors, int paths) throws TargetException {
            long regions = ceilDiv(lengthSectors, regionSectors);
            int entryBits = bitsFor(paths);
            long slotCount = ceilDiv(regions, Long.SIZE / entryBits);
            // The kernel's limit is its address space; ours is a Java array's length.
            if (slotCount > Integer.MAX_VALUE - 8) {
                throw new TargetException("Region table too large: " + regions + " regions need " + slotCount
                        + " slots of 64 bits, a table holds at most " + (Integer.MAX_VALUE - 8));
            }
            RegionTable table;
            try {
                table = new RegionTable(regions, entryBits, new AtomicLongArray((int) slotCount));
            } catch (OutOfMemoryError e) {
                throw new TargetException(Errno.ENOMEM, "Cannot allocate region table: " + slotCount * Long.BYTES + " bytes");
            }
            for (long r = 0; r < regions; r++) {
                table.set(r, (int) (r % paths));
            }
            return table;
        }

        /** The smallest width of at least one bit whose values reach {@code paths - 1}. */
        static int bitsFor(int paths) {
            return Math.max(1, Integer.SIZE - Integer.numberOfLeadingZeros(paths - 1));
        }

        private static long ceilDiv(long a, long b) {
            return (a + b - 1) / b;
        }

        long size() {
            return regions;
        }

        long slotCount() {
            return slots.length();
        }

        int get(long region) {
            int shift = (int) (region % entriesPerSlot) * entryBits;
            return (int) (slots.get((int) (region / entriesPerSlot)) >>> shift & entryMask);
        }

        /** Only one writer at a time (the message lock): a slot is read, changed and written back whole. */
        void set(long region, int path) {
            int slot = (int) (region / entriesPerSlot);
            int shift = (int) (region % entriesPerSlot) * entryBits;
            slots.set(slot, slots.get(slot) & ~(entryMask << shift) | (long) path << shift);
        }
    }
}
