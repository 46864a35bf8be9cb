package dev.jdm.core.spi;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * Objects the tables of one engine share, one per class (what the kernel keeps in a module's globals: dm-thin's
 * pool table, dm-snap's origin hash). Each {@code DeviceMapper} owns one, so two engines in a JVM never see each
 * other's pools or origins; targets reach it through {@link TargetContext#shared}. The objects live as long as
 * the engine: what they hold (open pools, registered snapshots) is counted and let go by the tables themselves.
 */
public final class SharedObjects {
    private final Map<Class<?>, Object> byType = new ConcurrentHashMap<>();

    /** The engine's object of this type, made by {@code create} on the first request. */
    public <T> T get(Class<T> type, Supplier<? extends T> create) {
        return type.cast(byType.computeIfAbsent(type, t -> create.get()));
    }
}
