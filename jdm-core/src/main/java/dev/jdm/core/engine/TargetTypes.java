package dev.jdm.core.engine;

import dev.jdm.core.spi.TargetType;

import java.util.Collection;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/** The registered target types: everything {@link ServiceLoader} finds, plus any registered by hand. */
public final class TargetTypes {
    private final Map<String, TargetType> types = new ConcurrentHashMap<>();

    public static TargetTypes discover() {
        return discover(TargetTypes.class.getClassLoader());
    }

    public static TargetTypes discover(ClassLoader loader) {
        TargetTypes t = new TargetTypes();
        for (TargetType type : ServiceLoader.load(TargetType.class, loader)) {
            t.register(type);
        }
        return t;
    }

    public void register(TargetType type) {
        types.put(type.name(), type);
    }

    public Optional<TargetType> find(String name) {
        return Optional.ofNullable(types.get(name));
    }

    /** Sorted by name, as {@code dmsetup targets} lists them. */
    public Collection<TargetType> all() {
        return new TreeMap<>(types).values();
    }
}
