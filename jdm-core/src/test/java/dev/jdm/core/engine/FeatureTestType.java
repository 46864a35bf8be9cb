package dev.jdm.core.engine;

import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.Target;
import dev.jdm.core.spi.TargetContext;
import dev.jdm.core.spi.TargetType;

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
        return new TestTargets.Fixed(false);
    }
}
