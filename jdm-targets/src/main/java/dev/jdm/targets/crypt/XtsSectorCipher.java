package dev.jdm.targets.crypt;

import java.util.Arrays;

/**
 * {@code xts} (IEEE 1619, as the kernel's xts template): the key is K1 (data) followed by K2
 * (tweak); the sector's IV encrypted under K2 is the first block's tweak, each next tweak is the
 * previous one multiplied by x in GF(2^128). Each block is {@code E_K1(P xor T) xor T}.
 * <p>
 * Rather than one cipher call per block, a sector goes through flat passes: the tweak sequence, XOR
 * it in, one bulk ECB call (the JDK's vectorised AES intrinsic), XOR it out. A unit that is not a
 * whole number of blocks (never a sector, but part of the standard) ends with ciphertext stealing.
 */
final class XtsSectorCipher implements SectorCipher {
    private static final int B = BlockPrimitive.BLOCK_SIZE;
    /** x^128 = x^7 + x^2 + x + 1: the reduction folded into the low byte when a bit falls off the top. */
    private static final long GF_128_FEEDBACK = 0x87;
    /** Tweaks computed as independent chains, each eight blocks apart. */
    private static final int LANES = 8;
    /** For the byte shifted out of the top by a multiplication with x^8: its carry-less product with 0x87. */
    private static final long[] TIMES_X8_REDUCTION = new long[256];

    static {
        for (int b = 0; b < 256; b++) {
            long r = 0;
            for (int bit = 0; bit < 8; bit++) {
                if ((b >>> bit & 1) != 0) {
                    r ^= GF_128_FEEDBACK << bit;
                }
            }
            TIMES_X8_REDUCTION[b] = r;
        }
    }

    private final BlockPrimitive data;
    private final BlockPrimitive tweak;
    private final byte[] tweaks;
    private final byte[] scratch;
    private final byte[] stolen = new byte[B];

    XtsSectorCipher(BlockPrimitive data, BlockPrimitive tweak, int maxSectorSize) {
        this.data = data;
        this.tweak = tweak;
        this.tweaks = new byte[maxSectorSize + B];
        this.scratch = new byte[maxSectorSize + B];
    }

    @Override
    public void encrypt(byte[] src, int srcOff, byte[] dst, int dstOff, int len, byte[] iv) {
        transform(src, srcOff, dst, dstOff, len, iv, true);
    }

    @Override
    public void decrypt(byte[] buf, int off, int len, byte[] iv) {
        transform(buf, off, buf, off, len, iv, false);
    }

    private void transform(byte[] src, int srcOff, byte[] dst, int dstOff, int len, byte[] iv, boolean encrypting) {
        if (len < B) {
            throw new IllegalArgumentException("XTS needs at least one whole block, got " + len + " bytes");
        }
        int partial = len % B;
        int bulk = partial == 0 ? len : len - partial - B; // stealing handles the last whole block itself
        fillTweaks(iv, len - partial + (partial == 0 ? 0 : B));
        Bytes.xor(src, srcOff, tweaks, 0, scratch, 0, bulk);
        if (encrypting) {
            data.encrypt(scratch, 0, dst, dstOff, bulk);
        } else {
            data.decrypt(scratch, 0, dst, dstOff, bulk);
        }
        Bytes.xor(dst, dstOff, tweaks, 0, dst, dstOff, bulk);
        if (partial != 0) {
            if (src != dst || srcOff != dstOff) {
                System.arraycopy(src, srcOff + bulk, dst, dstOff + bulk, len - bulk);
            }
            stealCiphertext(dst, dstOff + bulk, partial, bulk / B, encrypting);
        }
    }

    /**
     * The last whole block {@code m-1} and the partial block {@code m}: encryption swaps which tweak
     * goes with which block relative to decryption (IEEE 1619 5.3.2 and 5.4.2).
     */
    private void stealCiphertext(byte[] buf, int at, int partial, int m1, boolean encrypting) {
        int first = encrypting ? m1 : m1 + 1;
        int second = encrypting ? m1 + 1 : m1;
        block(buf, at, stolen, 0, first, encrypting);          // CC (or PP)
        System.arraycopy(buf, at + B, buf, at, partial);       // the partial block's bytes move forward ...
        System.arraycopy(stolen, 0, buf, at + B, partial);     // ... and CC's head becomes the new tail
        System.arraycopy(stolen, partial, buf, at + partial, B - partial);
        block(buf, at, buf, at, second, encrypting);
    }

    /** One block through XTS with tweak number {@code j}: {@code out = E(in xor T_j) xor T_j}. */
    private void block(byte[] in, int inOff, byte[] out, int outOff, int j, boolean encrypting) {
        Bytes.xor(in, inOff, tweaks, j * B, scratch, 0, B);
        if (encrypting) {
            data.encrypt(scratch, 0, scratch, B, B);
        } else {
            data.decrypt(scratch, 0, scratch, B, B);
        }
        Bytes.xor(scratch, B, tweaks, j * B, out, outOff, B);
    }

    /**
     * T_0 = E_K2(iv), T_j+1 = T_j * x, for {@code bytes / 16} blocks. Doubling one tweak after the
     * other is a chain of dependent shifts; past the first eight, T_j = T_j-8 * x^8 instead (a shift
     * by a byte and a table lookup for the reduction), which leaves eight independent chains for the
     * CPU to run side by side. The XOR with the data is a separate loop, which the JIT vectorises.
     */
    private void fillTweaks(byte[] iv, int bytes) {
        tweak.encrypt(iv, 0, tweaks, 0, B);
        long lo = Bytes.getLongLE(tweaks, 0);
        long hi = Bytes.getLongLE(tweaks, 8);
        int serial = Math.min(bytes, LANES * B);
        for (int i = B; i < serial; i += B) {
            long carry = hi >> 63; // all ones when bit 127 is set
            hi = (hi << 1) | (lo >>> 63);
            lo = (lo << 1) ^ (carry & GF_128_FEEDBACK);
            Bytes.putLongLE(tweaks, i, lo);
            Bytes.putLongLE(tweaks, i + 8, hi);
        }
        for (int i = serial; i < bytes; i += B) {
            long l = Bytes.getLongLE(tweaks, i - LANES * B);
            long h = Bytes.getLongLE(tweaks, i - LANES * B + 8);
            Bytes.putLongLE(tweaks, i, (l << 8) ^ TIMES_X8_REDUCTION[(int) (h >>> 56)]);
            Bytes.putLongLE(tweaks, i + 8, (h << 8) | (l >>> 56));
        }
    }

    @Override
    public void wipe() {
        data.wipe();
        tweak.wipe();
        Arrays.fill(tweaks, (byte) 0);
        Arrays.fill(scratch, (byte) 0);
        Arrays.fill(stolen, (byte) 0);
    }
}
