package dev.jdm.nbd;

import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.spi.BackingProvider;

import java.io.IOException;
import java.util.Objects;

/** Lets tables name remote exports as backing devices: {@code 0 2048 linear nbd+unix:///disk?socket=/run/s 0}. */
public final class NbdBackingProvider implements BackingProvider {
    /** Process-wide, as the kernel nbd module's parameters: the daemon sets it from {@code --nbd-timeout}. */
    private static volatile NbdClient.Options defaultOptions = NbdClient.Options.defaults();

    /** The options of every client a table opens from now on (those already open keep theirs). */
    public static void defaultOptions(NbdClient.Options options) {
        defaultOptions = Objects.requireNonNull(options);
    }

    public static NbdClient.Options defaultOptions() {
        return defaultOptions;
    }

    @Override
    public boolean accepts(String spec) {
        return NbdUri.looksLikeNbd(spec);
    }

    @Override
    public BlockDevice open(String spec, boolean readOnly) throws IOException {
        NbdUri uri;
        try {
            uri = NbdUri.parse(spec);
        } catch (IllegalArgumentException e) {
            throw new IOException(e.getMessage(), e);
        }
        return NbdClient.open(uri, readOnly, defaultOptions);
    }
}
