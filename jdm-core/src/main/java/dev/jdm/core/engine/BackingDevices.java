package dev.jdm.core.engine;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.io.FileBlockDevice;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Files and block devices held by tables, opened once and shared by every table that names them
 * (the kernel shares one open per dm_dev the same way). Read-write where the file allows it, so a
 * read-only table and a read-write one can share the device; a read-only table never writes because
 * its mapped device refuses writes.
 */
final class BackingDevices {
    private final SharedOpens<Path> open = new SharedOpens<>();
    private final boolean direct;

    BackingDevices(boolean direct) {
        this.direct = direct;
    }

    DeviceResolver.Acquired acquire(Path path, boolean readOnly) throws DmException {
        Path key;
        try {
            key = path.toRealPath();
        } catch (NoSuchFileException e) {
            throw new DmException(Errno.ENXIO, "no such file or device: " + path);
        } catch (IOException e) {
            throw new DmException(Errno.ENXIO, "cannot resolve " + path + ": " + e.getMessage());
        }
        return open.acquire(key, device -> {
            if (device.isReadOnly() && !readOnly) {
                throw new DmException(Errno.EACCES, path + " can only be opened read-only");
            }
            return true;
        }, () -> openDevice(key, readOnly));
    }

    private FileBlockDevice openDevice(Path path, boolean readOnly) throws DmException {
        try {
            return FileBlockDevice.open(path, new FileBlockDevice.Options(false, direct));
        } catch (AccessDeniedException | BlockIoException e) {
            if (!readOnly || (e instanceof BlockIoException b && b.errno() != Errno.EACCES)) {
                throw failure(path, e);
            }
        } catch (IOException e) {
            throw failure(path, e);
        }
        try {
            return FileBlockDevice.open(path, new FileBlockDevice.Options(true, direct));
        } catch (IOException e) {
            throw failure(path, e);
        }
    }

    private static DmException failure(Path path, IOException e) {
        if (e instanceof BlockIoException b) {
            return new DmException(b.errno(), b.getMessage(), e); // already "cannot open PATH: reason"
        }
        Errno errno = e instanceof AccessDeniedException ? Errno.EACCES : Errno.EIO;
        String why = e instanceof AccessDeniedException ? "permission denied" : e.getMessage();
        return new DmException(errno, "cannot open " + path + ": " + why, e);
    }

    int openCount() {
        return open.openCount();
    }
}
