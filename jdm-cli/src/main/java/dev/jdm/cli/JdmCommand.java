package dev.jdm.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

import java.nio.file.Path;

/** {@code jdm}: dmsetup's commands against a jdm daemon, plus {@code jdm daemon} to run one. */
@Command(name = "jdm", mixinStandardHelpOptions = true, scope = ScopeType.INHERIT,
        versionProvider = VersionProvider.class,
        description = "The device mapper for the JVM: dmsetup's commands, talking to a jdm daemon.",
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:done", "1:the operation failed (the daemon refused it, or no daemon answers)", "2:bad usage"},
        subcommands = {
                DaemonCommand.class,
                ChangeCommands.Create.class, ChangeCommands.Load.class, ChangeCommands.Clear.class,
                ChangeCommands.Suspend.class, ChangeCommands.Resume.class, ChangeCommands.Remove.class,
                ChangeCommands.RemoveAll.class, ChangeCommands.Rename.class, ChangeCommands.Message.class,
                ChangeCommands.Mangle.class,
                QueryCommands.Info.class, QueryCommands.Deps.class, QueryCommands.Ls.class,
                QueryCommands.Status.class, QueryCommands.Table.class, QueryCommands.Wait.class,
                QueryCommands.Targets.class, QueryCommands.Version.class,
                AttachCommands.Attach.class, AttachCommands.Detach.class, AttachCommands.Attachments.class,
                MultipathCommand.class,
                LuksCommands.class, VerityCommands.class, IntegrityCommands.class, LogWritesCommands.class, SnapshotCommands.class,
                CrashTestCommand.class,
        })
public final class JdmCommand {
    static final String SOCKET_ENV = "JDM_SOCKET";
    static final Path DEFAULT_SOCKET = Path.of("data", "jdm.sock");

    @Option(names = "--socket", paramLabel = "PATH", scope = ScopeType.INHERIT,
            description = "The daemon's control socket (default: $JDM_SOCKET, else ./data/jdm.sock).")
    Path socket;

    @Option(names = "--manglename", paramLabel = "none|hex|auto", scope = ScopeType.INHERIT,
            description = "How device names given on the command line are mangled (default: auto).")
    NameMangling mangling = NameMangling.AUTO;

    Path socket() {
        if (socket != null) {
            return socket;
        }
        String env = System.getenv(SOCKET_ENV);
        return env != null && !env.isEmpty() ? Path.of(env) : DEFAULT_SOCKET;
    }
}
