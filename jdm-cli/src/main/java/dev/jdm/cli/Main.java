package dev.jdm.cli;

import picocli.CommandLine;

/** Entry point of the {@code jdm} command. Exit codes: 0 done, 1 the operation failed, 2 bad usage. */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    static CommandLine commandLine() {
        return new CommandLine(new JdmCommand())
                .setCaseInsensitiveEnumValuesAllowed(true)
                .setExecutionExceptionHandler((e, cl, parsed) -> {
                    cl.getErr().println("jdm: " + cl.getCommandName() + " failed: " + e);
                    return 1;
                });
    }
}
