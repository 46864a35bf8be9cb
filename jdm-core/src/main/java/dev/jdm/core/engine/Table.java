package dev.jdm.core.engine;

import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.Sectors;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.IoSplit;
import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.RemapTarget;
import dev.jdm.core.spi.SharedObjects;
import dev.jdm.core.spi.Target;
import dev.jdm.core.spi.TargetContext;
import dev.jdm.core.spi.TargetException;
import dev.jdm.core.spi.TargetType;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A constructed table: targets sorted by start, covering [0, size) without gaps, with the devices
 * they hold. Its targets and devices are fixed once built; only its {@link #text()} follows the rename of a
 * mapped device it names. {@link #destroy()} closes the targets and releases the devices.
 */
public final class Table implements IoSplit.Pieces<Table.Entry> {

    /** One constructed target with the line it came from. */
    public record Entry(TableLine line, TargetType type, Target target, long startByte, long endByte) {
    }

    private final Entry[] entries;
    private final long[] startBytes;
    private final boolean readOnly;
    private final List<DeviceResolver.Acquired> acquired;
    private final List<BlockDevice> remapDevices;
    private final List<Target> selfFlushingTargets;
    private final int logicalBlockSize;
    /** As loaded; follows renames of the mapped devices it names, so it always reloads to this table. */
    private volatile String text;

    private Table(String text, List<Entry> entries, boolean readOnly, List<DeviceResolver.Acquired> acquired, int logicalBlockSize) {
        this.text = text;
        this.entries = entries.toArray(Entry[]::new);
        this.startBytes = entries.stream().mapToLong(Entry::startByte).toArray();
        this.readOnly = readOnly;
        this.acquired = acquired;
        this.logicalBlockSize = logicalBlockSize;
        // A flush reaches every remapped device once, however many lines point at it; targets with
        // their own state (thin, crypt, ...) flush themselves.
        Set<BlockDevice> devices = new LinkedHashSet<>();
        List<Target> others = new ArrayList<>();
        for (Entry e : entries) {
            if (e.target instanceof RemapTarget) {
                devices.addAll(e.target.devices());
            } else {
                others.add(e.target);
            }
        }
        this.remapDevices = List.copyOf(devices);
        this.selfFlushingTargets = List.copyOf(others);
    }

    static Table build(String text, boolean readOnly, TargetTypes types, DeviceResolver resolver,
                       MappedDevice holder, Table live, SharedObjects shared) throws DmException {
        List<TableLine> lines = TableParser.parse(text);
        if (lines.isEmpty()) {
            throw new DmException(Errno.EINVAL, "table has no targets");
        }
        checkLayout(lines, types, readOnly, live);
        List<Entry> entries = new ArrayList<>();
        List<DeviceResolver.Acquired> acquired = new ArrayList<>();
        try {
            for (TableLine line : lines) {
                TargetType type = types.find(line.type()).orElseThrow();
                Context ctx = new Context(line, readOnly, resolver, holder, acquired, shared);
                Target target;
                try {
                    target = type.construct(ctx, new Args(line.args()));
                } catch (TargetException e) {
                    throw new DmException(e.errno(), "table line " + line.lineNumber() + ": " + line.type() + ": " + e.getMessage(), e);
                }
                long start = Sectors.toBytes(line.start());
                entries.add(new Entry(line, type, target, start, start + Sectors.toBytes(line.length())));
            }
            int lbs = 512;
            for (DeviceResolver.Acquired a : acquired) {
                lbs = Math.max(lbs, a.device().logicalBlockSize());
            }
            for (Entry e : entries) {
                lbs = Math.max(lbs, e.target.logicalBlockSize());
            }
            for (Entry e : entries) {
                if (e.startByte % lbs != 0 || e.endByte % lbs != 0) {
                    throw new DmException(Errno.EINVAL, "table line " + e.line.lineNumber() + ": " + e.line.type()
                            + ": start " + e.line.start() + " and length " + e.line.length()
                            + " must be multiples of the logical block size (" + lbs + " bytes = " + Sectors.fromBytes(lbs) + " sectors)");
                }
            }
            return new Table(text, entries, readOnly, acquired, lbs);
        } catch (DmException | RuntimeException e) {
            entries.forEach(en -> en.target.close());
            acquired.forEach(a -> a.release().run());
            throw e;
        }
    }

    /** The checks that need no device: order, gaps, overlaps, known types, type properties. */
    private static void checkLayout(List<TableLine> lines, TargetTypes types, boolean readOnly, Table live) throws DmException {
        long expected = 0;
        Set<String> immutables = new LinkedHashSet<>();
        for (TableLine line : lines) {
            String where = "table line " + line.lineNumber() + ": ";
            TargetType type = types.find(line.type()).orElseThrow(() -> new DmException(Errno.EINVAL,
                    where + "unknown target type \"" + line.type() + "\" (jdm targets lists the known ones)"));
            if (line.length() == 0) {
                throw new DmException(Errno.EINVAL, where + "zero-length target");
            }
            if (line.start() != expected) {
                throw new DmException(Errno.EINVAL, where + (line.start() > expected ? "gap in table" : "overlaps the previous target")
                        + ": target starts at sector " + line.start() + ", expected " + expected);
            }
            if (line.length() > Sectors.MAX_SECTORS - line.start()) {
                throw new DmException(Errno.EINVAL, where + "length " + line.length() + " makes the device too large");
            }
            expected = line.start() + line.length();
            Set<TargetType.Feature> f = type.features();
            if (f.contains(TargetType.Feature.SINGLETON) && lines.size() > 1) {
                throw new DmException(Errno.EINVAL, where + line.type() + " must be the only target in its table");
            }
            if (f.contains(TargetType.Feature.ALWAYS_WRITEABLE) && readOnly) {
                throw new DmException(Errno.EINVAL, where + line.type() + " cannot be used in a read-only table");
            }
            if (f.contains(TargetType.Feature.IMMUTABLE)) {
                immutables.add(line.type());
            }
        }
        if (!immutables.isEmpty() && (immutables.size() > 1 || lines.stream().anyMatch(l -> !immutables.contains(l.type())))) {
            throw new DmException(Errno.EINVAL, "table mixes " + immutables.iterator().next()
                    + ", which must not be mixed with other target types, with other types");
        }
        if (live != null && live.immutableType() != null) {
            String liveType = live.immutableType();
            boolean sameOrWildcard = lines.stream().allMatch(l -> l.type().equals(liveType)
                    || types.find(l.type()).orElseThrow().features().contains(TargetType.Feature.WILDCARD));
            if (!sameOrWildcard) {
                throw new DmException(Errno.EINVAL, "the live table is " + liveType
                        + ", which can only be replaced by " + liveType + " or error");
            }
        }
    }

    private String immutableType() {
        for (Entry e : entries) {
            if (e.type.features().contains(TargetType.Feature.IMMUTABLE)) {
                return e.type.name();
            }
        }
        return null;
    }

    /** The text the table was loaded from (with renamed mapped devices under their new names). */
    public String text() {
        return text;
    }

    /**
     * A mapped device this table names as {@code /dev/mapper/OLD} was renamed: the table holds it by
     * number, but the text would name a device that no longer exists, so it follows the rename.
     * Whether the text changed.
     */
    boolean followRename(String oldName, String newName) {
        Pattern old = Pattern.compile("(?<=^|\\s)" + Pattern.quote("/dev/mapper/" + oldName) + "(?=\\s|$)", Pattern.MULTILINE);
        String renamed = old.matcher(text).replaceAll(Matcher.quoteReplacement("/dev/mapper/" + newName));
        boolean changed = !renamed.equals(text);
        text = renamed;
        return changed;
    }

    public List<Entry> entries() {
        return List.of(entries);
    }

    public int targetCount() {
        return entries.length;
    }

    public long sizeBytes() {
        return entries[entries.length - 1].endByte;
    }

    public long sizeSectors() {
        return Sectors.fromBytes(sizeBytes());
    }

    public boolean readOnly() {
        return readOnly;
    }

    public int logicalBlockSize() {
        return logicalBlockSize;
    }

    /** Index of the target holding byte {@code offset} (binary search on the starts). */
    int find(long offset) {
        int i = Arrays.binarySearch(startBytes, offset);
        return i >= 0 ? i : -i - 2;
    }

    Entry entry(int index) {
        return entries[index];
    }

    /** An I/O through the device is cut at target boundaries: the piece at an offset is its target's entry. */
    @Override
    public Entry pieceAt(long offset, long remaining) {
        return entries[find(offset)];
    }

    @Override
    public long pieceLength(Entry entry, long offset, long remaining) {
        return Math.min(remaining, entry.endByte - offset);
    }

    /** Devices every target holds, in table order, each once. */
    public List<BlockDevice> devices() {
        Set<BlockDevice> all = new LinkedHashSet<>();
        for (Entry e : entries) {
            all.addAll(e.target.devices());
        }
        return List.copyOf(all);
    }

    void flush() throws IOException {
        for (BlockDevice d : remapDevices) {
            d.flush();
        }
        for (Target t : selfFlushingTargets) {
            t.flush();
        }
    }

    boolean supportsDiscard() {
        for (Entry e : entries) {
            if (!e.target.supportsDiscard()) {
                return false;
            }
        }
        return true;
    }

    void destroy() {
        for (Entry e : entries) {
            e.target.close();
        }
        for (DeviceResolver.Acquired a : acquired) {
            a.release().run();
        }
    }

    /** What a constructor sees of the table being built. */
    private record Context(TableLine line, boolean readOnly, DeviceResolver resolver, MappedDevice holder,
                           List<DeviceResolver.Acquired> acquired, SharedObjects sharedObjects) implements TargetContext {
        @Override
        public long begin() {
            return line.start();
        }

        @Override
        public long length() {
            return line.length();
        }

        @Override
        public BlockDevice device(Args.Arg arg, long startSector, long lengthSectors) throws TargetException {
            DeviceResolver.Acquired a;
            try {
                a = resolver.acquire(arg.text(), readOnly, holder);
            } catch (DmException e) {
                throw new TargetException(e.errno(), arg.error(e.getMessage()).getMessage(), e);
            }
            acquired.add(a);
            long devSectors = Sectors.fromBytes(a.device().size());
            if (startSector >= devSectors || lengthSectors > devSectors - startSector) {
                throw arg.error("device too small for target: it has " + devSectors
                        + " sectors, the target needs sectors " + startSector + " to " + (startSector + lengthSectors));
            }
            return a.device();
        }

        @Override
        public void raiseEvent() {
            holder.raiseEvent();
        }

        @Override
        public String deviceName() {
            return holder.name();
        }

        @Override
        public BlockDevice mappedDevice() {
            return holder;
        }

        @Override
        public <T> T shared(Class<T> type, Supplier<? extends T> create) {
            return sharedObjects.get(type, create);
        }
    }
}
