package dev.jdm.daemon;

import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.nbd.Attach;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The kernel block devices the daemon made for its NBD exports ({@link Attach}). They live as long
 * as the daemon: attaching from the CLI process would end with it, so the daemon owns them and
 * detaches them when it stops.
 */
public final class Attachments implements AutoCloseable {
    private final Path nbdSocket;
    private final Path workDir;
    private final PrintStream log;
    private final Map<String, Attach.Attachment> attached = new TreeMap<>();

    /** Attachments of exports served on {@code nbdSocket}; their records and mount points go in {@code workDir}. */
    public Attachments(Path nbdSocket, Path workDir, PrintStream log) {
        this.nbdSocket = nbdSocket.toAbsolutePath();
        this.workDir = workDir.toAbsolutePath();
        this.log = log;
    }

    /**
     * Undoes what a daemon that died without stopping left behind: its loop devices and nbdfuse
     * mounts point at a socket nobody serves any more.
     */
    public void detachLeftovers() {
        if (!Files.isDirectory(workDir)) {
            return;
        }
        try (DirectoryStream<Path> records = Files.newDirectoryStream(workDir, "*.attach")) {
            for (Path record : records) {
                String file = record.getFileName().toString();
                String name = file.substring(0, file.length() - ".attach".length());
                try {
                    Attach.detach(name, workDir);
                    log.println("jdm daemon: detached " + name + ", left attached by an earlier daemon");
                } catch (IOException e) {
                    log.println("jdm daemon: cannot detach " + name + " left by an earlier daemon: " + e.getMessage());
                }
            }
        } catch (IOException e) {
            log.println("jdm daemon: cannot list " + workDir + ": " + e.getMessage());
        }
    }

    public synchronized Attach.Attachment attach(String name) throws DmException {
        if (attached.containsKey(name)) {
            throw new DmException(Errno.EBUSY, "device " + name + " is already attached as " + attached.get(name).device());
        }
        try {
            Attach.Attachment a = Attach.attach(name, nbdSocket, workDir);
            attached.put(name, a);
            return a;
        } catch (IOException e) {
            throw new DmException(Errno.EIO, "cannot attach " + name + ": " + e.getMessage());
        }
    }

    /** Detaches the device's block device; ENXIO if it has none. */
    public synchronized void detach(String name) throws DmException {
        Attach.Attachment a = attached.get(name);
        if (a == null) {
            throw new DmException(Errno.ENXIO, "device " + name + " is not attached");
        }
        try {
            Attach.detach(a, workDir);
        } catch (IOException e) {
            // Still attached (e.g. mounted): keep it, as the kernel keeps a busy device.
            throw new DmException(Errno.EBUSY, "cannot detach " + name + ": " + e.getMessage());
        }
        attached.remove(name);
    }

    public synchronized boolean isAttached(String name) {
        return attached.containsKey(name);
    }

    /** The block device standing for the device, if it is attached. */
    public synchronized Optional<Path> deviceOf(String name) {
        return Optional.ofNullable(attached.get(name)).map(Attach.Attachment::device);
    }

    public synchronized List<Attach.Attachment> list() {
        return new ArrayList<>(attached.values());
    }

    /** Detaches everything; failures are logged, the rest still detached. */
    @Override
    public synchronized void close() {
        for (String name : new ArrayList<>(attached.keySet())) {
            try {
                detach(name);
            } catch (DmException e) {
                log.println("jdm daemon: " + e.getMessage());
            }
        }
    }
}
