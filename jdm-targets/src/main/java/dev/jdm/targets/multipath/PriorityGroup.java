package dev.jdm.targets.multipath;

import dev.jdm.core.io.BlockDevice;

import java.util.ArrayList;
import java.util.List;

/** A priority group: paths to the same storage and the selector that spreads I/O over them (numbered from 1). */
final class PriorityGroup {
    final int number;
    final PathSelectorType type;
    final PathSelector selector;
    final List<Path> paths = new ArrayList<>();
    /** Tried only after every group not bypassed (disable_group); guarded by the target's lock. */
    boolean bypassed;

    PriorityGroup(int number, PathSelectorType type, PathSelector selector) {
        this.number = number;
        this.type = type;
        this.selector = selector;
    }

    /** One path: a device and its state; {@code index} is its number in the selector. */
    static final class Path {
        final PriorityGroup group;
        final int index;
        final BlockDevice device;
        /** The device as the table line gave it, which messages may name it by. */
        final String spec;
        /** Guarded by the target's lock. */
        boolean active = true;
        int failCount;

        Path(PriorityGroup group, int index, BlockDevice device, String spec) {
            this.group = group;
            this.index = index;
            this.device = device;
            this.spec = spec;
        }

        /** As a table prints it: major:minor, or a file's path. */
        String id() {
            return device.id();
        }

        boolean isNamed(String name) {
            return id().equals(name) || spec.equals(name);
        }
    }
}
