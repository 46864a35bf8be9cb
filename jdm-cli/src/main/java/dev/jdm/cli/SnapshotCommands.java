package dev.jdm.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.jdm.daemon.ControlClient;
import dev.jdm.daemon.ControlException;
import dev.jdm.daemon.Protocol;
import dev.jdm.daemon.Snapshots;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * {@code jdm snapshot ...}: classic (non-thin) snapshots of a live device the way LVM2 takes them
 * (docs/snapshot.md), each command a sequence of plain control operations done by
 * {@link Snapshots}.
 */
@Command(name = "snapshot", description = "Classic snapshots of a live device, as LVM2 takes them (see docs/snapshot.md).",
        subcommands = {SnapshotCommands.Create.class, SnapshotCommands.Merge.class, SnapshotCommands.Remove.class,
                SnapshotCommands.ListSnapshots.class})
final class SnapshotCommands {
    private SnapshotCommands() {
    }

    /** One connection to the daemon for the whole sequence; a refusal prints {@code snapshot <verb> <subject> failed: <why>}. */
    abstract static class SnapshotCommand extends LocalCommand {
        abstract int run(Snapshots snapshots) throws IOException, ControlException;

        /** What the failure message names after the verb (the snapshot), or null. */
        abstract String subject();

        @Override
        final int run() throws Exception {
            String what = "snapshot " + spec.name() + (subject() == null ? "" : " " + subject());
            JdmCommand root = (JdmCommand) spec.root().userObject();
            try (ControlClient daemon = ControlClient.connect(root.socket())) {
                return run(new Snapshots(daemon));
            } catch (ControlException | IOException e) {
                throw new Action.Failed(what + " failed: " + e.getMessage());
            }
        }
    }

    /** A command on one snapshot, NAME. */
    abstract static class OnSnapshot extends SnapshotCommand {
        @Parameters(index = "0", paramLabel = "NAME", description = "The snapshot.")
        String name;

        @Override
        final String subject() {
            return name;
        }
    }

    /** --persistent (P, the default) or --transient (N). */
    static final class StoreChoice {
        @Option(names = "--persistent", description = "Keep the exceptions on the COW (store P, the default): the snapshot survives a daemon restart and can be merged.")
        boolean persistent;
        @Option(names = "--transient", description = "Keep the exceptions in memory only (store N): lost when the device goes, cannot be merged.")
        boolean notPersistent;
    }

    @Command(name = "create", description = {
            "Takes snapshot NAME of the live device ORIGIN (LVM2's lvcreate -s).",
            "ORIGIN's table moves to ORIGIN-real, ORIGIN gets snapshot-origin over it, NAME-cow maps the COW and "
                    + "NAME is the snapshot. On a failure ORIGIN keeps its old table and whatever was made is removed. "
                    + "Flush or freeze a mounted filesystem first."})
    static final class Create extends SnapshotCommand {
        @Parameters(index = "0", paramLabel = "ORIGIN", description = "The device to snapshot; it keeps its name.")
        String origin;
        @Parameters(index = "1", paramLabel = "NAME", description = "The snapshot's name (its COW device is NAME-cow).")
        String name;
        @Option(names = "--cow", required = true, paramLabel = "FILE|DEV", description = "The COW file or block device, used whole.")
        Path cow;
        @Option(names = "--chunk-size", paramLabel = "SECTORS", description = "Chunk size in 512-byte sectors, a power of 2 (default 8, LVM's 4 KiB).")
        long chunkSectors = 8;
        @ArgGroup(exclusive = true)
        StoreChoice store;

        @Override
        String subject() {
            return name;
        }

        @Override
        int run(Snapshots snapshots) throws IOException, ControlException {
            snapshots.create(origin, name, cow.toAbsolutePath(), chunkSectors, store != null && store.notPersistent ? "N" : "P");
            return 0;
        }
    }

    @Command(name = "merge", description = {
            "Merges snapshot NAME back into its origin (LVM2's lvconvert --merge).",
            "The origin gets snapshot-merge (readable and writable throughout), NAME goes, and the command waits "
                    + "with a progress bar until every chunk is back, then puts the origin on its own table and removes "
                    + "NAME-cow (and ORIGIN-real after the last snapshot). Run it again on a merge already started "
                    + "(--no-wait, or a daemon killed midway) to wait for it and finish it."})
    static final class Merge extends OnSnapshot {
        @Option(names = "--no-wait", description = "Start the merge and return; the origin's status shows its progress.")
        boolean noWait;

        @Override
        int run(Snapshots snapshots) throws IOException, ControlException {
            Snapshots.Merge merge = snapshots.startMerge(name);
            if (noWait) {
                return 0;
            }
            Progress[] bar = new Progress[1];
            try {
                snapshots.finishMerge(merge, total -> bar[0] = Progress.start("Merging " + name + " into " + merge.origin(), total),
                        merged -> bar[0].update(merged));
            } finally {
                if (bar[0] != null) {
                    bar[0].close();
                }
            }
            return 0;
        }
    }

    @Command(name = "remove", description = {
            "Drops snapshot NAME and NAME-cow.",
            "After the last snapshot of an origin, the origin gets ORIGIN-real's table back and ORIGIN-real goes. "
                    + "The origin is suspended meanwhile, so it loses no write. The COW file is left as it is."})
    static final class Remove extends OnSnapshot {
        @Override
        int run(Snapshots snapshots) throws IOException, ControlException {
            snapshots.remove(name);
            return 0;
        }
    }

    @Command(name = "list", description = {
            "Lists the snapshots with their origin, store, chunk size and COW use.",
            "Allocated/Total are sectors of the COW, from the snapshot's status; STATE is active, merging, invalid, "
                    + "overflow or merge failed."})
    static final class ListSnapshots extends SnapshotCommand {
        static final String FORMAT = "%-16s %-16s %-5s %5s %21s %5s %s%n";

        @Option(names = "--json", description = "The list as JSON, with the sector counts.")
        boolean json;

        @Override
        String subject() {
            return null;
        }

        @Override
        int run(Snapshots snapshots) throws IOException, ControlException {
            List<Snapshots.Snapshot> all = snapshots.list();
            if (json) {
                printJson(all);
                return 0;
            }
            out().printf(FORMAT, "Snapshot", "Origin", "Store", "Chunk", "Allocated/Total", "Use%", "State");
            for (Snapshots.Snapshot s : all) {
                boolean usage = s.totalSectors() > 0;
                out().printf(FORMAT, s.name(), s.origin(), s.store(), s.chunkSectors(),
                        usage ? s.allocatedSectors() + "/" + s.totalSectors() : "-",
                        usage ? String.format(Locale.ROOT, "%.1f", 100.0 * s.allocatedSectors() / s.totalSectors()) : "-", s.state());
            }
            return 0;
        }

        private void printJson(List<Snapshots.Snapshot> all) {
            ArrayNode a = Protocol.JSON.createArrayNode();
            for (Snapshots.Snapshot s : all) {
                a.addObject().put("name", s.name()).put("origin", s.origin()).put("cow", s.cow()).put("store", s.store())
                        .put("chunkSectors", s.chunkSectors()).put("state", s.state())
                        .put("allocatedSectors", s.allocatedSectors()).put("totalSectors", s.totalSectors())
                        .put("metadataSectors", s.metadataSectors());
            }
            out().println(QueryCommands.indented(a));
        }
    }
}
