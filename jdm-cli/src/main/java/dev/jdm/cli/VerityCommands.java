package dev.jdm.cli;

import dev.jdm.daemon.ControlClient;
import dev.jdm.formats.verity.Veritysetup;
import dev.jdm.formats.verity.VerityOptions;
import dev.jdm.formats.verity.VerityOptions.Activation;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Set;

/**
 * {@code jdm verity ...}: veritysetup's commands on dev.jdm.formats.verity.Veritysetup (docs/verity.md),
 * with veritysetup's option names, output and messages. open and close go through the daemon.
 */
@Command(name = "verity", description = "dm-verity hash trees, compatible with veritysetup (see docs/verity.md).",
        subcommands = {VerityCommands.Format.class, VerityCommands.Verify.class, VerityCommands.Dump.class,
                VerityCommands.Open.class, CloseMapping.class})
final class VerityCommands {

    /** veritysetup's options for the layout of the hash device (all but activation). */
    static final class Layout {
        @Option(names = "--hash", paramLabel = "NAME", description = "Digest (default sha256).")
        String hash;
        @Option(names = "--data-block-size", paramLabel = "BYTES", description = "Data block size (default 4096).")
        Integer dataBlockSize;
        @Option(names = "--hash-block-size", paramLabel = "BYTES", description = "Hash block size (default 4096).")
        Integer hashBlockSize;
        @Option(names = "--data-blocks", paramLabel = "N", description = "Data blocks protected (default: the whole data device).")
        Long dataBlocks;
        @Option(names = "--hash-offset", paramLabel = "BYTES", description = "Offset of the superblock on the hash device.")
        Long hashOffset;
        @Option(names = "--no-superblock", description = "No on-disk header (verify/open then need every option).")
        boolean noSuperblock;
        @Option(names = {"-s", "--salt"}, paramLabel = "HEX", description = "Salt in hex, - for none (default 32 random bytes).")
        String salt;
        @Option(names = "--format", paramLabel = "0|1", description = "Hash type: 1 normal (default), 0 Chrome OS.")
        Integer format;
        @Option(names = "--uuid", paramLabel = "UUID", description = "UUID stored in the header (default random).")
        String uuid;
        @Option(names = "--fec-device", paramLabel = "PATH", description = "Reed-Solomon parity file or device.")
        Path fecDevice;
        @Option(names = "--fec-roots", paramLabel = "N", description = "Parity bytes per codeword, 2..24 (default 2).")
        Integer fecRoots;
        @Option(names = "--fec-offset", paramLabel = "BYTES", description = "Offset of the parity on the FEC device.")
        Long fecOffset;

        VerityOptions options() {
            VerityOptions o = VerityOptions.defaults().withNoSuperblock(noSuperblock);
            if (hash != null) {
                o = o.withHash(hash);
            }
            if (dataBlockSize != null) {
                o = o.withDataBlockSize(dataBlockSize);
            }
            if (hashBlockSize != null) {
                o = o.withHashBlockSize(hashBlockSize);
            }
            if (dataBlocks != null) {
                o = o.withDataBlocks(dataBlocks);
            }
            if (hashOffset != null) {
                o = o.withHashOffset(hashOffset);
            }
            if (salt != null) {
                o = o.withSalt(salt);
            }
            if (format != null) {
                o = o.withFormat(format);
            }
            if (uuid != null) {
                o = o.withUuid(uuid);
            }
            if (fecDevice != null) {
                o = o.withFecDevice(fecDevice);
            }
            if (fecRoots != null) {
                o = o.withFecRoots(fecRoots);
            }
            if (fecOffset != null) {
                o = o.withFecOffset(fecOffset);
            }
            return o;
        }
    }

    @Command(name = "format", description = "Writes the hash tree (and FEC parity, and the header); prints veritysetup's report with the root hash.")
    static final class Format extends LocalCommand {
        @Parameters(index = "0", paramLabel = "DATA")
        Path data;
        @Parameters(index = "1", paramLabel = "HASH")
        Path hash;
        @Mixin
        Layout layout;

        @Override
        int run() throws IOException {
            Veritysetup.Result r;
            try (Progress progress = Progress.start("Hashing " + data, -1)) {
                r = Veritysetup.format(data, hash, layout.options());
            }
            out().print(r.report());
            return 0;
        }
    }

    @Command(name = "verify", description = {"Checks the data against the hash tree and the root hash (exit 1 on a mismatch).",
            "With a FEC device, damage the parity can repair is reported on stderr and accepted."})
    static final class Verify extends LocalCommand {
        @Parameters(index = "0", paramLabel = "DATA")
        Path data;
        @Parameters(index = "1", paramLabel = "HASH")
        Path hash;
        @Parameters(index = "2", paramLabel = "ROOT_HASH")
        String root;
        @Mixin
        Layout layout;

        @Override
        int run() throws IOException {
            Veritysetup.Result r;
            try (Progress progress = Progress.start("Verifying " + data, -1)) {
                r = Veritysetup.verify(data, hash, root, layout.options());
            }
            if (!r.messages().isEmpty()) {
                spec.commandLine().getErr().println(r.messages());
            }
            return 0;
        }
    }

    @Command(name = "dump", description = "Prints the hash device's header as veritysetup dump does.")
    static final class Dump extends LocalCommand {
        @Parameters(index = "0", paramLabel = "HASH")
        Path hash;
        @Mixin
        Layout layout;
        @Option(names = "--json", description = "The header fields as a JSON object of strings.")
        boolean json;

        @Override
        int run() throws IOException {
            String report = Veritysetup.dump(hash, layout.options());
            out().print(json ? ReportJson.of(report, ":") + "\n" : report);
            return 0;
        }
    }

    @Command(name = "open", description = "Has the daemon create the read-only mapping NAME with the verity table veritysetup would load.")
    static final class Open extends LocalCommand {
        @Parameters(index = "0", paramLabel = "DATA")
        Path data;
        @Parameters(index = "1", paramLabel = "NAME")
        String name;
        @Parameters(index = "2", paramLabel = "HASH")
        Path hash;
        @Parameters(index = "3", paramLabel = "ROOT_HASH")
        String root;
        @Mixin
        Layout layout;
        @Option(names = "--ignore-corruption", description = "Return corrupted blocks as they are (status C).")
        boolean ignoreCorruption;
        @Option(names = "--restart-on-corruption", description = "Fail the read and raise an event.")
        boolean restartOnCorruption;
        @Option(names = "--panic-on-corruption", description = "Stop the device.")
        boolean panicOnCorruption;
        @Option(names = "--ignore-zero-blocks", description = "Blocks hashed as zero blocks read as zeroes, unchecked.")
        boolean ignoreZeroBlocks;
        @Option(names = "--check-at-most-once", description = "Verify each data block only once.")
        boolean checkAtMostOnce;
        @Option(names = "--use-tasklets", description = "Accepted for veritysetup's sake (try_verify_in_tasklet).")
        boolean useTasklets;

        @Override
        int run() throws IOException, Action.Failed {
            Set<Activation> flags = EnumSet.noneOf(Activation.class);
            addIf(flags, ignoreCorruption, Activation.IGNORE_CORRUPTION);
            addIf(flags, restartOnCorruption, Activation.RESTART_ON_CORRUPTION);
            addIf(flags, panicOnCorruption, Activation.PANIC_ON_CORRUPTION);
            addIf(flags, ignoreZeroBlocks, Activation.IGNORE_ZERO_BLOCKS);
            addIf(flags, checkAtMostOnce, Activation.CHECK_AT_MOST_ONCE);
            addIf(flags, useTasklets, Activation.USE_TASKLETS);
            String table = Veritysetup.open(data, hash, root, layout.options().withActivation(flags));
            daemon(ControlClient.request("create").put("name", name).put("table", table).put("readOnly", true), "verity open " + name);
            return 0;
        }

        private static void addIf(Set<Activation> flags, boolean given, Activation flag) {
            if (given) {
                flags.add(flag);
            }
        }
    }
}
