package dev.jdm.targets.integrity;

/**
 * Where everything lives on a dm-integrity device, derived from the superblock and the device sizes
 * exactly as {@code calculate_journal_section_size}, {@code calculate_device_limits},
 * {@code get_provided_data_sectors}, {@code get_data_sector} and {@code get_metadata_sector_and_offset}
 * compute it. All positions are 512-byte sectors of the underlying device unless named bytes.
 */
public final class IntegrityGeometry {
    /** Journal sectors end in an 8-byte commit id, so 504 bytes of each carry entries or data. */
    static final int JOURNAL_SECTOR_DATA = 504;
    static final int JOURNAL_MAC_PER_SECTOR = 8;
    /** Entries are spread over the first 8 sectors of a section; its data sectors follow. */
    static final int JOURNAL_BLOCK_SECTORS = 8;
    static final int METADATA_PADDING_SECTORS = 8;
    /** 504 - 8 (mac) - (8 (sector) + 8 * 8 (last bytes of 8 sectors)). */
    public static final int MAX_TAG_SIZE = 424;
    static final long FIXED_PADDING_BYTES = METADATA_PADDING_SECTORS << 9;
    static final long LEGACY_PADDING_BYTES = 1L << 9 << METADATA_PADDING_SECTORS;

    final long start;
    final int tagSize;
    final int log2SectorsPerBlock;
    final int sectorsPerBlock;
    final int log2Interleave;
    final boolean metaDevice;
    final long journalSections;
    final int journalEntrySize;
    final int journalEntriesPerSector;
    final int journalSectionEntries;
    final int journalSectionSectors;
    final long journalEntries;
    final long initialSectors;
    final long metadataRun;
    final long providedDataSectors;

    private IntegrityGeometry(long start, int tagSize, int log2SectorsPerBlock, int log2Interleave, boolean metaDevice,
                              long journalSections, boolean journalMac, long metadataRun, long providedDataSectors) {
        this.start = start;
        this.tagSize = tagSize;
        this.log2SectorsPerBlock = log2SectorsPerBlock;
        this.sectorsPerBlock = 1 << log2SectorsPerBlock;
        this.log2Interleave = log2Interleave;
        this.metaDevice = metaDevice;
        this.journalSections = journalSections;
        this.journalEntrySize = entrySize(tagSize, sectorsPerBlock);
        this.journalEntriesPerSector = (JOURNAL_SECTOR_DATA - (journalMac ? JOURNAL_MAC_PER_SECTOR : 0)) / journalEntrySize;
        this.journalSectionEntries = journalEntriesPerSector * JOURNAL_BLOCK_SECTORS;
        this.journalSectionSectors = (journalSectionEntries << log2SectorsPerBlock) + JOURNAL_BLOCK_SECTORS;
        this.journalEntries = (long) journalSectionEntries * journalSections;
        this.initialSectors = IntegritySuperblock.SECTORS + (long) journalSectionSectors * journalSections;
        this.metadataRun = metadataRun;
        this.providedDataSectors = providedDataSectors;
    }

    /** Size of one journal entry: le64 sector, 8 saved bytes per 512-byte sector, the tag; rounded up to 8. */
    static int entrySize(int tagSize, int sectorsPerBlock) {
        return (8 + 8 * sectorsPerBlock + tagSize + 7) & ~7;
    }

    /** Sectors of one journal section for this tag size and block size. */
    static int sectionSectors(int tagSize, int sectorsPerBlock, boolean journalMac) {
        int perSector = (JOURNAL_SECTOR_DATA - (journalMac ? JOURNAL_MAC_PER_SECTOR : 0)) / entrySize(tagSize, sectorsPerBlock);
        return perSector * JOURNAL_BLOCK_SECTORS * sectorsPerBlock + JOURNAL_BLOCK_SECTORS;
    }

    /**
     * The layout for a provided size, or null where it does not fit ({@code calculate_device_limits}
     * failing): the journal must leave room, and the last data sector must lie on the device.
     */
    static IntegrityGeometry of(long start, int tagSize, int log2SectorsPerBlock, int log2Interleave, boolean metaDevice,
                                long journalSections, boolean journalMac, boolean fixedPadding, int log2BufferSectors,
                                long providedDataSectors, long metaDeviceSectors) {
        int spb = 1 << log2SectorsPerBlock;
        long initial = IntegritySuperblock.SECTORS + (long) sectionSectors(tagSize, spb, journalMac) * journalSections;
        if (initial + METADATA_PADDING_SECTORS >= metaDeviceSectors || initial > 0xffff_ffffL) {
            return null;
        }
        long metadataRun;
        if (!metaDevice) {
            long padding = fixedPadding ? FIXED_PADDING_BYTES : LEGACY_PADDING_BYTES;
            long tagBytes = (long) tagSize << (log2Interleave - log2SectorsPerBlock);
            metadataRun = ((tagBytes + padding - 1) / padding * padding) >> 9;
        } else {
            long metaBytes = (providedDataSectors >> log2SectorsPerBlock) * tagSize;
            long bufferBytes = 1L << (log2BufferSectors + 9);
            long metaSectors = ((metaBytes + bufferBytes - 1) >> (log2BufferSectors + 9)) << log2BufferSectors;
            if (initial + metaSectors > metaDeviceSectors) {
                return null;
            }
            metadataRun = 1;
        }
        IntegrityGeometry g = new IntegrityGeometry(start, tagSize, log2SectorsPerBlock, log2Interleave, metaDevice,
                journalSections, journalMac, metadataRun, providedDataSectors);
        if (!metaDevice) {
            long last = g.dataSector(providedDataSectors - 1);
            if (last < start || last >= metaDeviceSectors) {
                return null;
            }
        }
        return g;
    }

    /**
     * The largest size the device provides ({@code get_provided_data_sectors}): without a metadata
     * device the kernel builds the number bit by bit from the top, keeping each bit that still fits.
     */
    static long providedDataSectors(long start, int tagSize, int log2SectorsPerBlock, int log2Interleave, boolean metaDevice,
                                    long journalSections, boolean journalMac, boolean fixedPadding, int log2BufferSectors,
                                    long dataDeviceSectors, long metaDeviceSectors) {
        if (metaDevice) {
            return dataDeviceSectors & ~((1L << log2SectorsPerBlock) - 1);
        }
        long provided = 0;
        for (int bit = 63 - Long.numberOfLeadingZeros(metaDeviceSectors); bit >= 3; bit--) {
            long candidate = provided | (1L << bit);
            if (of(start, tagSize, log2SectorsPerBlock, log2Interleave, false, journalSections, journalMac, fixedPadding,
                    log2BufferSectors, candidate, metaDeviceSectors) != null) {
                provided = candidate;
            }
        }
        return provided;
    }

    long interleaveSectors() {
        return 1L << log2Interleave;
    }

    /** The area a logical sector lies in (always 0 with a metadata device). */
    long area(long logicalSector) {
        return metaDevice ? 0 : logicalSector >>> log2Interleave;
    }

    long offsetInArea(long logicalSector) {
        return metaDevice ? logicalSector : logicalSector & (interleaveSectors() - 1);
    }

    /** Sector of the data device that holds a logical sector. */
    long dataSector(long logicalSector) {
        if (metaDevice) {
            return logicalSector;
        }
        long area = area(logicalSector);
        return (area << log2Interleave) + (area + 1) * metadataRun + initialSectors + offsetInArea(logicalSector) + start;
    }

    /**
     * Byte position, on the metadata (or only) device, of the tag of the block holding a logical
     * sector. The kernel counts an area's start in whole tag buffers ({@code >> log2_buffer_sectors}),
     * which only truncates for tiny interleaves; the same arithmetic keeps such layouts identical.
     */
    long tagByte(long logicalSector, int log2BufferSectors) {
        long area = area(logicalSector);
        long areaStartSector = ((area << log2Interleave) + area * metadataRun) >>> log2BufferSectors << log2BufferSectors;
        long block = offsetInArea(logicalSector) >>> log2SectorsPerBlock;
        return ((start + initialSectors + areaStartSector) << 9) + block * tagSize;
    }

    /** Logical sectors from {@code logicalSector} to the end of its area (unbounded with a metadata device). */
    long sectorsLeftInArea(long logicalSector) {
        return metaDevice ? Long.MAX_VALUE : interleaveSectors() - offsetInArea(logicalSector);
    }

    /** Byte position of journal sector {@code sectorInJournal} (sections laid end to end). */
    long journalByte(long sectorInJournal) {
        return (start + IntegritySuperblock.SECTORS + sectorInJournal) << 9;
    }

    public long journalSectors() {
        return initialSectors - IntegritySuperblock.SECTORS;
    }

    public long providedDataSectors() {
        return providedDataSectors;
    }

    public long metadataRun() {
        return metadataRun;
    }

    public long initialSectors() {
        return initialSectors;
    }

    public int journalSectionSectors() {
        return journalSectionSectors;
    }

    public int journalSectionEntries() {
        return journalSectionEntries;
    }

    public int journalEntrySize() {
        return journalEntrySize;
    }
}
