package dev.jdm.cli;

import dev.jdm.daemon.ControlClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code jdm luks|verity|integrity close NAME}: the mapping those commands open is removed like any other. */
@Command(name = "close", description = "Removes the mapping (jdm remove NAME).")
final class CloseMapping extends LocalCommand {
    @Parameters(index = "0", paramLabel = "NAME")
    String name;

    @Override
    int run() throws Action.Failed {
        daemon(ControlClient.request("remove").put("name", name), spec.parent().name() + " close " + name);
        return 0;
    }
}
