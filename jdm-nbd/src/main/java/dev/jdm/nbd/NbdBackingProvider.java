package dev.jdm.nbd;

import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.spi.BackingProvider;

import java.io.IOException;

/** Lets tables name remote exports as backing devices: {@code 0 2048 linear nbd+unix:///disk?socket=/run/s 0}. */
public final class NbdBackingProvider implements BackingProvider {

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
        return NbdClient.open(uri, readOnly);
    }
}
