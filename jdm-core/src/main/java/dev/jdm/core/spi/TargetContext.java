package dev.jdm.core.spi;

import dev.jdm.core.Sectors;
import dev.jdm.core.io.BlockDevice;

import java.util.function.Supplier;

/** What a target constructor may ask of the table being built (the kernel's {@code dm_target} plus helpers). */
public interface TargetContext {

    /** First sector of this target in the mapped device. */
    long begin();

    /** Length of this target in sectors. */
    long length();

    default long lengthBytes() {
        return Sectors.toBytes(length());
    }

    /** Whether the table is loaded read-only (devices are opened read-only then). */
    boolean readOnly();

    /**
     * Opens the device an argument names ({@code dm_get_device}): its text is a path, a
     * {@code major:minor}, {@code /dev/mapper/NAME} or a URI a backing provider knows (for an option
     * such as integrity's {@code meta_device:PATH}, an {@link Args.Arg} made with the value). Checks the
     * area [startSector, startSector+lengthSectors) lies inside it; errors name the argument. The table
     * releases the device when it is destroyed.
     */
    BlockDevice device(Args.Arg arg, long startSector, long lengthSectors) throws TargetException;

    /** {@link #device(Args.Arg, long, long)} for argument {@code index} of the line. */
    default BlockDevice device(Args args, int index, long startSector, long lengthSectors) throws TargetException {
        if (index >= args.count()) {
            throw args.error(index, "device missing");
        }
        return device(new Args.Arg(args, index, args.get(index)), startSector, lengthSectors);
    }

    /** Raises a device-mapper event on the mapped device (what {@code dmsetup wait} wakes on). */
    void raiseEvent();

    /** The mapped device's name, for messages. */
    String deviceName();

    /**
     * The mapped device this table is built for (the kernel's {@code dm_table_get_md}): a key under
     * which a target can publish state that tables of other devices find again through
     * {@link #device}, which hands them the same object (thin finds its thin-pool this way).
     */
    default BlockDevice mappedDevice() {
        throw new UnsupportedOperationException("this context is not bound to a mapped device");
    }

    /**
     * The engine's shared object of this type, made by {@code create} on the first request (see
     * {@link SharedObjects}): where a target keeps what tables of other devices must find, like thin's pools.
     */
    default <T> T shared(Class<T> type, Supplier<? extends T> create) {
        throw new UnsupportedOperationException("this context is not bound to an engine");
    }
}
