package dev.jdm.targets;

import dev.jdm.core.Sectors;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.Args.Rule;
import dev.jdm.core.spi.TargetContext;
import dev.jdm.core.spi.TargetException;

import java.util.OptionalLong;

/**
 * A {@code <dev> <offset>} pair read in the order of kernel targets that open the device before they
 * parse the offset (switch, unstriped): a line with both wrong names the device.
 */
record PlacedDevice(BlockDevice device, long startSector) {

    /**
     * Opens {@code dev} over [offset, offset + lengthSectors), then refuses an offset that is not a number
     * by {@code rule} with {@code error}. An offset past what a device can have fails the area check, as
     * in the kernel, whose sector_t takes any 64-bit value.
     */
    static PlacedDevice open(TargetContext ctx, Args.Arg dev, Args.Arg offset, Rule rule, String error, long lengthSectors)
            throws TargetException {
        OptionalLong parsed = rule.parse(offset.text());
        long start = parsed.isEmpty() ? 0 : Long.compareUnsigned(parsed.getAsLong(), Sectors.MAX_SECTORS) > 0
                ? Sectors.MAX_SECTORS : parsed.getAsLong();
        BlockDevice device = ctx.device(dev, start, parsed.isPresent() ? lengthSectors : 0);
        if (parsed.isEmpty()) {
            throw offset.error(error);
        }
        return new PlacedDevice(device, start);
    }
}
