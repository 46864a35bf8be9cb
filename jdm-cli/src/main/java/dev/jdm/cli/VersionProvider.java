package dev.jdm.cli;

import dev.jdm.daemon.JdmDaemon;
import picocli.CommandLine;

/** {@code jdm --version}: the build's version. */
final class VersionProvider implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
        return new String[]{"jdm " + JdmDaemon.version()};
    }
}
