package dev.jdm.formats.luks;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Where a LUKS volume lives: the data device and, with a detached header ({@code --header}), the
 * separate header device or file. Without one the header sits at the start of the data device.
 */
public record LuksDevice(Path data, Path detachedHeader) {

    public LuksDevice {
        Objects.requireNonNull(data, "data device");
    }

    public static LuksDevice of(Path device) {
        return new LuksDevice(device, null);
    }

    public static LuksDevice detached(Path data, Path header) {
        return new LuksDevice(data, Objects.requireNonNull(header, "header"));
    }

    public Path header() {
        return detachedHeader != null ? detachedHeader : data;
    }

    public boolean isDetached() {
        return detachedHeader != null;
    }
}
