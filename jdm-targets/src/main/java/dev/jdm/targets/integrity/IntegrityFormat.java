package dev.jdm.targets.integrity;

import dev.jdm.core.spi.TargetException;

import java.security.SecureRandom;
import java.util.Arrays;

/**
 * The format decisions of {@code dm_integrity_ctr}: the superblock the kernel writes for a zeroed
 * device, the checks an existing superblock must pass, and the superblock MAC.
 */
final class IntegrityFormat {
    private static final long DEFAULT_MAX_JOURNAL_SECTORS = 131072;
    private static final int DEFAULT_JOURNAL_SIZE_FACTOR = 7;
    static final int MIN_LOG2_INTERLEAVE = 3;
    static final int MAX_LOG2_INTERLEAVE = 31;

    private IntegrityFormat() {
    }

    /** {@code initialize_superblock}: the format the kernel chooses for these options and sizes. */
    static IntegritySuperblock initializeSuperblock(IntegrityOptions o, boolean hasMeta, long dataSectors,
                                                            long metaSectors, int[] log2Buffer) throws TargetException {
        IntegritySuperblock sb = new IntegritySuperblock();
        sb.tagSize = o.tagSize();
        sb.log2SectorsPerBlock = Integer.numberOfTrailingZeros(o.sectorsPerBlock());
        boolean journalMac = o.journalMac() != null;
        if (journalMac) {
            sb.flags |= IntegritySuperblock.FLAG_HAVE_JOURNAL_MAC;
        }
        long journalSectors = o.journalSectors() != 0 ? o.journalSectors()
                : Math.min(DEFAULT_MAX_JOURNAL_SECTORS, dataSectors >>> DEFAULT_JOURNAL_SIZE_FACTOR);
        long journalSections = Math.max(1, journalSectors / IntegrityGeometry.sectionSectors(o.tagSize(), o.sectorsPerBlock(), journalMac));
        if (o.fixHmac() && (o.internalHash() != null || journalMac)) {
            sb.flags |= IntegritySuperblock.FLAG_FIXED_HMAC;
            new SecureRandom().nextBytes(sb.salt);
        }
        if (!hasMeta) {
            if (o.fixPadding()) {
                sb.flags |= IntegritySuperblock.FLAG_FIXED_PADDING;
            }
            sb.journalSections = journalSections;
            int interleave = o.interleaveSectors() == 0 ? IntegrityOptions.DEFAULT_INTERLEAVE_SECTORS : o.interleaveSectors();
            int log2 = 31 - Integer.numberOfLeadingZeros(interleave);
            sb.log2InterleaveSectors = Math.min(MAX_LOG2_INTERLEAVE, Math.max(MIN_LOG2_INTERLEAVE, log2));
            sb.providedDataSectors = IntegrityGeometry.providedDataSectors(o.start(), sb.tagSize, sb.log2SectorsPerBlock,
                    sb.log2InterleaveSectors, false, journalSections, journalMac, o.fixPadding(), log2Buffer[0], dataSectors, metaSectors);
            if (sb.providedDataSectors == 0) {
                throw new TargetException("Could not initialize superblock: the device is too small for the journal and tags");
            }
        } else {
            sb.log2InterleaveSectors = 0;
            sb.providedDataSectors = IntegrityGeometry.providedDataSectors(o.start(), sb.tagSize, sb.log2SectorsPerBlock,
                    0, true, 0, journalMac, false, log2Buffer[0], dataSectors, metaSectors);
            if (sb.providedDataSectors == 0) {
                throw new TargetException("Could not initialize superblock: the data device is smaller than one block");
            }
            // The metadata device gets as many journal sections as fit beside the tags, found bit by bit.
            while (true) {
                long chosen = 0;
                for (int bit = 63 - Long.numberOfLeadingZeros(journalSections); bit >= 0; bit--) {
                    long candidate = chosen | (1L << bit);
                    if (candidate > journalSections) {
                        continue;
                    }
                    if (IntegrityGeometry.of(o.start(), sb.tagSize, sb.log2SectorsPerBlock, 0, true, candidate, journalMac,
                            false, log2Buffer[0], sb.providedDataSectors, metaSectors) != null) {
                        chosen = candidate;
                    }
                }
                if (chosen != 0) {
                    sb.journalSections = chosen;
                    break;
                }
                if (log2Buffer[0] <= 3) {
                    throw new TargetException("Could not initialize superblock: the metadata device is too small");
                }
                log2Buffer[0]--;
            }
        }
        sb.setVersion(o.mode() == IntegrityMode.BITMAP, hasMeta);
        return sb;
    }

    static void checkSuperblock(IntegrityOptions o, IntegritySuperblock sb, boolean hasMeta) throws TargetException {
        if (sb.version == 0 || sb.version > 6) {
            throw new TargetException("Unknown version " + sb.version);
        }
        if (sb.has(IntegritySuperblock.FLAG_INLINE)) {
            throw new TargetException("Inline flag mismatch: the superblock is of an inline-mode device");
        }
        if (sb.tagSize != o.tagSize()) {
            throw new TargetException("Tag size doesn't match the information in superblock (table " + o.tagSize()
                    + ", superblock " + sb.tagSize + ")");
        }
        if (sb.log2SectorsPerBlock != Integer.numberOfTrailingZeros(o.sectorsPerBlock())) {
            throw new TargetException("Block size doesn't match the information in superblock (table " + (o.sectorsPerBlock() << 9)
                    + ", superblock " + (512 << sb.log2SectorsPerBlock) + ")");
        }
        if (sb.journalSections == 0) {
            throw new TargetException("Corrupted superblock, journal_sections is 0");
        }
        if (!hasMeta ? sb.log2InterleaveSectors < MIN_LOG2_INTERLEAVE || sb.log2InterleaveSectors > MAX_LOG2_INTERLEAVE
                : sb.log2InterleaveSectors != 0) {
            throw new TargetException("Invalid interleave_sectors in the superblock");
        }
        if (sb.has(IntegritySuperblock.FLAG_HAVE_JOURNAL_MAC) != (o.journalMac() != null)) {
            throw new TargetException("Journal mac mismatch");
        }
    }

    /** Recalculating under a keyed MAC would let an attacker's data acquire valid tags: refused unless asked for. */
    static boolean recalculationDisabled(IntegrityOptions o, IntegritySuperblock sb) {
        if (o.legacyRecalculate()) {
            return false;
        }
        boolean internalKeyed = o.internalHash() != null && o.internalHash().keyed();
        boolean macKeyed = o.journalMac() != null && o.journalMac().keyed();
        return !sb.has(IntegritySuperblock.FLAG_FIXED_HMAC) ? internalKeyed || macKeyed : internalKeyed && !macKeyed;
    }

    static byte[] superblockMac(IntegrityHash mac, byte[] area) {
        return mac.digest(Arrays.copyOf(area, 512 - mac.digestSize()));
    }
}
