package dev.jdm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jdm.daemon.ControlClient;
import dev.jdm.daemon.ControlException;
import dev.jdm.daemon.NoDaemonException;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.util.concurrent.Callable;

/**
 * A command that talks to the daemon: one connection per run. Failures print
 * {@code jdm: <op> <name> failed: <message>} on stderr and exit with 1, as dmsetup reports them.
 */
abstract class Action implements Callable<Integer> {
    @ParentCommand
    JdmCommand root;

    @Spec
    CommandSpec spec;

    /** Ends the command with exit code 1 and {@code jdm: <message>} on stderr. */
    static final class Failed extends Exception {
        Failed(String message) {
            super(message);
        }
    }

    abstract int run(ControlClient daemon) throws Failed;

    /** What a command prints before it needs the daemon (dmsetup version prints its own version first). */
    void beforeConnecting() {
    }

    @Override
    public final Integer call() {
        beforeConnecting();
        try (ControlClient daemon = ControlClient.connect(root.socket())) {
            return run(daemon);
        } catch (NoDaemonException e) {
            return fail(spec.name() + " failed: " + e.getMessage());
        } catch (Failed e) {
            return fail(e.getMessage());
        } catch (IOException e) {
            return fail(spec.name() + " failed: closing the control connection: " + e.getMessage());
        } finally {
            out().flush();
        }
    }

    private int fail(String message) {
        out().flush();
        spec.commandLine().getErr().println("jdm: " + message);
        spec.commandLine().getErr().flush();
        return 1;
    }

    PrintWriter out() {
        return spec.commandLine().getOut();
    }

    NameMangling mangling() {
        return root.mangling;
    }

    ObjectNode request(String op) {
        return ControlClient.request(op);
    }

    /** Sends a request; a refusal fails the command with {@code <op> <subject> failed: <why>}. */
    JsonNode call(ControlClient daemon, ObjectNode req, String subject) throws Failed {
        try {
            return daemon.call(req);
        } catch (ControlException e) {
            throw new Failed(spec.name() + (subject == null ? "" : " " + subject) + " failed: " + e.getMessage());
        } catch (IOException e) {
            throw new Failed(spec.name() + " failed: lost the jdm daemon: " + e.getMessage());
        }
    }

    /** Puts the device a command names into a request: NAME, or -u / -j -m. */
    String select(ObjectNode req, String name, Selection selection) throws Failed {
        try {
            String subject = selection.apply(req, name, mangling());
            if (subject == null) {
                // Bad usage (exit 2), reported with the command's usage like any other.
                throw new ParameterException(spec.commandLine(), "Name a device: NAME, -u UUID, or -j MAJOR -m MINOR");
            }
            return subject;
        } catch (NameMangling.MangleException e) {
            throw new Failed(spec.name() + " failed: " + e.getMessage());
        }
    }

    String mangle(String name) throws Failed {
        try {
            return mangling().mangle(name, "name");
        } catch (NameMangling.MangleException e) {
            throw new Failed(spec.name() + " failed: " + e.getMessage());
        }
    }
}
