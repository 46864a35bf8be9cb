package dev.jdm.daemon;

import java.io.IOException;
import java.nio.file.Path;

/** Nothing answers on the control socket. */
public final class NoDaemonException extends IOException {
    public NoDaemonException(Path socket, Throwable cause) {
        super("no jdm daemon at " + socket + ": start one with `jdm daemon`", cause);
    }
}
