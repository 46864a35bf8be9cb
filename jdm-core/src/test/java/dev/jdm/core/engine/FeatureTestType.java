package dev.jdm.core.engine;

import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.Target;
import dev.jdm.core.spi.TargetContext;
import dev.jdm.core.spi.TargetType;

import java.nio.ByteBuffer;
import java.util.Set;

/**
 * A target type with chosen properties (singleton, immutable, always-writeable) and no behaviour, so
 * the table's property checks can be tested without the targets that really have them.
 */
record FeatureTestType(String name, Set<Feature> features) implements TargetType {

    @Override
    public Version version() {
        return new Version(0, 0, 1);
    }

    @Override
    public Target construct(TargetContext context, Args args) {
        return new Target() {
            @Override
            public void read(long offset, ByteBuffer dst) {
                dst.position(dst.limit());
            }

            @Override
            public void write(long offset, ByteBuffer src, boolean fua) {
                src.position(src.limit());
            }

            @Override
            public void flush() {
            }

            @Override
            public void discard(long offset, long length) {
            }

            @Override
            public void writeZeroes(long offset, long length, boolean mayUnmap) {
            }

            @Override
            public String table() {
                return "";
            }
        };
    }
}
