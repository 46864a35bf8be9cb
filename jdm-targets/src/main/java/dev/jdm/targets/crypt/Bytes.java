package dev.jdm.targets.crypt;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.HexFormat;

/** Little-endian word access and XOR over byte arrays, eight bytes at a time. */
final class Bytes {
    static final VarHandle LE_LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    static final VarHandle BE_LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);
    static final VarHandle LE_INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

    private Bytes() {
    }

    static long getLongLE(byte[] b, int off) {
        return (long) LE_LONG.get(b, off);
    }

    static void putLongLE(byte[] b, int off, long v) {
        LE_LONG.set(b, off, v);
    }

    static void putLongBE(byte[] b, int off, long v) {
        BE_LONG.set(b, off, v);
    }

    static void putIntLE(byte[] b, int off, int v) {
        LE_INT.set(b, off, v);
    }

    /** {@code dst = a ^ b} over {@code len} bytes, a multiple of 8. */
    static void xor(byte[] a, int aOff, byte[] b, int bOff, byte[] dst, int dstOff, int len) {
        for (int i = 0; i < len; i += 8) {
            LE_LONG.set(dst, dstOff + i, (long) LE_LONG.get(a, aOff + i) ^ (long) LE_LONG.get(b, bOff + i));
        }
    }

    /**
     * Decodes a hex key into {@code dst}; returns false for a character that is not hex. Checks
     * characters without building a String of the key, so no copy of it is left behind.
     */
    static boolean decodeHex(CharSequence hex, byte[] dst) {
        for (int i = 0; i < dst.length; i++) {
            int hi = hexValue(hex.charAt(2 * i));
            int lo = hexValue(hex.charAt(2 * i + 1));
            if (hi < 0 || lo < 0) {
                return false;
            }
            dst[i] = (byte) (hi << 4 | lo);
        }
        return true;
    }

    /** ASCII hex only, as the kernel's hex2bin (Character.digit would take other scripts' digits). */
    private static int hexValue(char c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        return -1;
    }

    static String hex(byte[] b) {
        return HexFormat.of().formatHex(b);
    }
}
