package dev.jdm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jdm.daemon.ControlClient;
import dev.jdm.daemon.ControlException;
import dev.jdm.daemon.NoDaemonException;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.concurrent.Callable;

/**
 * A command that does its work in this process, as cryptsetup and veritysetup do (reading and
 * writing on-disk formats), and asks the daemon only to create or remove the mapping. A failure
 * prints {@code jdm: <message>} on stderr, with the library's cryptsetup-like wording, and exits 1.
 */
abstract class LocalCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    abstract int run() throws Exception;

    @Override
    public final Integer call() {
        try {
            return run();
        } catch (IOException | IllegalArgumentException | Action.Failed e) {
            out().flush();
            spec.commandLine().getErr().println("jdm: " + e.getMessage());
            spec.commandLine().getErr().flush();
            return 1;
        } catch (UncheckedIOException e) {
            spec.commandLine().getErr().println("jdm: " + e.getCause().getMessage());
            return 1;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        } finally {
            out().flush();
        }
    }

    PrintWriter out() {
        return spec.commandLine().getOut();
    }

    /** One request to the daemon; a refusal becomes {@code <what> failed: <why>}. */
    JsonNode daemon(ObjectNode request, String what) throws Action.Failed {
        JdmCommand root = (JdmCommand) spec.root().userObject();
        try (ControlClient daemon = ControlClient.connect(root.socket())) {
            return daemon.call(request);
        } catch (NoDaemonException e) {
            throw new Action.Failed(what + " failed: " + e.getMessage());
        } catch (ControlException e) {
            throw new Action.Failed(what + " failed: " + e.getMessage());
        } catch (IOException e) {
            throw new Action.Failed(what + " failed: lost the jdm daemon: " + e.getMessage());
        }
    }
}
