package dev.jdm.targets.integrity;

import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.TargetException;

/**
 * The arguments of an integrity table line, parsed and checked as {@code dm_integrity_ctr} does
 * before it touches the device: {@code <dev> <reserved_sectors> <tag_size|-> <mode> <#opt> [opt...]}.
 * Errors carry the kernel's wording and name the argument.
 */
record IntegrityOptions(
        long start, int tagSize, IntegrityMode mode,
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
        long start = args.u64(1, "starting offset (reserved sectors)");
        int tagSize = 0;
        if (!args.get(2).equals("-")) {
            long size = args.number(2, "tag size", 1, 0xffff_ffffL);
            if (size > IntegrityGeometry.MAX_TAG_SIZE) {
                throw args.error(2, "Too big tag size (at most " + IntegrityGeometry.MAX_TAG_SIZE + ")");
            }
            tagSize = (int) size;
        }
        IntegrityMode mode = IntegrityMode.ofLetter(args.get(3));
        if (mode == null) {
            throw args.get(3).equals("I")
                    ? args.error(3, "inline mode (I) needs per-sector integrity metadata in the underlying device,"
                            + " which jdm block devices do not carry")
                    : args.error(3, "Invalid mode (expecting J, B, D, R, I)");
        }
        long optCount = args.number(4, "number of feature args (Invalid number of feature args)", 0, MAX_OPTIONS);
        if (5 + optCount > args.count()) {
            throw args.error(args.count(), "Not enough feature arguments: #opt is " + optCount + " but only "
                    + (args.count() - 5) + " follow");
        }

        int journalSectors = 0, interleave = DEFAULT_INTERLEAVE_SECTORS, bufferSectors = DEFAULT_BUFFER_SECTORS;
        int watermark = DEFAULT_JOURNAL_WATERMARK, commitMs = DEFAULT_COMMIT_MS, flushMs = DEFAULT_BITMAP_FLUSH_MS;
        int sectorsPerBlock = 1, log2SectorsPerBit = -1, metaArg = -1;
        String meta = null;
        IntegrityHash internalHash = null, journalMac = null;
        JournalCrypt journalCrypt = null;
        boolean recalculate = false, reset = false, discards = false, fixPadding = false, fixHmac = false, legacy = false;
        for (int i = 5; i < 5 + optCount; i++) {
            String opt = args.get(i);
            String value = opt.indexOf(':') >= 0 ? opt.substring(opt.indexOf(':') + 1) : null;
            String name = value != null ? opt.substring(0, opt.indexOf(':')) : opt;
            switch (name) {
                case "journal_sectors" -> {
                    long v = u32(args, i, value);
                    journalSectors = v == 0 ? 1 : (int) Math.min(v, Integer.MAX_VALUE);
                }
                case "interleave_sectors" -> interleave = (int) Math.min(u32(args, i, value), Integer.MAX_VALUE);
                case "buffer_sectors" -> bufferSectors = (int) Math.min(u32(args, i, value), Integer.MAX_VALUE);
                case "journal_watermark" -> {
                    long v = u32(args, i, value);
                    if (v > 100) {
                        throw args.error(i, "Invalid argument (journal_watermark is a percentage, 0..100)");
                    }
                    watermark = (int) v;
                }
                case "commit_time" -> commitMs = (int) Math.min(u32(args, i, value), Integer.MAX_VALUE);
                case "meta_device" -> {
                    if (value == null || value.isEmpty()) {
                        throw args.error(i, "Device lookup failed (no device after meta_device:)");
                    }
                    meta = value;
                    metaArg = i;
                }
                case "block_size" -> {
                    long v = u32(args, i, value);
                    if (v < 512 || v > 4096 || (v & (v - 1)) != 0) {
                        throw args.error(i, "Invalid block_size argument (512..4096, a power of two)");
                    }
                    sectorsPerBlock = (int) (v >> 9);
                }
                case "sectors_per_bit" -> {
                    long v = number(args, i, value, Long.MAX_VALUE);
                    log2SectorsPerBit = v == 0 ? 0 : 63 - Long.numberOfLeadingZeros(v);
                }
                case "bitmap_flush_interval" -> {
                    long v = u32(args, i, value);
                    if (v >= 0xffff_ffffL) {
                        throw args.error(i, "Invalid bitmap_flush_interval argument");
                    }
                    flushMs = (int) Math.min(v, Integer.MAX_VALUE);
                }
                case "internal_hash" -> internalHash = algorithm(args, i, value, "internal_hash",
                        "Invalid internal hash", "Error setting internal hash key");
                case "journal_mac" -> journalMac = algorithm(args, i, value, "journal_mac",
                        "Invalid journal mac", "Error setting journal mac key");
                case "journal_crypt" -> journalCrypt = cipher(args, i, value);
                case "recalculate" -> recalculate = flag(args, i, value);
                case "reset_recalculate" -> recalculate = reset = flag(args, i, value);
                case "allow_discards" -> discards = flag(args, i, value);
                case "fix_padding" -> fixPadding = flag(args, i, value);
                case "fix_hmac" -> fixHmac = flag(args, i, value);
                case "legacy_recalculate" -> legacy = flag(args, i, value);
                default -> throw args.error(i, "Invalid argument");
            }
        }
        int log2Buffer = Math.min(31 - Integer.numberOfLeadingZeros(Math.max(bufferSectors, 1)), 31 - 9);

        if (tagSize == 0) {
            if (internalHash == null) {
                throw args.error(2, "Unknown tag size (\"-\" needs internal_hash)");
            }
            tagSize = internalHash.digestSize();
        }
        if (tagSize > IntegrityGeometry.MAX_TAG_SIZE) {
            throw args.error(2, "Too big tag size (at most " + IntegrityGeometry.MAX_TAG_SIZE + ")");
        }
        if (mode == IntegrityMode.BITMAP && internalHash == null) {
            throw args.error(3, "Bitmap mode can be only used with internal hash");
        }
        if (discards && internalHash == null) {
            throw new TargetException("Discard can be only used with internal hash");
        }
        return new IntegrityOptions(start, tagSize, mode, journalSectors, interleave, log2Buffer, watermark, commitMs,
                meta, metaArg, sectorsPerBlock, log2SectorsPerBit, flushMs, internalHash, journalMac, journalCrypt, recalculate, reset,
                discards, fixPadding, fixHmac, legacy);
    }

    private static long u32(Args args, int i, String value) throws TargetException {
        return number(args, i, value, 0xffff_ffffL);
    }

    private static long number(Args args, int i, String value, long max) throws TargetException {
        if (value == null || value.isEmpty() || value.length() > 19 || !value.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw args.error(i, "Invalid argument (expected a decimal number after the colon)");
        }
        long v = Long.parseLong(value);
        if (v > max) {
            throw args.error(i, "Invalid argument (number out of range)");
        }
        return v;
    }

    private static boolean flag(Args args, int i, String value) throws TargetException {
        if (value != null) {
            throw args.error(i, "Invalid argument");
        }
        return true;
    }

    private static JournalCrypt cipher(Args args, int i, String value) throws TargetException {
        if (value == null || value.isEmpty()) {
            throw args.error(i, "Invalid journal_crypt argument");
        }
        try {
            return JournalCrypt.parse(value);
        } catch (IntegrityHash.AlgorithmException e) {
            throw args.error(i, e.getMessage());
        }
    }

    private static IntegrityHash algorithm(Args args, int i, String value, String option, String invalidAlg,
                                           String keyError) throws TargetException {
        if (value == null || value.isEmpty()) {
            throw args.error(i, "Invalid " + option + " argument");
        }
        try {
            return IntegrityHash.parse(value, "Invalid " + option + " argument", invalidAlg, keyError);
        } catch (IntegrityHash.AlgorithmException e) {
            throw args.error(i, e.getMessage());
        }
    }
}
