package dev.jdm.core.spi;

import dev.jdm.core.io.BlockDevice;

import java.io.IOException;

/**
 * Opens backing devices named by something other than a path or {@code major:minor}, such as
 * {@code nbd://host/export}. Found with {@link java.util.ServiceLoader}.
 */
public interface BackingProvider {

    /** Whether this provider understands the table argument. */
    boolean accepts(String spec);

    BlockDevice open(String spec, boolean readOnly) throws IOException;
}
