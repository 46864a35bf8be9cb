package dev.jdm.targets.integrity;

import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.TargetException;

import java.util.OptionalLong;

/**
 * The arguments of an integrity table line, parsed and checked as {@code dm_integrity_ctr} does
 * before it touches the device: {@code <dev> <reserved_sectors> <tag_size|-> <mode> <#opt> [opt...]}.
 * Errors carry the kernel's wording and name the argument.
 */
record IntegrityOptions(
        long start, int tagSize, char mode,
        int journalSectors, int interleaveSectors, int log2BufferSectors, int journalWatermark, int commitTimeMs,
        String metaDevice, int metaDeviceArg, int sectorsPerBlock, int log2SectorsPerBitmapBit, int bitmapFlushIntervalMs,
        IntegrityHash internalHash, IntegrityHash journalMac, JournalCrypt journalCrypt, boolean recalculate, boolean resetRecalculate,
        boolean allowDiscards, boolean fixPadding, boolean fixHmac, boolean legacyRecalculate) {

    static final String SYNTAX = "<dev> <reserved_sectors> <tag_size|-> <mode> <#opt> [opt...]";
    static final int DEFAULT_INTERLEAVE_SECTORS = 32768;
    static final int DEFAULT_BUFFER_SECTORS = 128;
    static final int DEFAULT_JOURNAL_WATERMARK = 50;
    static final int DEFAULT_COMMIT_MS = 10000;
    static final int DEFAULT_BITMAP_FLUSH_MS = 10000;
    static final int MAX_OPTIONS = 18;

    static IntegrityOptions parse(Args args) throws TargetException {
        if (args.count() <= 4) {
            throw new TargetException("Invalid argument count: expected " + SYNTAX + ", got " + args.count() + " arguments");
        }
        args.shift("device"); // opened by the target once the options are known
        long start = args.shiftSectors("starting offset (reserved sectors)");
        int tagSize = 0;
        int tagSizeIndex = args.position();
        if ("-".equals(args.peek())) {
            args.shift("tag size");
        } else {
            long size = args.shiftNumber(Args.Rule.SCANF_U64, "tag size", 1, 0xffff_ffffL);
            if (size > IntegrityGeometry.MAX_TAG_SIZE) {
                throw args.error("Too big tag size (at most " + IntegrityGeometry.MAX_TAG_SIZE + ")");
            }
            tagSize = (int) size;
        }
        Args.Arg modeArg = args.next("mode");
        String m = modeArg.text();
        char mode = switch (m) {
            case "J", "B", "D", "R" -> m.charAt(0);
            case "I" -> throw modeArg.error("inline mode (I) needs per-sector integrity metadata in the underlying device,"
                    + " which jdm block devices do not carry");
            default -> throw modeArg.error("Invalid mode (expecting J, B, D, R, I)");
        };
        int optCount = (int) args.shiftNumber(Args.Rule.SCANF_U64, "number of feature args (Invalid number of feature args)", 0, MAX_OPTIONS);
        if (optCount > args.remaining()) {
            throw args.error(args.count(), "Not enough feature arguments: #opt is " + optCount + " but only "
                    + args.remaining() + " follow");
        }
        // Options are matched case-sensitively (strcmp, sscanf literals); what follows the group is ignored, as the kernel does.
        Args options = args.take(optCount);
        args.ignoreRest();

        int journalSectors = 0, interleave = DEFAULT_INTERLEAVE_SECTORS, bufferSectors = DEFAULT_BUFFER_SECTORS;
        int watermark = DEFAULT_JOURNAL_WATERMARK, commitMs = DEFAULT_COMMIT_MS, flushMs = DEFAULT_BITMAP_FLUSH_MS;
        int sectorsPerBlock = 1, log2SectorsPerBit = -1, metaArg = -1;
        String meta = null;
        IntegrityHash internalHash = null, journalMac = null;
        JournalCrypt journalCrypt = null;
        boolean recalculate = false, reset = false, discards = false, fixPadding = false, fixHmac = false, legacy = false;
        while (options.hasMore()) {
            Args.Option opt = options.shiftOption("option");
            String value = opt.value();
            switch (opt.key()) {
                case "journal_sectors" -> {
                    long v = u32(options, value);
                    journalSectors = v == 0 ? 1 : (int) Math.min(v, Integer.MAX_VALUE);
                }
                case "interleave_sectors" -> interleave = (int) Math.min(u32(options, value), Integer.MAX_VALUE);
                case "buffer_sectors" -> bufferSectors = (int) Math.min(u32(options, value), Integer.MAX_VALUE);
                case "journal_watermark" -> {
                    long v = u32(options, value);
                    if (v > 100) {
                        throw options.error("Invalid argument (journal_watermark is a percentage, 0..100)");
                    }
                    watermark = (int) v;
                }
                case "commit_time" -> commitMs = (int) Math.min(u32(options, value), Integer.MAX_VALUE);
                case "meta_device" -> {
                    if (value == null || value.isEmpty()) {
                        throw options.error("Device lookup failed (no device after meta_device:)");
                    }
                    meta = value;
                    metaArg = options.position() - 1;
                }
                case "block_size" -> {
                    long v = u32(options, value);
                    if (v < 512 || v > 4096 || (v & (v - 1)) != 0) {
                        throw options.error("Invalid block_size argument (512..4096, a power of two)");
                    }
                    sectorsPerBlock = (int) (v >> 9);
                }
                case "sectors_per_bit" -> {
                    long v = number(options, value, Long.MAX_VALUE);
                    log2SectorsPerBit = v == 0 ? 0 : 63 - Long.numberOfLeadingZeros(v);
                }
                case "bitmap_flush_interval" -> {
                    long v = u32(options, value);
                    if (v >= 0xffff_ffffL) {
                        throw options.error("Invalid bitmap_flush_interval argument");
                    }
                    flushMs = (int) Math.min(v, Integer.MAX_VALUE);
                }
                case "internal_hash" -> internalHash = algorithm(options, value, "internal_hash",
                        "Invalid internal hash", "Error setting internal hash key");
                case "journal_mac" -> journalMac = algorithm(options, value, "journal_mac",
                        "Invalid journal mac", "Error setting journal mac key");
                case "journal_crypt" -> journalCrypt = cipher(options, value);
                case "recalculate" -> recalculate = flag(options, value);
                case "reset_recalculate" -> recalculate = reset = flag(options, value);
                case "allow_discards" -> discards = flag(options, value);
                case "fix_padding" -> fixPadding = flag(options, value);
                case "fix_hmac" -> fixHmac = flag(options, value);
                case "legacy_recalculate" -> legacy = flag(options, value);
                default -> throw options.error("Invalid argument");
            }
        }
        int log2Buffer = Math.min(31 - Integer.numberOfLeadingZeros(Math.max(bufferSectors, 1)), 31 - 9);

        if (tagSize == 0) {
            if (internalHash == null) {
                throw args.error(tagSizeIndex, "Unknown tag size (\"-\" needs internal_hash)");
            }
            tagSize = internalHash.digestSize();
        }
        if (tagSize > IntegrityGeometry.MAX_TAG_SIZE) {
            throw args.error(tagSizeIndex, "Too big tag size (at most " + IntegrityGeometry.MAX_TAG_SIZE + ")");
        }
        if (mode == 'B' && internalHash == null) {
            throw modeArg.error("Bitmap mode can be only used with internal hash");
        }
        if (discards && internalHash == null) {
            throw new TargetException("Discard can be only used with internal hash");
        }
        return new IntegrityOptions(start, tagSize, mode, journalSectors, interleave, log2Buffer, watermark, commitMs,
                meta, metaArg, sectorsPerBlock, log2SectorsPerBit, flushMs, internalHash, journalMac, journalCrypt, recalculate, reset,
                discards, fixPadding, fixHmac, legacy);
    }

    private static long u32(Args options, String value) throws TargetException {
        return number(options, value, 0xffff_ffffL);
    }

    private static long number(Args options, String value, long max) throws TargetException {
        // The kernel's sscanf("name:%u%c"), as for whole arguments.
        OptionalLong parsed = value == null ? OptionalLong.empty() : Args.Rule.SCANF_U64.parse(value);
        if (parsed.isEmpty()) {
            throw options.error("Invalid argument (expected a decimal number after the colon)");
        }
        long v = parsed.getAsLong();
        if (Long.compareUnsigned(v, max) > 0) {
            throw options.error("Invalid argument (number out of range)");
        }
        return v;
    }

    private static boolean flag(Args options, String value) throws TargetException {
        if (value != null) {
            throw options.error("Invalid argument");
        }
        return true;
    }

    private static JournalCrypt cipher(Args options, String value) throws TargetException {
        if (value == null || value.isEmpty()) {
            throw options.error("Invalid journal_crypt argument");
        }
        try {
            return JournalCrypt.parse(value);
        } catch (IntegrityHash.AlgorithmException e) {
            throw options.error(e.getMessage());
        }
    }

    private static IntegrityHash algorithm(Args options, String value, String option, String invalidAlg,
                                           String keyError) throws TargetException {
        if (value == null || value.isEmpty()) {
            throw options.error("Invalid " + option + " argument");
        }
        try {
            return IntegrityHash.parse(value, "Invalid " + option + " argument", invalidAlg, keyError);
        } catch (IntegrityHash.AlgorithmException e) {
            throw options.error(e.getMessage());
        }
    }
}
