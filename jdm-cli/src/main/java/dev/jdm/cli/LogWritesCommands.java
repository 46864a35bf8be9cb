package dev.jdm.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jdm.core.io.FileBlockDevice;
import dev.jdm.daemon.Protocol;
import dev.jdm.targets.logwrites.CheckPoint;
import dev.jdm.targets.logwrites.LogEntry;
import dev.jdm.targets.logwrites.LogReplay;
import dev.jdm.targets.logwrites.ReplayListener;
import dev.jdm.targets.logwrites.ReplayOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * {@code jdm log-writes ...}: xfstests' replay-log on dev.jdm.targets.logwrites (docs/log-writes.md
 * maps its options one to one). Runs in this process on the log file and the replay device.
 */
@Command(name = "log-writes", description = "Reads and replays dm-log-writes logs, as xfstests' replay-log (see docs/log-writes.md).",
        subcommands = {LogWritesCommands.ListEntries.class, LogWritesCommands.Replay.class, LogWritesCommands.Find.class})
final class LogWritesCommands {

    /** Where a replay (or find) starts and stops: replay-log's options. */
    static final class Range {
        @Option(names = "--start-entry", paramLabel = "N", description = "Start at entry N (entries count from 0).")
        long startEntry;
        @Option(names = "--start-mark", paramLabel = "TEXT", description = "Start after the mark TEXT.")
        String startMark;
        @Option(names = "--limit", paramLabel = "N", description = "Replay at most N entries.")
        long limit;
        @Option(names = "--end-entry", paramLabel = "N", description = "Stop after entry N.")
        Long endEntry;
        @Option(names = "--end-mark", paramLabel = "TEXT", description = "Stop at the mark TEXT.")
        String endMark;
        @Option(names = "--next-flush", description = "Stop after the next FLUSH entry.")
        boolean nextFlush;
        @Option(names = "--next-fua", description = "Stop after the next FUA entry.")
        boolean nextFua;

        ReplayOptions options() {
            ReplayOptions o = ReplayOptions.defaults().startEntry(startEntry);
            if (startMark != null) {
                o = o.startMark(startMark);
            }
            if (limit > 0) {
                o = o.limit(limit);
            }
            if (endEntry != null) {
                o = o.endEntry(endEntry);
            }
            if (endMark != null) {
                o = o.endMark(endMark);
            }
            if (nextFlush) {
                o = o.nextFlush();
            }
            if (nextFua) {
                o = o.nextFua();
            }
            return o;
        }
    }

    @Command(name = "list", description = {"Prints the log's header (Log version=1, sectorsize=N, entries=N) and every entry",
            "as replay-log -v describes it."})
    static final class ListEntries extends LocalCommand {
        @Parameters(index = "0", paramLabel = "LOG")
        Path log;
        @Option(names = "--num-entries", description = "Print only the number of entries.")
        boolean numEntries;
        @Option(names = "--json", description = "The header and the entries as JSON.")
        boolean json;

        @Override
        int run() throws IOException {
            try (LogReplay replay = LogReplay.open(log)) {
                if (numEntries) {
                    out().println(replay.entryCount());
                } else if (json) {
                    ObjectNode o = Protocol.JSON.createObjectNode().put("version", 1).put("sectorSize", replay.sectorSize())
                            .put("entries", replay.entryCount());
                    ArrayNode list = o.putArray("log");
                    for (LogEntry e : replay.entries()) {
                        ObjectNode n = list.addObject().put("index", e.index()).put("logOffset", e.logOffset()).put("sector", e.sector())
                                .put("sectors", e.sectors()).put("flags", e.flags());
                        if (e.isMark()) {
                            n.put("mark", e.mark());
                        }
                    }
                    out().println(o.toPrettyString());
                } else {
                    out().println("Log version=1, sectorsize=" + replay.sectorSize() + ", entries=" + replay.entryCount());
                    for (LogEntry e : replay.entries()) {
                        out().println(e.describe());
                    }
                }
            }
            return 0;
        }
    }

    @Command(name = "replay", description = {"Replays the log onto DEVICE (a file or block device), up to where the options stop it.",
            "A progress bar shows on a terminal."})
    static final class Replay extends LocalCommand {
        @Parameters(index = "0", paramLabel = "LOG")
        Path log;
        @Parameters(index = "1", paramLabel = "DEVICE")
        Path device;
        @Mixin
        Range range;
        @Option(names = "--no-discard", description = "Leave discarded ranges alone.")
        boolean noDiscard;
        @Option(names = "--zero-discards", description = "Write zeroes over discarded ranges instead of discarding them.")
        boolean zeroDiscards;
        @Option(names = "--start-sector", paramLabel = "S", description = "Skip entries wholly before this log sector.")
        long startSector;
        @Option(names = "--end-sector", paramLabel = "S", description = "Skip entries wholly after this log sector.")
        Long endSector;
        @Option(names = "--check", paramLabel = "N|flush|fua", description = "Run --fsck every N entries, or at each FLUSH or FUA entry.")
        String check;
        @Option(names = "--fsck", paramLabel = "COMMAND", description = "The check command (sh -c); a non-zero exit stops the replay.")
        String fsck;
        @Option(names = "-v", description = "One line per entry replayed (-vv: and per entry skipped).")
        boolean[] verbose = new boolean[0];

        @Override
        int run() throws IOException {
            ReplayOptions o = range.options();
            if (noDiscard) {
                o = o.discards(ReplayOptions.Discards.SKIP);
            } else if (zeroDiscards) {
                o = o.discards(ReplayOptions.Discards.ZERO);
            }
            if (startSector != 0 || endSector != null) {
                o = o.sectors(startSector, endSector != null ? endSector : Long.MAX_VALUE);
            }
            if ((check == null) != (fsck == null)) {
                throw new IllegalArgumentException("--check and --fsck go together");
            }
            if (check != null) {
                CheckPoint cp = (entry, replayed) -> runFsck();
                o = switch (check) {
                    case "flush" -> o.checkAt(ReplayOptions.CheckMode.FLUSH, cp);
                    case "fua" -> o.checkAt(ReplayOptions.CheckMode.FUA, cp);
                    default -> o.checkEvery(Long.parseLong(check), cp);
                };
            }
            try (LogReplay replay = LogReplay.open(log);
                 FileBlockDevice target = FileBlockDevice.open(device, FileBlockDevice.Options.READ_WRITE);
                 Progress progress = Progress.start("Replaying " + log, replay.entryCount())) {
                ReplayListener lines = verbose.length > 0 ? ReplayListener.verbose(out()::println, verbose.length > 1) : null;
                o = o.listener(new ReplayListener() {
                    @Override
                    public void replayed(LogEntry entry) {
                        if (lines != null) {
                            lines.replayed(entry);
                        }
                    }

                    @Override
                    public void skipped(LogEntry entry) {
                        if (lines != null) {
                            lines.skipped(entry);
                        }
                    }

                    @Override
                    public void progress(long done, long total) {
                        progress.update(done);
                    }
                });
                LogReplay.Result r = replay.replay(target, o);
                target.flush();
                if (r.reason() == LogReplay.StopReason.CHECK_FAILED) {
                    throw new IOException("fsck failed at entry " + r.last().index());
                }
            }
            return 0;
        }

        private boolean runFsck() throws IOException {
            try {
                return new ProcessBuilder("sh", "-c", fsck).inheritIO().start().waitFor() == 0;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while running " + fsck, e);
            }
        }
    }

    @Command(name = "find", description = "Prints where the replay would stop, as replay-log --find: ENTRY@LOG_SECTOR of the next entry.")
    static final class Find extends LocalCommand {
        @Parameters(index = "0", paramLabel = "LOG")
        Path log;
        @Mixin
        Range range;

        @Override
        int run() throws IOException {
            try (LogReplay replay = LogReplay.open(log)) {
                Optional<LogEntry> found = replay.find(range.options());
                if (found.isEmpty()) {
                    throw new IOException("no entry matches");
                }
                LogEntry e = found.get();
                out().println(e.index() + "@" + e.nextLogOffset() / replay.sectorSize());
            }
            return 0;
        }
    }
}
