package dev.jdm.core.spi;

import java.util.Set;

/**
 * One kind of target (the kernel's {@code struct target_type}): a name, a version, and a constructor
 * that turns a table line's arguments into a {@link Target}. Implementations are found with
 * {@link java.util.ServiceLoader}, so adding a target never touches the engine.
 */
public interface TargetType {

    String name();

    Version version();

    /**
     * Builds a target from its table arguments (everything after the type name). Errors name the
     * argument: throw {@link TargetException} through {@link Args}, which the table parser prefixes
     * with the line number and target name.
     */
    Target construct(TargetContext context, Args args) throws TargetException;

    default Set<Feature> features() {
        return Set.of();
    }

    /** Properties the table checks before a table is accepted. */
    enum Feature {
        /** Must be the only target in its table (verity, integrity, multipath). */
        SINGLETON,
        /** Cannot be mixed with other types, and a live table of it is only replaced by the same type or a wildcard. */
        IMMUTABLE,
        /** May replace an immutable table (error). */
        WILDCARD,
        /** Needs writes even in read-only tables, so read-only tables refuse it. */
        ALWAYS_WRITEABLE
    }

    record Version(int major, int minor, int patch) {
        @Override
        public String toString() {
            return "v" + major + "." + minor + "." + patch;
        }
    }
}
