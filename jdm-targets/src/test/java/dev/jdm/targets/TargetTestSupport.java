package dev.jdm.targets;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.TargetLine;
import org.junit.jupiter.api.function.Executable;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Small helpers the per-target tests share. */
final class TargetTestSupport {
    private TargetTestSupport() {
    }

    static List<String> table(DeviceMapper dm, String name) throws DmException {
        return dm.table(name, false).stream().map(TargetLine::format).toList();
    }

    static List<String> status(DeviceMapper dm, String name) throws DmException {
        return dm.status(name, false).stream().map(TargetLine::format).toList();
    }


    static void assertIoError(Errno errno, Executable io) {
        assertEquals(errno, assertThrows(BlockIoException.class, io).errno());
    }

    static ByteBuffer bytes(int length) {
        return ByteBuffer.allocate(length);
    }
}
