package dev.jdm.core;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.SocketException;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BlockIoExceptionTest {

    @Test
    void lostConnectionsTimeoutsAndPlainEioArePathErrors() {
        assertTrue(BlockIoException.isPathError(new BlockIoException(Errno.EIO, "x")));
        assertTrue(BlockIoException.isPathError(new BlockIoException(Errno.ETIMEDOUT, "x")));
        assertTrue(BlockIoException.isPathError(new BlockIoException(Errno.ENXIO, "x")));
        assertTrue(BlockIoException.isPathError(new SocketException("Connection reset")));
        assertTrue(BlockIoException.isPathError(new IOException("anything from the OS")));
    }

    @Test
    void errorsOfTheRequestOrTheStorageAreTheSameOnEveryPath() {
        for (Errno e : new Errno[]{Errno.EOPNOTSUPP, Errno.ENOSPC, Errno.ENODATA, Errno.EILSEQ, Errno.EROFS, Errno.EINVAL, Errno.EOVERFLOW}) {
            assertFalse(BlockIoException.isPathError(new BlockIoException(e, "x")), e.name());
        }
    }
}
