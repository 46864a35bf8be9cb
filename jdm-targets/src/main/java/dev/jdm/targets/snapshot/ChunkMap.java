package dev.jdm.targets.snapshot;

import java.util.concurrent.locks.StampedLock;

/**
 * A snapshot's completed exceptions, origin chunk -> COW chunk (the kernel's {@code complete} exception table),
 * as open addressing over two {@code long} arrays: no boxing and no node per entry. A slot is 16 bytes and the
 * table doubles when it is three quarters full, so an exception costs between 21 and 43 bytes (32 on average);
 * a COW of N chunks never holds more than N exceptions, which bounds the memory.
 *
 * <p>Lookups are lock-free (an optimistic read of a {@link StampedLock}, retried if a writer came in between);
 * inserts and removals take the lock exclusively. Chunk numbers are never negative, so -1 marks an empty slot.
 */
final class ChunkMap {
    private static final long EMPTY = -1;
    private static final int MIN_CAPACITY = 64;

    /** Keys and values swap together on a resize, so a reader always probes one consistent pair. */
    private record Slots(long[] keys, long[] values) {
        static Slots of(int capacity) {
            long[] keys = new long[capacity];
            java.util.Arrays.fill(keys, EMPTY);
            return new Slots(keys, new long[capacity]);
        }
    }

    private final StampedLock lock = new StampedLock();
    private volatile Slots slots = Slots.of(MIN_CAPACITY);
    private int size; // guarded by lock (write)

    /** The COW chunk of {@code oldChunk}, or -1 when the chunk has no exception. */
    long get(long oldChunk) {
        long stamp = lock.tryOptimisticRead();
        long found = probe(slots, oldChunk);
        if (lock.validate(stamp)) {
            return found;
        }
        stamp = lock.readLock();
        try {
            return probe(slots, oldChunk);
        } finally {
            lock.unlockRead(stamp);
        }
    }

    boolean contains(long oldChunk) {
        return get(oldChunk) >= 0;
    }

    /**
     * Adds an exception; refuses (returns the COW chunk already there) when {@code oldChunk} has one, leaving the
     * map as it was. Returns -1 when added.
     */
    long putIfAbsent(long oldChunk, long newChunk) {
        if (oldChunk < 0 || newChunk < 0) {
            throw new IllegalArgumentException("chunk numbers cannot be negative: " + oldChunk + " -> " + newChunk);
        }
        long stamp = lock.writeLock();
        try {
            Slots s = slots;
            int mask = s.keys.length - 1;
            for (int i = slot(oldChunk, mask); ; i = (i + 1) & mask) {
                if (s.keys[i] == oldChunk) {
                    return s.values[i];
                }
                if (s.keys[i] == EMPTY) {
                    break;
                }
            }
            if ((size + 1) * 4L > s.keys.length * 3L) {
                s = grow(s);
            }
            insert(s, oldChunk, newChunk);
            size++;
            slots = s;
            return EMPTY;
        } finally {
            lock.unlockWrite(stamp);
        }
    }

    /** Forgets the exception of {@code oldChunk} (merged back into the origin); false if there was none. */
    boolean remove(long oldChunk) {
        long stamp = lock.writeLock();
        try {
            // In place: an optimistic reader that sees a half-shifted run fails validation and reads again locked.
            Slots s = slots;
            int mask = s.keys.length - 1;
            int i = slot(oldChunk, mask);
            while (s.keys[i] != oldChunk) {
                if (s.keys[i] == EMPTY) {
                    return false;
                }
                i = (i + 1) & mask;
            }
            // Backward shift: pull later members of the probe run into the hole so lookups never stop early.
            int hole = i;
            for (int j = (hole + 1) & mask; s.keys[j] != EMPTY; j = (j + 1) & mask) {
                int home = slot(s.keys[j], mask);
                boolean movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
                if (movable) {
                    s.keys[hole] = s.keys[j];
                    s.values[hole] = s.values[j];
                    hole = j;
                }
            }
            s.keys[hole] = EMPTY;
            size--;
            return true;
        } finally {
            lock.unlockWrite(stamp);
        }
    }

    int size() {
        long stamp = lock.readLock();
        try {
            return size;
        } finally {
            lock.unlockRead(stamp);
        }
    }

    private static long probe(Slots s, long oldChunk) {
        long[] keys = s.keys;
        int mask = keys.length - 1;
        for (int i = slot(oldChunk, mask); ; i = (i + 1) & mask) {
            long k = keys[i];
            if (k == oldChunk) {
                return s.values[i];
            }
            if (k == EMPTY) {
                return EMPTY;
            }
        }
    }

    private static Slots grow(Slots old) {
        Slots s = Slots.of(old.keys.length * 2);
        for (int i = 0; i < old.keys.length; i++) {
            if (old.keys[i] != EMPTY) {
                insert(s, old.keys[i], old.values[i]);
            }
        }
        return s;
    }

    private static void insert(Slots s, long key, long value) {
        int mask = s.keys.length - 1;
        int i = slot(key, mask);
        while (s.keys[i] != EMPTY) {
            i = (i + 1) & mask;
        }
        s.values[i] = value;
        s.keys[i] = key;
    }

    private static int slot(long key, int mask) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 32)) & mask;
    }
}
