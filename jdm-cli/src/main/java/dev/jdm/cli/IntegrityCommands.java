package dev.jdm.cli;

import dev.jdm.core.DmException;
import dev.jdm.daemon.ControlClient;
import dev.jdm.targets.integrity.IntegrityMode;
import dev.jdm.targets.integrity.IntegrityTool;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Path;

/**
 * {@code jdm integrity ...}: integritysetup's commands on dev.jdm.targets.integrity.IntegrityTool
 * (docs/integrity.md). format runs here with the engine in this process; open and close go through the daemon.
 */
@Command(name = "integrity", description = "dm-integrity devices, in the kernel's format (see docs/integrity.md).",
        subcommands = {IntegrityCommands.Format.class, IntegrityCommands.Open.class, CloseMapping.class,
                IntegrityCommands.Dump.class})
final class IntegrityCommands {

    /** A DmException from the library is a failure like any other I/O failure here. */
    static IOException failure(DmException e) {
        return new IOException(e.getMessage(), e);
    }

    @Command(name = "format", description = {"Formats DEVICE (zeroes its superblock, lets the target write a new one and the journal,",
            "then wipes the data so unwritten blocks read as zeroes); prints the provided data sectors."})
    static final class Format extends LocalCommand {
        @Parameters(index = "0", paramLabel = "DEVICE")
        Path device;
        @Option(names = {"-I", "--integrity"}, paramLabel = "ALG[:HEXKEY]", description = "Tag algorithm (default crc32c); hmac(...) takes a key.")
        String integrity = "crc32c";
        @Option(names = {"-t", "--tag-size"}, paramLabel = "BYTES", description = "Tag size (default: the digest size).")
        int tagSize;
        @Option(names = {"-s", "--sector-size"}, paramLabel = "BYTES", description = "Block size 512..4096 (default 512).")
        int sectorSize = 512;
        @Option(names = {"-j", "--journal-size"}, paramLabel = "SECTORS", description = "Journal size in sectors (default: the kernel's).")
        long journalSectors;
        @Option(names = "--interleave-sectors", paramLabel = "N", description = "Sectors per data area (default 32768).")
        int interleaveSectors;
        @Option(names = "--journal-integrity", paramLabel = "ALG[:HEXKEY]", description = "MAC over the journal sections.")
        String journalIntegrity;
        @Option(names = "--journal-crypt", paramLabel = "ALG:HEXKEY", description = "Encrypt the journal: ctr(aes), chacha20, cbc(aes) or ecb(aes) with its key.")
        String journalCrypt;
        @Option(names = {"-B", "--integrity-bitmap-mode"}, description = "Bitmap mode instead of the journal.")
        boolean bitmapMode;
        @Option(names = "--data-device", paramLabel = "PATH", description = "Data on this device; DEVICE holds only the metadata.")
        String dataDevice;
        @Option(names = "--no-wipe", description = "Do not wipe the data (unwritten blocks then fail their checks).")
        boolean noWipe;
        @Option(names = "--integrity-legacy-padding", description = "The old 128 KiB tag-run padding (no fix_padding).")
        boolean legacyPadding;
        @Option(names = "--integrity-legacy-hmac", description = "No salt in tags and journal MACs (no fix_hmac).")
        boolean legacyHmac;

        @Override
        int run() throws IOException {
            IntegrityTool.Options o = new IntegrityTool.Options(0, integrity, tagSize, sectorSize, journalSectors, interleaveSectors,
                    journalIntegrity, bitmapMode, !legacyPadding, !legacyHmac, dataDevice, !noWipe).withJournalCrypt(journalCrypt);
            long provided;
            try (Progress progress = Progress.start("Formatting " + device + (noWipe ? "" : " and wiping its data"), -1)) {
                provided = IntegrityTool.format(device, o);
            } catch (DmException e) {
                throw failure(e);
            }
            out().println("Formatted with tag size " + (tagSize == 0 ? "of the digest" : tagSize) + ", provided data sectors " + provided + ".");
            return 0;
        }
    }

    @Command(name = "open", description = "Has the daemon create the mapping NAME over a formatted DEVICE, sized from its superblock.")
    static final class Open extends LocalCommand {
        @Parameters(index = "0", paramLabel = "DEVICE")
        Path device;
        @Parameters(index = "1", paramLabel = "NAME")
        String name;
        @Option(names = {"-I", "--integrity"}, paramLabel = "ALG[:HEXKEY]", description = "Tag algorithm, as formatted (default crc32c).")
        String integrity = "crc32c";
        @Option(names = "--journal-integrity", paramLabel = "ALG[:HEXKEY]", description = "The journal MAC, as formatted.")
        String journalIntegrity;
        @Option(names = "--journal-crypt", paramLabel = "ALG:HEXKEY", description = "The journal cipher and key, as formatted.")
        String journalCrypt;
        @Option(names = {"-B", "--integrity-bitmap-mode"}, description = "Bitmap mode (B).")
        boolean bitmapMode;
        @Option(names = {"-D", "--integrity-no-journal"}, description = "Direct mode (D): no journal, a crash may leave bad tags.")
        boolean noJournal;
        @Option(names = {"-R", "--integrity-recovery-mode"}, description = "Recovery mode (R): no checks, no writes.")
        boolean recovery;
        @Option(names = "--data-device", paramLabel = "PATH", description = "The data device, when DEVICE holds only metadata.")
        String dataDevice;
        @Option(names = {"-r", "--readonly"}, description = "A read-only mapping.")
        boolean readOnly;

        @Override
        int run() throws IOException, Action.Failed {
            IntegrityTool.Options o = new IntegrityTool.Options(0, integrity, 0, 512, 0, 0, journalIntegrity, bitmapMode,
                    true, true, dataDevice, false).withJournalCrypt(journalCrypt);
            IntegrityMode mode = recovery ? IntegrityMode.RECOVERY : noJournal ? IntegrityMode.DIRECT
                    : bitmapMode ? IntegrityMode.BITMAP : IntegrityMode.JOURNAL;
            String table;
            try {
                table = IntegrityTool.tableLine(device, o, mode);
            } catch (DmException e) {
                throw failure(e);
            }
            // A key (MAC or journal cipher) is in the table: such a device is not written to the daemon's state folder.
            boolean keyed = integrity.contains(":") || (journalIntegrity != null && journalIntegrity.contains(":"))
                    || journalCrypt != null;
            daemon(ControlClient.request("create").put("name", name).put("table", table).put("readOnly", readOnly)
                    .put("transient", keyed), "integrity open " + name);
            return 0;
        }
    }

    @Command(name = "dump", description = "Prints the superblock's fields as integritysetup dump does.")
    static final class Dump extends LocalCommand {
        @Parameters(index = "0", paramLabel = "DEVICE")
        Path device;
        @Option(names = "--json", description = "The fields as a JSON object of strings.")
        boolean json;

        @Override
        int run() throws IOException {
            String report;
            try {
                report = IntegrityTool.dump(device, 0);
            } catch (DmException e) {
                throw failure(e);
            }
            out().print(json ? ReportJson.of(report.substring(report.indexOf('\n') + 1), " ") + "\n" : report);
            return 0;
        }
    }
}
