package dev.jdm.core.testing;

import java.util.HexFormat;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Deterministic test bytes and the check that compares them. {@link #pattern} is a seeded buffer;
 * {@link #at} is a pattern that depends on the device offset as well, so any slice of it can be
 * recomputed without keeping the whole. {@link #assertSameBytes} names the first byte that differs,
 * which a failing {@code assertArrayEquals} over megabytes does not make easy to read.
 */
public final class TestPattern {
    private TestPattern() {
    }

    /** {@code length} bytes from a generator seeded with {@code seed}: equal seeds, equal bytes. */
    public static byte[] pattern(int length, long seed) {
        byte[] b = new byte[length];
        new SplittableRandom(seed).nextBytes(b);
        return b;
    }

    /**
     * The bytes at {@code [offset, offset + length)} of an endless pattern for {@code seed}: each 8-byte
     * word is a hash of its index and the seed, so {@code at(o, n, s)} is a slice of {@code at(0, o + n, s)}.
     */
    public static byte[] at(long offset, int length, long seed) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            long position = offset + i;
            b[i] = (byte) (word(position >>> 3, seed) >>> ((position & 7) << 3));
        }
        return b;
    }

    /** SplitMix64's finaliser over the word index and the seed. */
    private static long word(long index, long seed) {
        long z = index * 0x9E3779B97F4A7C15L + seed * 0xD1B54A32D192ED03L + 0x632BE59BD9B4E019L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Fails unless the arrays are equal, naming the first differing byte as a device offset from {@code base}. */
    public static void assertSameBytes(byte[] expected, byte[] actual, long base, String what) {
        int common = Math.min(expected.length, actual.length);
        for (int i = 0; i < common; i++) {
            if (expected[i] != actual[i]) {
                fail(what + ": first difference at byte " + i + " (offset " + (base + i) + "): expected 0x"
                        + HexFormat.of().toHexDigits(expected[i]) + ", got 0x" + HexFormat.of().toHexDigits(actual[i])
                        + around(expected, actual, i));
            }
        }
        if (expected.length != actual.length) {
            fail(what + ": expected " + expected.length + " bytes, got " + actual.length);
        }
    }

    public static void assertSameBytes(byte[] expected, byte[] actual, String what) {
        assertSameBytes(expected, actual, 0, what);
    }

    /** Up to 16 bytes of each from the difference on, so a shifted or zeroed run shows as such. */
    private static String around(byte[] expected, byte[] actual, int from) {
        HexFormat hex = HexFormat.of();
        return " (expected " + hex.formatHex(expected, from, Math.min(expected.length, from + 16)) + "..., got "
                + hex.formatHex(actual, from, Math.min(actual.length, from + 16)) + "...)";
    }
}
