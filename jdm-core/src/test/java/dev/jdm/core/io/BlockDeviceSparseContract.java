package dev.jdm.core.io;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static dev.jdm.core.testing.Extents.data;
import static dev.jdm.core.testing.Extents.hole;
import static dev.jdm.core.testing.Extents.of;
import static dev.jdm.core.testing.TestPattern.assertSameBytes;
import static dev.jdm.core.testing.TestPattern.pattern;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The sparse half, on top of the data half: a fresh device is one hole, discard and zeroing with unmap
 * of whole 64 KiB blocks leave holes that read as zeroes, and {@link BlockDevice#allocation} reports
 * the written layout exactly (NBD block status). Only devices that promise holes run it.
 */
public abstract class BlockDeviceSparseContract extends BlockDeviceDataContract {

    @Test
    void freshDeviceIsOneHole() throws Exception {
        assertEquals(List.of(hole(SIZE)), of(device, 0, SIZE));
    }

    @Test
    void discardPunchesAHole() throws Exception {
        byte[] content = pattern(256 * KIB, 9);
        write(0, content);
        device.discard(64 * KIB, 128 * KIB);
        assertEquals(List.of(data(64 * KIB), hole(128 * KIB), data(64 * KIB), hole(SIZE - 256 * KIB)), of(device, 0, SIZE));
        assertSameBytes(new byte[128 * KIB], read(64 * KIB, 128 * KIB), 64 * KIB, "discarded");
        assertSameBytes(Arrays.copyOfRange(content, 192 * KIB, 256 * KIB), read(192 * KIB, 64 * KIB), 192 * KIB, "kept");
    }

    @Test
    void writeZeroesWithUnmapOfWholeBlocksLeavesAHole() throws Exception {
        write(0, pattern(256 * KIB, 11));
        device.writeZeroes(128 * KIB, 64 * KIB, true);
        assertEquals(List.of(data(128 * KIB), hole(64 * KIB), data(64 * KIB), hole(SIZE - 256 * KIB)), of(device, 0, SIZE));
    }

    @Test
    void allocationMatchesTheWrittenLayoutExactly() throws Exception {
        write(64 * KIB, pattern(4 * KIB, 12));
        write(1024 * KIB, pattern(8 * KIB, 13));
        write(SIZE - 4 * KIB, pattern(4 * KIB, 14));
        assertEquals(List.of(hole(64 * KIB), data(4 * KIB), hole(1024 * KIB - 68 * KIB), data(8 * KIB),
                hole(SIZE - 1032 * KIB - 4 * KIB), data(4 * KIB)), of(device, 0, SIZE));
        // A window starting and ending inside extents is clipped to the window.
        assertEquals(List.of(hole(2 * KIB), data(4 * KIB), hole(KIB)), of(device, 62 * KIB, 7 * KIB));
    }
}
