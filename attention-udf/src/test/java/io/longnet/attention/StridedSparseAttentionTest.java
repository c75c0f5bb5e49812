package io.longnet.attention;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The strided pattern against its definition (a dense mask built from the two predicates), the forward
 * pass against dense masked softmax attention in float64, and the backward pass against central finite
 * differences.
 */
class StridedSparseAttentionTest {

    /** The pattern's definition, written independently of the engine's enumeration. */
    private static boolean sees(int i, int j, int l, boolean causal) {
        if (causal) {
            return j <= i && (i - j < l || (i - j) % l == 0);
        }
        return Math.abs(i - j) < l || (i - j) % l == 0;
    }

    /**
     * (n, l): l dividing n or not, l = 1, l = n, l > n; blocks of l longer than the engine's 64-query tiles
     * (and a short last block), and strided subsequences longer than 64.
     */
    static Stream<Arguments> shapes() {
        List<Arguments> list = new ArrayList<>();
        int[][] nl = {{23, 5}, {24, 4}, {17, 1}, {16, 16}, {11, 40}, {30, 7}, {1, 3}, {150, 70}, {150, 2}};
        for (int[] c : nl) {
            for (boolean causal : new boolean[] {true, false}) {
                list.add(Arguments.of(c[0], c[1], causal));
            }
        }
        return list.stream();
    }

    @Test
    void keyPositionsOfKnownQueries() {
        // l = 3, N = 10: window {5, 6, 7}, strided 7 - 3t = {4, 1} (and 10 is outside).
        assertArrayEquals(new int[] {1, 4, 5, 6, 7}, StridedSparseAttention.keyPositions(7, 10, 3, true));
        // Not causal: window |7 - j| < 3 = {5..9}, strided {1, 4} below; 10 is past the end.
        assertArrayEquals(new int[] {1, 4, 5, 6, 7, 8, 9}, StridedSparseAttention.keyPositions(7, 10, 3, false));
        assertArrayEquals(new int[] {0, 1, 2, 3}, StridedSparseAttention.keyPositions(3, 10, 1, true));
        assertArrayEquals(new int[] {0}, StridedSparseAttention.keyPositions(0, 10, 4, true));
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9},
                StridedSparseAttention.keyPositions(2, 10, 12, false));
        // A stride near Integer.MAX_VALUE is dense attention too (no overflow of i + l).
        assertArrayEquals(new int[] {0, 1, 2, 3, 4}, StridedSparseAttention.keyPositions(3, 5, Integer.MAX_VALUE, false));
        assertArrayEquals(new int[] {0, 1, 2, 3}, StridedSparseAttention.keyPositions(3, 5, Integer.MAX_VALUE, true));
    }

    @Test
    void keyPositionsFollowTheDefinition() {
        for (int n = 1; n <= 40; n++) {
            for (int l = 1; l <= n + 2; l++) {
                for (boolean causal : new boolean[] {true, false}) {
                    for (int i = 0; i < n; i++) {
                        List<Integer> expected = new ArrayList<>();
                        for (int j = 0; j < n; j++) {
                            if (sees(i, j, l, causal)) {
                                expected.add(j);
                            }
                        }
                        int[] actual = StridedSparseAttention.keyPositions(i, n, l, causal);
                        assertEquals(expected.toString(), java.util.Arrays.toString(actual),
                                "n=" + n + " l=" + l + " i=" + i + " causal=" + causal);
                        // At most 2l - 1 window keys and N / l strided ones: the O(N (l + N/l)) cost.
                        assertTrue(actual.length <= 2 * l - 1 + n / l + 1);
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "N={0} l={1} causal={2}")
    @MethodSource("shapes")
    void forwardEqualsDenseMaskedAttention(int n, int l, boolean causal) {
        int heads = 3;
        int d = 4;
        long seed = 1000L * n + 10L * l + (causal ? 1 : 0);
        SplittableRandom rnd = new SplittableRandom(seed);
        double[] q = random(rnd, n * heads * d, 2);
        double[] k = random(rnd, n * heads * d, 2);
        double[] v = random(rnd, n * heads * d, 1);
        double[] o = new double[n * heads * d];
        double[] lse = new double[n * heads];
        new StridedSparseAttention(heads, d, causal, l).forward(q, k, v, n, o, lse);

        double[][] ref = maskedDense(q, k, v, n, heads, d, (i, j) -> sees(i, j, l, causal));
        assertClose(ref[0], o, 1e-12, "o, seed " + seed);
        assertClose(ref[1], lse, 1e-12, "lse, seed " + seed);
        if (l == 1 || l >= n) {
            // Both edges are plain dense attention (causal or not).
            double[][] dense = maskedDense(q, k, v, n, heads, d, (i, j) -> !causal || j <= i);
            assertClose(dense[0], o, 1e-12, "dense o, seed " + seed);
            assertClose(dense[1], lse, 1e-12, "dense lse, seed " + seed);
        } else if (n > l + 1) {
            // Elsewhere the pattern is truly sparse: dense attention differs clearly.
            double[][] dense = maskedDense(q, k, v, n, heads, d, (i, j) -> !causal || j <= i);
            assertTrue(maxDiff(dense[0], o) > 1e-3, "strided output should differ from dense, seed " + seed);
        }
    }

    @ParameterizedTest(name = "N={0} l={1} causal={2}")
    @MethodSource("shapes")
    void backwardMatchesCentralFiniteDifferences(int n, int l, boolean causal) {
        int heads = 2;
        int d = 3;
        long seed = 7000L * n + 31L * l + (causal ? 1 : 0);
        SplittableRandom rnd = new SplittableRandom(seed);
        int size = n * heads * d;
        double[] q = random(rnd, size, 1.5);
        double[] k = random(rnd, size, 1.5);
        double[] v = random(rnd, size, 1);
        double[] dO = random(rnd, size, 1);
        StridedSparseAttention attention = new StridedSparseAttention(heads, d, causal, l);
        double[] o = new double[size];
        double[] lse = new double[n * heads];
        attention.forward(q, k, v, n, o, lse);

        // The backward pass adds: start from nonzero gradients and subtract them afterwards.
        double[] dq0 = random(rnd, size, 1);
        double[] dk0 = random(rnd, size, 1);
        double[] dv0 = random(rnd, size, 1);
        double[] dq = dq0.clone();
        double[] dk = dk0.clone();
        double[] dv = dv0.clone();
        attention.backward(q, k, v, n, o, lse, dO, dq, dk, dv);

        double[][] inputs = {q, k, v};
        double[][] grads = {minus(dq, dq0), minus(dk, dk0), minus(dv, dv0)};
        String[] names = {"q", "k", "v"};
        for (int t = 0; t < 3; t++) {
            double[] x = inputs[t];
            double[] fd = new double[size];
            double eps = 1e-5;
            for (int e = 0; e < size; e++) {
                double keep = x[e];
                x[e] = keep + eps;
                double up = loss(attention, q, k, v, n, dO);
                x[e] = keep - eps;
                double down = loss(attention, q, k, v, n, dO);
                x[e] = keep;
                fd[e] = (up - down) / (2 * eps);
            }
            if (n == 1 && t < 2) {
                // One key: its weight is 1 whatever q and k are, so their gradients are zero.
                assertTrue(norm(grads[t]) < 1e-12 && norm(fd) < 1e-8, "d" + names[t] + " at N = 1");
                continue;
            }
            double rel = norm(minus(grads[t], fd)) / norm(fd);
            assertTrue(norm(fd) > 1e-3, "gradient of " + names[t] + " should not vanish, seed " + seed);
            assertTrue(rel < 1e-6, "d" + names[t] + ": relative error " + rel + ", seed " + seed);
        }
    }

    @Test
    void validation() {
        assertEquals("stride must be >= 1 (got 0): it is the local window length and the distance between strided keys",
                assertThrows(IllegalArgumentException.class, () -> new StridedSparseAttention(2, 4, true, 0))
                        .getMessage());
        assertEquals("heads must be >= 1 (got 0)",
                assertThrows(IllegalArgumentException.class, () -> new StridedSparseAttention(0, 4, true, 2))
                        .getMessage());
        StridedSparseAttention a = new StridedSparseAttention(2, 4, true, 2);
        assertEquals("v holds 23 values, fewer than n x heads x headDim = 3 x 2 x 4 = 24",
                assertThrows(IllegalArgumentException.class, () -> a.forward(new double[24], new double[24],
                        new double[23], 3, new double[24], new double[6])).getMessage());
        assertEquals("query 5 is outside a sequence of 5 positions",
                assertThrows(IllegalArgumentException.class, () -> StridedSparseAttention.keyPositions(5, 5, 2, true))
                        .getMessage());
    }

    /** {@code sum(dO * o)}: its gradient with respect to o is dO. */
    private static double loss(StridedSparseAttention a, double[] q, double[] k, double[] v, int n, double[] dO) {
        double[] o = new double[q.length];
        a.forward(q, k, v, n, o, new double[n * a.shape().heads()]);
        double s = 0;
        for (int i = 0; i < o.length; i++) {
            s += dO[i] * o[i];
        }
        return s;
    }

    private interface Mask {
        boolean sees(int i, int j);
    }

    /** Softmax attention in float64 over the full N x N score matrix of each head, masked. */
    private static double[][] maskedDense(double[] q, double[] k, double[] v, int n, int heads, int d, Mask mask) {
        double[] o = new double[n * heads * d];
        double[] lse = new double[n * heads];
        double[] s = new double[n];
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < n; i++) {
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < n; j++) {
                    double dot = 0;
                    for (int c = 0; c < d; c++) {
                        dot += q[(i * heads + h) * d + c] * k[(j * heads + h) * d + c];
                    }
                    s[j] = mask.sees(i, j) ? dot / Math.sqrt(d) : Double.NEGATIVE_INFINITY;
                    max = Math.max(max, s[j]);
                }
                double sum = 0;
                for (int j = 0; j < n; j++) {
                    s[j] = Math.exp(s[j] - max);
                    sum += s[j];
                }
                lse[i * heads + h] = max + Math.log(sum);
                for (int j = 0; j < n; j++) {
                    for (int c = 0; c < d; c++) {
                        o[(i * heads + h) * d + c] += s[j] / sum * v[(j * heads + h) * d + c];
                    }
                }
            }
        }
        return new double[][] {o, lse};
    }

    private static double[] random(SplittableRandom rnd, int size, double scale) {
        double[] a = new double[size];
        for (int i = 0; i < size; i++) {
            a[i] = (rnd.nextDouble() * 2 - 1) * scale;
        }
        return a;
    }

    private static double[] minus(double[] a, double[] b) {
        double[] r = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = a[i] - b[i];
        }
        return r;
    }

    private static double norm(double[] a) {
        double s = 0;
        for (double x : a) {
            s += x * x;
        }
        return Math.sqrt(s);
    }

    private static double maxDiff(double[] a, double[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }

    private static void assertClose(double[] expected, double[] actual, double tolerance, String what) {
        assertEquals(expected.length, actual.length, what);
        double diff = maxDiff(expected, actual);
        assertTrue(diff <= tolerance, what + ": max difference " + diff);
    }
}
