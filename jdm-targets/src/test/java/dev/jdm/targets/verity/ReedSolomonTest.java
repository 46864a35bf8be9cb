package dev.jdm.targets.verity;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/** The RS(255, 255 - roots) codec: corrects up to roots/2 unknown errors, or up to roots erasures. */
class ReedSolomonTest {

    record Damage(int roots, long seed, int errors, int erasures) {
    }

    @Provide
    Arbitrary<Damage> correctable() {
        return Arbitraries.integers().between(2, 24).flatMap(roots -> Combinators.combine(
                Arbitraries.longs(), Arbitraries.integers().between(0, roots / 2))
                .flatAs((seed, errors) -> Arbitraries.integers().between(0, roots - 2 * errors)
                        .map(erasures -> new Damage(roots, seed, errors, erasures))));
    }

    private static byte[] codeword(ReedSolomon rs, Random random) {
        byte[] data = new byte[rs.dataLength()];
        random.nextBytes(data);
        byte[] cw = Arrays.copyOf(data, ReedSolomon.N);
        System.arraycopy(rs.encode(data), 0, cw, rs.dataLength(), rs.roots());
        return cw;
    }

    @Property(tries = 300)
    void correctsWithinTheBound(@ForAll("correctable") Damage d) {
        ReedSolomon rs = new ReedSolomon(d.roots());
        Random random = new Random(d.seed());
        byte[] clean = codeword(rs, random);
        byte[] damaged = clean.clone();
        Set<Integer> positions = new HashSet<>();
        while (positions.size() < d.errors() + d.erasures()) {
            positions.add(random.nextInt(ReedSolomon.N));
        }
        List<Integer> order = List.copyOf(positions);
        int[] erasures = new int[d.erasures()];
        int changed = 0;
        for (int k = 0; k < order.size(); k++) {
            int p = order.get(k);
            byte junk = (byte) (clean[p] ^ (1 + random.nextInt(255)));
            if (k < d.erasures()) {
                erasures[k] = p;
                if (random.nextBoolean()) {
                    damaged[p] = junk; // an erasure may or may not hold a wrong byte
                    changed++;
                }
            } else {
                damaged[p] = junk;
                changed++;
            }
        }
        int corrected = rs.decode(damaged, erasures, erasures.length);
        assertArrayEquals(clean, damaged);
        assertTrue(corrected >= 0, "decoder gave up");
        assertTrue(corrected <= d.errors() + d.erasures() && corrected >= changed - 0, "corrected " + corrected + ", changed " + changed);
    }

    @Test
    void cleanCodewordsDecodeToZeroCorrections() {
        ReedSolomon rs = new ReedSolomon(2);
        byte[] cw = codeword(rs, new Random(3));
        assertEquals(0, rs.decode(cw.clone(), new int[0], 0));
    }

    @Test
    void twoUnknownErrorsAreBeyondTwoRoots() {
        ReedSolomon rs = new ReedSolomon(2);
        byte[] clean = codeword(rs, new Random(5));
        byte[] damaged = clean.clone();
        damaged[10] ^= 1;
        damaged[200] ^= 1;
        int r = rs.decode(damaged, new int[0], 0);
        // with 2 roots, 2 errors are either detected (-1) or miscorrected; never silently "fixed" to the original
        assertTrue(r < 0 || !Arrays.equals(clean, damaged));
        byte[] again = clean.clone();
        again[10] ^= 1;
        again[200] ^= 1;
        assertEquals(2, rs.decode(again, new int[]{10, 200}, 2), "the same damage as erasures is within reach");
        assertArrayEquals(clean, again);
    }

    /** GF(2^8) product by shift-and-add, independent of the codec's log tables. */
    private static int gfMul(int a, int b) {
        int p = 0;
        while (b != 0) {
            if ((b & 1) != 0) {
                p ^= a;
            }
            a <<= 1;
            if ((a & 0x100) != 0) {
                a ^= 0x11d;
            }
            b >>= 1;
        }
        return p;
    }

    @Test
    void parityIsTheRemainderByTheGeneratorPolynomial() {
        for (int roots : new int[]{2, 5, 24}) {
            // g(x) = (x + α^0)(x + α^1)…, α = 2; coefficients highest power first
            int[] g = {1};
            int alpha = 1;
            for (int i = 0; i < roots; i++) {
                int[] next = new int[g.length + 1];
                for (int k = 0; k < g.length; k++) {
                    next[k] ^= g[k];
                    next[k + 1] ^= gfMul(g[k], alpha);
                }
                g = next;
                alpha = gfMul(alpha, 2);
            }
            byte[] data = new byte[ReedSolomon.N - roots];
            new Random(roots).nextBytes(data);
            // long division of data(x)·x^roots by g(x)
            int[] work = new int[ReedSolomon.N];
            for (int i = 0; i < data.length; i++) {
                work[i] = data[i] & 0xff;
            }
            for (int i = 0; i < data.length; i++) {
                int q = work[i];
                if (q != 0) {
                    for (int k = 0; k < g.length; k++) {
                        work[i + k] ^= gfMul(q, g[k]);
                    }
                }
            }
            byte[] expected = new byte[roots];
            for (int j = 0; j < roots; j++) {
                expected[j] = (byte) work[data.length + j];
            }
            assertArrayEquals(expected, new ReedSolomon(roots).encode(data), "roots " + roots);
        }
    }
}
