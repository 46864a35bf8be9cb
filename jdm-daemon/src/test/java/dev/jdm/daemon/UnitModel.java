package dev.jdm.daemon;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * What one device may read back, 4 KiB unit by unit: the last value known durable (answered with FUA, or
 * followed by an answered FLUSH) and the values written since, which a crash may or may not have kept, one
 * whole unit at a time. A live read must show the last value written.
 */
final class UnitModel {
    static final int UNIT = 4096;

    /** The last value known durable (null: never written, zeroes). */
    private final byte[][] durable;
    /** Values written since, oldest first (the last is what a live read shows). */
    private final List<List<byte[]>> pending = new ArrayList<>();

    UnitModel(int units) {
        durable = new byte[units][];
        for (int i = 0; i < units; i++) {
            pending.add(new ArrayList<>());
        }
    }

    int units() {
        return durable.length;
    }

    /** A point-in-time copy of what is durable now (a snapshot of a flushed device). */
    UnitModel copy() {
        UnitModel m = new UnitModel(units());
        System.arraycopy(durable, 0, m.durable, 0, units());
        return m;
    }

    byte[] latest(int unit) {
        List<byte[]> p = pending.get(unit);
        byte[] v = p.isEmpty() ? durable[unit] : p.getLast();
        return v == null ? new byte[UNIT] : v;
    }

    /** Whole units from {@code first}, sent (a crash may keep them or not, unit by unit). */
    void wrote(int first, byte[] bytes) {
        for (int u = 0; u < bytes.length / UNIT; u++) {
            pending.get(first + u).add(Arrays.copyOfRange(bytes, u * UNIT, (u + 1) * UNIT));
        }
    }

    /** The last writes of {@code count} units from {@code first} were answered with FUA: they are durable. */
    void durable(int first, int count) {
        for (int u = first; u < first + count; u++) {
            settle(u, pending.get(u).getLast());
        }
    }

    void settle(int unit, byte[] value) {
        durable[unit] = value;
        pending.get(unit).clear();
    }

    /** An answered FLUSH: every answered write is durable. */
    void flushed() {
        for (int u = 0; u < units(); u++) {
            if (!pending.get(u).isEmpty()) {
                settle(u, pending.get(u).getLast());
            }
        }
    }

    /** A live read of units from {@code first}: each must be the last value written. */
    void checkLive(int first, byte[] got, String what) {
        for (int u = 0; u < got.length / UNIT; u++) {
            if (!Arrays.equals(latest(first + u), 0, UNIT, got, u * UNIT, (u + 1) * UNIT)) {
                fail(what + ", 4 KiB unit " + (first + u) + ": not the last value written (starts "
                        + Arrays.toString(Arrays.copyOfRange(got, u * UNIT, u * UNIT + 8)) + ")");
            }
        }
    }

    /**
     * The whole device read after a crash: each unit must be its durable value or one written since; what it
     * holds is durable from now on.
     */
    void checkAfterCrash(byte[] all, String what) {
        for (int u = 0; u < units(); u++) {
            byte[] got = Arrays.copyOfRange(all, u * UNIT, (u + 1) * UNIT);
            boolean allowed = Arrays.equals(got, durable[u] == null ? new byte[UNIT] : durable[u]);
            for (byte[] p : pending.get(u)) {
                allowed |= Arrays.equals(got, p);
            }
            if (!allowed) {
                fail(what + ", 4 KiB unit " + u + ": neither the durable value nor one of " + pending.get(u).size()
                        + " later writes (starts " + Arrays.toString(Arrays.copyOf(got, 8)) + ")");
            }
            settle(u, got);
        }
    }
}
