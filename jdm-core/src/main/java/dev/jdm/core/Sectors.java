package dev.jdm.core;

/**
 * Tables speak 512-byte sectors, the I/O path speaks bytes, and this is where the engine, the SPI
 * ({@code Args.shiftSectors}, {@code TargetContext.lengthBytes}) and the targets convert between them.
 * On-disk formats that count in sectors inside their own layout (integrity's geometry and journal,
 * LUKS and verity headers) do that arithmetic in their own units, as the kernel's code for them does.
 */
public final class Sectors {
    public static final int SECTOR_SHIFT = 9;
    public static final int SECTOR_SIZE = 1 << SECTOR_SHIFT;
    /** The largest sector count whose byte count fits a long. */
    public static final long MAX_SECTORS = Long.MAX_VALUE >> SECTOR_SHIFT;

    private Sectors() {
    }

    public static long toBytes(long sectors) {
        if (sectors < 0 || sectors > MAX_SECTORS) {
            throw new ArithmeticException("sector count out of range: " + sectors);
        }
        return sectors << SECTOR_SHIFT;
    }

    /** Whole sectors in a byte count (rounds down, as the kernel's size in sectors does). */
    public static long fromBytes(long bytes) {
        return bytes >>> SECTOR_SHIFT;
    }

    public static boolean isAligned(long bytes) {
        return (bytes & (SECTOR_SIZE - 1)) == 0;
    }
}
