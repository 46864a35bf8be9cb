package dev.jdm.targets.integrity;

import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.FileBlockDevice;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * What {@code integritysetup format | open | dump} do, as a library: format writes the superblock
 * and journal by loading the target once with length 1 (the kernel formats a zeroed superblock
 * area on load) and optionally wipes the data so every tag is valid; open reads the superblock and
 * loads a table of the provided size; dump prints the superblock.
 */
public final class IntegrityTool {
    private static final int WIPE_CHUNK = 1 << 20;

    private IntegrityTool() {
    }

    /**
     * Format-time choices, named after integritysetup's options: {@code --integrity} (hash, with an
     * optional {@code :hexkey}), {@code --tag-size} (0 = the digest size), {@code --sector-size},
     * {@code --journal-size} (sectors here; 0 = the kernel's default), {@code --interleave-sectors},
     * {@code --journal-integrity}, {@code --integrity-bitmap-mode}, {@code --data-device} (the device
     * named at format is then the metadata device), {@code --no-wipe} (wipe = false), {@code --journal-crypt}
     * with its key ({@code journalCrypt}, {@code alg:hexkey}).
     */
    public record Options(long reservedSectors, String integrity, int tagSize, int sectorSize, long journalSectors,
                          int interleaveSectors, String journalIntegrity, boolean bitmapMode, boolean fixPadding,
                          boolean fixHmac, String dataDevice, boolean wipe, String journalCrypt) {
        /** Without journal encryption (the options before {@code --journal-crypt} existed here). */
        public Options(long reservedSectors, String integrity, int tagSize, int sectorSize, long journalSectors,
                       int interleaveSectors, String journalIntegrity, boolean bitmapMode, boolean fixPadding,
                       boolean fixHmac, String dataDevice, boolean wipe) {
            this(reservedSectors, integrity, tagSize, sectorSize, journalSectors, interleaveSectors, journalIntegrity,
                    bitmapMode, fixPadding, fixHmac, dataDevice, wipe, null);
        }

        public static Options defaults() {
            return new Options(0, "crc32c", 0, 512, 0, 0, null, false, true, true, null, true, null);
        }

        public Options withIntegrity(String alg) {
            return new Options(reservedSectors, alg, tagSize, sectorSize, journalSectors, interleaveSectors, journalIntegrity,
                    bitmapMode, fixPadding, fixHmac, dataDevice, wipe, journalCrypt);
        }

        public Options withWipe(boolean w) {
            return new Options(reservedSectors, integrity, tagSize, sectorSize, journalSectors, interleaveSectors, journalIntegrity,
                    bitmapMode, fixPadding, fixHmac, dataDevice, w, journalCrypt);
        }

        /** {@code --journal-crypt alg} with its key: {@code alg:hexkey}, e.g. {@code ctr(aes):00..0f}; null for none. */
        public Options withJournalCrypt(String algAndKey) {
            return new Options(reservedSectors, integrity, tagSize, sectorSize, journalSectors, interleaveSectors, journalIntegrity,
                    bitmapMode, fixPadding, fixHmac, dataDevice, wipe, algAndKey);
        }

        IntegrityMode mode() {
            return bitmapMode ? IntegrityMode.BITMAP : IntegrityMode.JOURNAL;
        }

        /** The table arguments after {@code integrity}, for a device, mode and format-only extras. */
        String tableArgs(String device, String metaDevice, IntegrityMode mode, boolean formatting) {
            List<String> opts = new ArrayList<>();
            if (metaDevice != null) {
                opts.add("meta_device:" + metaDevice);
            }
            if (sectorSize != 512) {
                opts.add("block_size:" + sectorSize);
            }
            if (formatting && journalSectors != 0) {
                opts.add("journal_sectors:" + journalSectors);
            }
            if (formatting && interleaveSectors != 0) {
                opts.add("interleave_sectors:" + interleaveSectors);
            }
            if (fixPadding) {
                opts.add("fix_padding");
            }
            if (fixHmac) {
                opts.add("fix_hmac");
            }
            if (integrity != null) {
                opts.add("internal_hash:" + integrity);
            }
            if (journalCrypt != null) {
                opts.add("journal_crypt:" + journalCrypt);
            }
            if (journalIntegrity != null) {
                opts.add("journal_mac:" + journalIntegrity);
            }
            String tag = tagSize == 0 ? (integrity != null ? "-" : "4") : Integer.toString(tagSize);
            return device + " " + reservedSectors + " " + tag + " " + mode + " " + opts.size()
                    + (opts.isEmpty() ? "" : " " + String.join(" ", opts));
        }
    }

    /**
     * Formats {@code device} (zeroing its superblock area first, as integritysetup does) and returns
     * the provided data sectors. With {@code dataDevice} set, {@code device} holds the metadata.
     */
    public static long format(Path device, Options o) throws IOException, DmException {
        try (FileBlockDevice d = FileBlockDevice.open(device, FileBlockDevice.Options.READ_WRITE)) {
            d.write(o.reservedSectors() << 9, ByteBuffer.allocate(IntegritySuperblock.BYTES), true);
        }
        String data = o.dataDevice() != null ? o.dataDevice() : device.toString();
        String meta = o.dataDevice() != null ? device.toString() : null;
        try (DeviceMapper dm = DeviceMapper.create()) {
            String name = "jdm-integrity-format-" + UUID.randomUUID();
            // One block: the table's length must be a multiple of the logical block size block_size sets.
            dm.create(name, null, "0 " + o.sectorSize() / 512 + " integrity " + o.tableArgs(data, meta, o.mode(), true), false);
            long provided = Long.parseLong(dm.status(name, false).getFirst().params().split(" ")[1]);
            dm.remove(name, false, false);
            if (o.wipe()) {
                // Direct mode: the journal would only copy every zero block twice.
                dm.create(name, null, "0 " + provided + " integrity " + o.tableArgs(data, meta, IntegrityMode.DIRECT, false), false);
                MappedDevice md = dm.device(name);
                ByteBuffer zeroes = ByteBuffer.allocate(WIPE_CHUNK);
                for (long at = 0; at < provided << 9; at += WIPE_CHUNK) {
                    int n = (int) Math.min(WIPE_CHUNK, (provided << 9) - at);
                    md.write(at, zeroes.clear().limit(n), false);
                }
                md.flush();
                dm.remove(name, false, false);
            }
            return provided;
        }
    }

    /** Loads {@code name} over a formatted device, sized from its superblock; returns the table line. */
    public static String open(DeviceMapper dm, String name, Path device, Options o, IntegrityMode mode, boolean readOnly)
            throws IOException, DmException {
        String table = tableLine(device, o, mode);
        dm.create(name, null, table, readOnly);
        return table;
    }

    /** The table line {@link #open} loads, for a process that has the device created elsewhere (the CLI, by the daemon). */
    public static String tableLine(Path device, Options o, IntegrityMode mode) throws IOException, DmException {
        IntegritySuperblock sb = readSuperblock(device, o.reservedSectors());
        Options fromDisk = new Options(o.reservedSectors(), o.integrity(), sb.tagSize(), 512 << sb.log2SectorsPerBlock(), 0, 0,
                o.journalIntegrity(), o.bitmapMode(), sb.has(IntegritySuperblock.FLAG_FIXED_PADDING),
                sb.has(IntegritySuperblock.FLAG_FIXED_HMAC), o.dataDevice(), false, o.journalCrypt());
        String data = o.dataDevice() != null ? o.dataDevice() : device.toString();
        String meta = o.dataDevice() != null ? device.toString() : null;
        return "0 " + sb.providedDataSectors() + " integrity " + fromDisk.tableArgs(data, meta, mode, false);
    }

    /** {@code integritysetup dump}: the superblock's fields. */
    public static String dump(Path device, long reservedSectors) throws IOException, DmException {
        return readSuperblock(device, reservedSectors).describe(device.toString());
    }

    static IntegritySuperblock readSuperblock(Path device, long reservedSectors) throws IOException, DmException {
        byte[] area = new byte[IntegritySuperblock.BYTES];
        try (BlockDevice d = FileBlockDevice.open(device, FileBlockDevice.Options.READ_ONLY)) {
            d.read(reservedSectors << 9, ByteBuffer.wrap(area));
        }
        if (!IntegritySuperblock.hasMagic(area)) {
            throw new DmException(Errno.EINVAL, device + ": no integrity superblock at sector " + reservedSectors);
        }
        return IntegritySuperblock.decode(area);
    }
}
