package dev.jdm.targets.verity;

import java.util.Arrays;

/**
 * The RS(255, 255 - roots) code over GF(2^8) that dm-verity FEC uses (field polynomial
 * x^8+x^4+x^3+x^2+1, generator roots α^0 … α^(roots-1), as the kernel's {@code init_rs(8, 0x11d, 0, 1,
 * roots)}). A codeword is 255 bytes: data first, highest power first, then the parity bytes.
 * Instances are immutable and safe to share.
 */
public final class ReedSolomon {
    public static final int N = 255;
    private static final int FIELD_POLY = 0x11d;

    private static final int[] EXP = new int[2 * N];
    private static final int[] LOG = new int[N + 1];

    static {
        int x = 1;
        for (int i = 0; i < N; i++) {
            EXP[i] = x;
            LOG[x] = i;
            x <<= 1;
            if ((x & 0x100) != 0) {
                x ^= FIELD_POLY;
            }
        }
        for (int i = N; i < 2 * N; i++) {
            EXP[i] = EXP[i - N];
        }
    }

    private final int roots;
    private final int dataLength;
    /** Generator coefficients g[0..roots], g[roots] = 1 (monic), g[i] the coefficient of x^i. */
    private final int[] generator;
    /** feedbackProduct[j][f] = f · g[roots-1-j]: the encoder's inner step as one lookup. */
    private final byte[][] feedbackProduct;

    public ReedSolomon(int roots) {
        if (roots < 2 || roots > 24) {
            throw new IllegalArgumentException("roots must be 2..24, got " + roots);
        }
        this.roots = roots;
        this.dataLength = N - roots;
        int[] g = new int[roots + 1];
        g[0] = 1;
        for (int i = 0; i < roots; i++) {
            // multiply g by (x + α^i)
            int a = EXP[i];
            for (int j = i + 1; j > 0; j--) {
                g[j] = g[j - 1] ^ mul(g[j], a);
            }
            g[0] = mul(g[0], a);
        }
        this.generator = g;
        this.feedbackProduct = new byte[roots][256];
        for (int j = 0; j < roots; j++) {
            for (int f = 0; f < 256; f++) {
                feedbackProduct[j][f] = (byte) mul(f, g[roots - 1 - j]);
            }
        }
    }

    public int roots() {
        return roots;
    }

    /** Data bytes per codeword (the kernel's {@code rsn}). */
    public int dataLength() {
        return dataLength;
    }

    static int mul(int a, int b) {
        return a == 0 || b == 0 ? 0 : EXP[LOG[a] + LOG[b]];
    }

    private static int div(int a, int b) {
        return a == 0 ? 0 : EXP[LOG[a] + N - LOG[b]];
    }

    /**
     * Computes the parity of many codewords at once, one per byte column: codeword {@code b} has data
     * bytes {@code data[i][offset + b]} for i in [0, dataLength) and gets its parity in
     * {@code parity[b * roots .. + roots)}. Column-wise so the inner loop runs over contiguous bytes.
     */
    public void encodeColumns(byte[][] data, int offset, int columns, byte[] parity) {
        byte[][] rem = new byte[roots][columns];
        byte[] feedback = new byte[columns];
        for (int i = 0; i < dataLength; i++) {
            byte[] row = data[i];
            byte[] first = rem[0];
            for (int b = 0; b < columns; b++) {
                feedback[b] = (byte) (row[offset + b] ^ first[b]);
            }
            for (int j = 0; j < roots - 1; j++) {
                byte[] dst = rem[j];
                byte[] next = rem[j + 1];
                byte[] table = feedbackProduct[j];
                for (int b = 0; b < columns; b++) {
                    dst[b] = (byte) (next[b] ^ table[feedback[b] & 0xff]);
                }
            }
            byte[] last = rem[roots - 1];
            byte[] table = feedbackProduct[roots - 1];
            for (int b = 0; b < columns; b++) {
                last[b] = table[feedback[b] & 0xff];
            }
        }
        for (int b = 0; b < columns; b++) {
            for (int j = 0; j < roots; j++) {
                parity[b * roots + j] = rem[j][b];
            }
        }
    }

    /** Parity of one codeword whose data bytes are {@code data[0..dataLength)}. */
    public byte[] encode(byte[] data) {
        byte[][] rows = new byte[dataLength][];
        for (int i = 0; i < dataLength; i++) {
            rows[i] = new byte[]{data[i]};
        }
        byte[] parity = new byte[roots];
        encodeColumns(rows, 0, 1, parity);
        return parity;
    }

    /**
     * Corrects a 255-byte codeword in place. {@code erasures} lists positions known to be bad (they
     * count half as much as unknown errors: 2·errors + erasures ≤ roots).
     *
     * @return the number of bytes corrected, or -1 when the damage is beyond the code
     */
    public int decode(byte[] codeword, int[] erasures, int erasureCount) {
        int[] syndromes = new int[roots];
        boolean clean = true;
        for (int j = 0; j < roots; j++) {
            int s = 0;
            for (int i = 0; i < N; i++) {
                // Horner's rule at α^j; position i carries power N-1-i
                s = mul(s, EXP[j]) ^ (codeword[i] & 0xff);
            }
            syndromes[j] = s;
            clean &= s == 0;
        }
        if (clean) {
            return 0;
        }
        if (erasureCount > roots) {
            return -1;
        }
        // Error locator Λ(x), seeded with the erasure locator Π(1 + X_k x)
        int[] lambda = new int[roots + 1];
        lambda[0] = 1;
        for (int k = 0; k < erasureCount; k++) {
            int x = EXP[N - 1 - erasures[k]];
            for (int j = k + 1; j > 0; j--) {
                lambda[j] ^= mul(x, lambda[j - 1]);
            }
        }
        int[] b = lambda.clone();
        int length = erasureCount;
        // Berlekamp–Massey over the syndromes the erasures leave unexplained
        for (int r = erasureCount + 1; r <= roots; r++) {
            int discrepancy = 0;
            for (int i = 0; i < r; i++) {
                discrepancy ^= mul(lambda[i], syndromes[r - 1 - i]);
            }
            int[] shiftedB = new int[roots + 1];
            System.arraycopy(b, 0, shiftedB, 1, roots);
            if (discrepancy == 0) {
                b = shiftedB;
                continue;
            }
            int[] next = lambda.clone();
            for (int i = 0; i <= roots; i++) {
                next[i] ^= mul(discrepancy, shiftedB[i]);
            }
            if (2 * length <= r + erasureCount - 1) {
                length = r + erasureCount - length;
                for (int i = 0; i <= roots; i++) {
                    b[i] = div(lambda[i], discrepancy);
                }
            } else {
                b = shiftedB;
            }
            lambda = next;
        }
        int degree = 0;
        for (int i = 0; i <= roots; i++) {
            if (lambda[i] != 0) {
                degree = i;
            }
        }
        // Chien search: position i is in error when Λ(X_i^-1) = 0, X_i = α^(N-1-i)
        int[] positions = new int[degree];
        int found = 0;
        for (int i = 0; i < N && found <= degree; i++) {
            int inverse = (i + 1) % N; // log of X_i^-1 = -(N-1-i) mod N
            int v = 0;
            for (int k = 0; k <= degree; k++) {
                v ^= mul(lambda[k], EXP[(inverse * k) % N]);
            }
            if (v == 0) {
                if (found == degree) {
                    return -1;
                }
                positions[found++] = i;
            }
        }
        if (found != degree) {
            return -1;
        }
        // Ω(x) = S(x)·Λ(x) mod x^roots, then Forney (first root α^0): e = X·Ω(X^-1) / Λ'(X^-1)
        int[] omega = new int[roots];
        for (int i = 0; i < roots; i++) {
            int v = 0;
            for (int k = 0; k <= Math.min(i, degree); k++) {
                v ^= mul(lambda[k], syndromes[i - k]);
            }
            omega[i] = v;
        }
        byte[] corrected = Arrays.copyOf(codeword, N);
        for (int e = 0; e < found; e++) {
            int i = positions[e];
            int inverse = (i + 1) % N;
            int numerator = 0;
            for (int k = 0; k < roots; k++) {
                numerator ^= mul(omega[k], EXP[(inverse * k) % N]);
            }
            int denominator = 0;
            for (int k = 1; k <= degree; k += 2) {
                denominator ^= mul(lambda[k], EXP[(inverse * (k - 1)) % N]);
            }
            if (denominator == 0) {
                return -1;
            }
            int magnitude = mul(EXP[N - 1 - i], div(numerator, denominator));
            corrected[i] ^= (byte) magnitude;
        }
        System.arraycopy(corrected, 0, codeword, 0, N);
        return found;
    }
}
