package dev.jdm.targets.lib;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * Objects several tables hold at once, counted, found again by what they are built on: the shape of dm-thin's
 * pool table (__pool_find: by pool device or metadata device, created on first use, destroyed by the last
 * user) and of dm-snap's origin hash (snapshots found by their origin device). Keep one per engine, through
 * {@code TargetContext.shared}, never in a static: two engines in one JVM must not see each other's objects.
 *
 * <p>Every method holds the registry's lock, and {@link #locked} holds it across several, so a caller can
 * look for an entry, check it and take or create it as one step.
 *
 * @param <V> the shared object; entries are compared by identity
 */
public final class SharedRegistry<V> {
    private final List<Entry<V>> entries = new ArrayList<>();
    private final Consumer<? super V> destroy;

    private static final class Entry<V> {
        final V value;
        int users = 1;

        Entry(V value) {
            this.value = value;
        }
    }

    /** {@code destroy} runs when the last user lets go of an object, under the registry's lock. */
    public SharedRegistry(Consumer<? super V> destroy) {
        this.destroy = destroy;
    }

    @FunctionalInterface
    public interface Opener<V, E extends Exception> {
        V open() throws E;
    }

    /** A step run under the registry's lock. */
    @FunctionalInterface
    public interface Step<T, E extends Exception> {
        T run() throws E;
    }

    /** Runs {@code step} under the registry's lock (it may call the other methods). */
    public synchronized <T, E extends Exception> T locked(Step<T, E> step) throws E {
        return step.run();
    }

    /** The first object that matches, without taking it; null if none. */
    public synchronized V find(Predicate<? super V> match) {
        Entry<V> e = entry(match);
        return e == null ? null : e.value;
    }

    /** The first object that matches, held until {@link #release}; null if none. */
    public synchronized V acquire(Predicate<? super V> match) {
        Entry<V> e = entry(match);
        if (e == null) {
            return null;
        }
        e.users++;
        return e.value;
    }

    /** The first object that matches, held, or a new one {@code open} makes (held once; a failed open adds nothing). */
    public synchronized <E extends Exception> V acquire(Predicate<? super V> match, Opener<? extends V, E> open) throws E {
        V found = acquire(match);
        if (found != null) {
            return found;
        }
        V created = open.open();
        entries.add(new Entry<>(created));
        return created;
    }

    /** Lets go of an object; the last user's release destroys it and forgets it. */
    public synchronized void release(V value) {
        for (int i = 0; i < entries.size(); i++) {
            Entry<V> e = entries.get(i);
            if (e.value == value) {
                if (--e.users == 0) {
                    entries.remove(i);
                    destroy.accept(value);
                }
                return;
            }
        }
        throw new IllegalStateException("released an object the registry does not hold: " + value);
    }

    /** How many users hold the object (0 when the registry does not know it). */
    public synchronized int users(V value) {
        Entry<V> e = entry(v -> v == value);
        return e == null ? 0 : e.users;
    }

    private Entry<V> entry(Predicate<? super V> match) {
        for (Entry<V> e : entries) {
            if (match.test(e.value)) {
                return e;
            }
        }
        return null;
    }
}
