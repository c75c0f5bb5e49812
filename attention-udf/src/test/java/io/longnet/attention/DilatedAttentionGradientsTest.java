package io.longnet.attention;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

class DilatedAttentionGradientsTest {

    static LongStream seeds() {
        return LongStream.range(0, 30);
    }

    /**
     * A random config with ragged segments, w > N, w not a multiple of r, H not a multiple of r, both head
     * offset modes; segment lengths up to {@code maxW}.
     */
    static DilatedAttentionConfig randomConfig(SplittableRandom rnd, int maxW, int maxHeads, int[] widths) {
        List<Branch> branches = new ArrayList<>();
        int count = 1 + rnd.nextInt(3);
        while (branches.size() < count) {
            int w = 1 + rnd.nextInt(maxW);
            int r = branches.isEmpty() ? 1 : 1 + rnd.nextInt(Math.min(w, 5));
            Branch b = new Branch(w, r);
            if (!branches.contains(b)) {
                branches.add(b);
            }
        }
        java.util.Collections.shuffle(branches, new java.util.Random(rnd.nextLong()));
        HeadOffset mode = rnd.nextBoolean() ? HeadOffset.CONTIGUOUS_GROUPS : HeadOffset.PAPER;
        return new DilatedAttentionConfig(branches, 1 + rnd.nextInt(maxHeads), widths[rnd.nextInt(widths.length)],
                rnd.nextBoolean(), mode);
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    void forwardMatchesFloat64BruteForceAndTheFloatKernel(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int n = rnd.nextInt(4) == 0 ? 1 + rnd.nextInt(8) : 1 + rnd.nextInt(300);
        // Segments up to 200 rows give several query blocks and key tiles per segment.
        DilatedAttentionConfig c = randomConfig(rnd, 200, 4, new int[] {1, 3, 8, 16});
        int size = n * c.rowWidth();
        float[] qf = Tensors.random(rnd, size, 2.0);
        float[] kf = Tensors.random(rnd, size, 2.0);
        float[] vf = Tensors.random(rnd, size, 1.0);
        double[] o = new double[size];
        double[] lse = new double[n * c.heads()];
        try (DilatedAttentionGradients engine = new DilatedAttentionGradients(c)) {
            engine.forward(doubles(qf), doubles(kf), doubles(vf), n, o, lse);
        }
        BruteForceReference want = BruteForceReference.compute(c, qf, kf, vf, n);
        String what = "seed " + seed + ": " + c + ", n=" + n;
        assertTrue(relativeError(o, want.o) < 1e-12, what + ": o off by " + relativeError(o, want.o));
        assertTrue(relativeError(lse, want.lse) < 1e-12, what + ": lse off by " + relativeError(lse, want.lse));
        AttentionResult single;
        try (CpuAttentionKernel kernel = new CpuAttentionKernel(1)) {
            single = kernel.forward(c, qf, kf, vf);
        }
        assertTrue(Tensors.relativeError(single.oArray(), o) < 1e-5, what + ": float kernel o");
        assertTrue(Tensors.relativeError(single.lseArray(), lse) < 1e-5, what + ": float kernel lse");
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    void gradientsMatchCentralFiniteDifferences(long seed) {
        SplittableRandom rnd = new SplittableRandom(1000 + seed);
        int n = 1 + rnd.nextInt(40);
        DilatedAttentionConfig c = randomConfig(rnd, 24, 3, new int[] {1, 2, 3, 4});
        checkGradients(c, n, rnd, "seed " + seed);
    }

    /** Larger segments than one query block and one key tile, so the tiled loops are checked too. */
    @ParameterizedTest(name = "{0} H={1} causal={2} N={3}")
    @CsvSource(delimiter = '|', value = {
        "130:1,64:3,200:7 | 2 | true  | 140",
        "130:1,64:3,200:7 | 1 | false | 135",
        "70:1,90:4        | 2 | false | 150",
    })
    void gradientsOverSeveralTilesMatchFiniteDifferences(String branches, int heads, boolean causal, int n) {
        DilatedAttentionConfig c = new DilatedAttentionConfig(Branch.parseList(branches), heads, 2, causal,
                HeadOffset.PAPER);
        checkGradients(c, n, new SplittableRandom(n), "several tiles");
    }

    private static void checkGradients(DilatedAttentionConfig c, int n, SplittableRandom rnd, String what) {
        int size = n * c.rowWidth();
        double[] q = random(rnd, size, 1.5);
        double[] k = random(rnd, size, 1.5);
        double[] v = random(rnd, size, 1.0);
        double[] dO = random(rnd, size, 1.0);
        double[] o = new double[size];
        double[] lse = new double[n * c.heads()];
        double[] dq = new double[size];
        double[] dk = new double[size];
        double[] dv = new double[size];
        try (DilatedAttentionGradients engine = new DilatedAttentionGradients(c)) {
            engine.forward(q, k, v, n, o, lse);
            engine.backward(q, k, v, n, o, lse, dO, dq, dk, dv);
            double[][] inputs = {q, k, v};
            double[][] grads = {dq, dk, dv};
            String[] names = {"dq", "dk", "dv"};
            double h = 1e-5;
            for (int t = 0; t < 3; t++) {
                double[] x = inputs[t];
                double[] fd = new double[size];
                for (int i = 0; i < size; i++) {
                    double saved = x[i];
                    x[i] = saved + h;
                    double plus = loss(engine, q, k, v, n, dO);
                    x[i] = saved - h;
                    double minus = loss(engine, q, k, v, n, dO);
                    x[i] = saved;
                    fd[i] = (plus - minus) / (2 * h);
                }
                String where = what + ", " + c + ", n=" + n + ": " + names[t];
                if (norm(fd) < 1e-8) {
                    // E.g. every query sees only itself (w = 1, or n = 1): q and k do not matter.
                    assertTrue(norm(grads[t]) < 1e-8, where + " should vanish, has norm " + norm(grads[t]));
                    continue;
                }
                double err = normError(grads[t], fd);
                assertTrue(err < 1e-6, where + " relative error " + err);
            }
        }
    }

    /** L = sum dO . o, whose gradient with respect to o is dO. */
    private static double loss(DilatedAttentionGradients engine, double[] q, double[] k, double[] v, int n,
                               double[] dO) {
        double[] o = new double[q.length];
        double[] lse = new double[n * engine.shape().heads()];
        engine.forward(q, k, v, n, o, lse);
        double sum = 0;
        for (int i = 0; i < o.length; i++) {
            sum += dO[i] * o[i];
        }
        return sum;
    }

    /**
     * The distributed plan's decomposition, by hand: partitions of {@code len} positions, local branches
     * with {@link DilatedAttentionGradients#forward(List, double[], double[], double[], int, double[], double[])}
     * on each, spanning branches from keys gathered off the partitions of the segment (for causal attention
     * only those at or before the receiver), and the gathered rows' gradients scattered back to their
     * owners. Equals the whole-sequence pass.
     */
    @ParameterizedTest(name = "{0} H={1} d={2} causal={3} N={4} L={5} {6} threads={7}")
    @CsvSource(delimiter = '|', value = {
        "8:1,16:2,32:1,64:3  | 3 | 4 | true  | 100 | 16 | PAPER             | 1",
        "8:1,16:2,32:1,64:3  | 3 | 4 | false | 100 | 16 | CONTIGUOUS_GROUPS | 1",
        "8:1,16:2,32:1,64:3  | 5 | 2 | true  | 64  | 8  | CONTIGUOUS_GROUPS | 3",
        "5:1,20:3,40:3       | 4 | 3 | false | 77  | 10 | PAPER             | 3",
        "5:1,20:3,40:3       | 4 | 3 | true  | 93  | 5  | PAPER             | 1",
        "200:1,100:7,400:9   | 2 | 4 | true  | 390 | 100 | PAPER            | 1",
    })
    void localAndGatheredPartsAddUpToTheWholeSequence(String branches, int heads, int d, boolean causal, int n,
                                                      int len, HeadOffset mode, int threads) {
        DilatedAttentionConfig c = new DilatedAttentionConfig(Branch.parseList(branches), heads, d, causal, mode);
        List<Branch> local = new ArrayList<>();
        List<Branch> spanning = new ArrayList<>();
        for (Branch b : c.branches()) {
            (len % b.segmentLength() == 0 ? local : spanning).add(b);
        }
        assertTrue(!spanning.isEmpty() && !local.isEmpty(), "the case exercises both kinds");
        SplittableRandom rnd = new SplittableRandom(n * 31L + len);
        int width = c.rowWidth();
        int size = n * width;
        double[] q = random(rnd, size, 2.0);
        double[] k = random(rnd, size, 2.0);
        double[] v = random(rnd, size, 1.0);
        double[] dO = random(rnd, size, 1.0);
        int parts = (n + len - 1) / len;

        try (DilatedAttentionGradients engine = new DilatedAttentionGradients(c, threads)) {
            double[] o = new double[size];
            double[] lse = new double[n * heads];
            double[] dq = new double[size];
            double[] dk = new double[size];
            double[] dv = new double[size];
            engine.forward(q, k, v, n, o, lse);
            engine.backward(q, k, v, n, o, lse, dO, dq, dk, dv);

            double[] po = new double[size];
            double[] plse = new double[n * heads];
            for (int p = 0; p < parts; p++) {
                int start = p * len;
                int m = Math.min(len, n - start);
                double[] op = new double[m * width];
                double[] lp = new double[m * heads];
                engine.forward(local, slice(q, start, m, width), slice(k, start, m, width), slice(v, start, m, width),
                        m, op, lp);
                for (Branch b : spanning) {
                    double[][][] kv = gather(c, b, p, len, n, k, v);
                    engine.forwardGathered(b, start % b.segmentLength(), slice(q, start, m, width), m, kv[0], kv[1],
                            op, lp);
                }
                System.arraycopy(op, 0, po, start * width, op.length);
                System.arraycopy(lp, 0, plse, start * heads, lp.length);
            }
            assertTrue(relativeError(po, o) < 1e-12, "o off by " + relativeError(po, o));
            assertTrue(relativeError(plse, lse) < 1e-12, "lse off by " + relativeError(plse, lse));

            double[][] pdq = new double[parts][];
            double[][] pdk = new double[parts][];
            double[][] pdv = new double[parts][];
            for (int p = 0; p < parts; p++) {
                int m = Math.min(len, n - p * len);
                pdq[p] = new double[m * width];
                pdk[p] = new double[m * width];
                pdv[p] = new double[m * width];
            }
            for (int p = 0; p < parts; p++) {
                int start = p * len;
                int m = Math.min(len, n - start);
                double[] qp = slice(q, start, m, width);
                double[] op = slice(po, start, m, width);
                double[] lp = Arrays.copyOfRange(plse, start * heads, (start + m) * heads);
                double[] gp = slice(dO, start, m, width);
                engine.backward(local, qp, slice(k, start, m, width), slice(v, start, m, width), m, op, lp, gp,
                        pdq[p], pdk[p], pdv[p]);
                for (Branch b : spanning) {
                    double[][][] kv = gather(c, b, p, len, n, k, v);
                    double[][] dKeys = new double[heads][];
                    double[][] dValues = new double[heads][];
                    for (int h = 0; h < heads; h++) {
                        dKeys[h] = new double[kv[0][h].length];
                        dValues[h] = new double[kv[1][h].length];
                    }
                    engine.backwardGathered(b, start % b.segmentLength(), qp, m, kv[0], kv[1], op, lp, gp, pdq[p],
                            dKeys, dValues);
                    scatterBack(c, b, p, len, n, dKeys, dValues, pdk, pdv);
                }
            }
            double[][] want = {dq, dk, dv};
            double[][][] got = {pdq, pdk, pdv};
            String[] names = {"dq", "dk", "dv"};
            for (int t = 0; t < 3; t++) {
                double[] joined = new double[size];
                for (int p = 0; p < parts; p++) {
                    System.arraycopy(got[t][p], 0, joined, p * len * width, got[t][p].length);
                }
                double err = relativeError(joined, want[t]);
                assertTrue(err < 1e-12, names[t] + " off by " + err);
            }
        }
    }

    /** Sources of partition p's gathered rows: the segment's partitions up to p (causal) or all of them. */
    private static int[] sources(DilatedAttentionConfig c, Branch b, int p, int len, int n) {
        int per = b.segmentLength() / len;
        int parts = (n + len - 1) / len;
        int first = p / per * per;
        int last = c.causal() ? p : Math.min(parts - 1, first + per - 1);
        return new int[] {first, last};
    }

    private static double[][][] gather(DilatedAttentionConfig c, Branch b, int p, int len, int n, double[] k,
                                       double[] v) {
        int heads = c.heads();
        int d = c.headDim();
        int[] range = sources(c, b, p, len, n);
        double[][] keys = new double[heads][0];
        double[][] values = new double[heads][0];
        for (int s = range[0]; s <= range[1]; s++) {
            int start = s * len;
            int m = Math.min(len, n - start);
            double[] ks = slice(k, start, m, c.rowWidth());
            double[] vs = slice(v, start, m, c.rowWidth());
            for (int h = 0; h < heads; h++) {
                DilatedSelection sel = DilatedSelection.of(start % b.segmentLength(), m, c.offset(b, h),
                        b.dilation());
                keys[h] = concat(keys[h], sel.gather(ks, heads, d, h));
                values[h] = concat(values[h], sel.gather(vs, heads, d, h));
            }
        }
        return new double[][][] {keys, values};
    }

    private static void scatterBack(DilatedAttentionConfig c, Branch b, int p, int len, int n, double[][] dKeys,
                                    double[][] dValues, double[][] dk, double[][] dv) {
        int heads = c.heads();
        int d = c.headDim();
        int[] range = sources(c, b, p, len, n);
        int[] at = new int[heads];
        for (int s = range[0]; s <= range[1]; s++) {
            int start = s * len;
            int m = Math.min(len, n - start);
            for (int h = 0; h < heads; h++) {
                DilatedSelection sel = DilatedSelection.of(start % b.segmentLength(), m, c.offset(b, h),
                        b.dilation());
                int rows = sel.count() * d;
                sel.scatterAdd(Arrays.copyOfRange(dKeys[h], at[h], at[h] + rows), dk[s], heads, d, h);
                sel.scatterAdd(Arrays.copyOfRange(dValues[h], at[h], at[h] + rows), dv[s], heads, d, h);
                at[h] += rows;
            }
        }
        for (int h = 0; h < heads; h++) {
            assertEquals(dKeys[h].length, at[h], "every gathered row returned to its owner");
        }
    }

    @Test
    void resultsDoNotDependOnTheNumberOfThreads() {
        DilatedAttentionConfig c = new DilatedAttentionConfig(Branch.parseList("40:1,96:3,128:5"), 5, 8, true,
                HeadOffset.PAPER);
        int n = 333;
        SplittableRandom rnd = new SplittableRandom(5);
        int size = n * c.rowWidth();
        double[] q = random(rnd, size, 2.0);
        double[] k = random(rnd, size, 2.0);
        double[] v = random(rnd, size, 1.0);
        double[] dO = random(rnd, size, 1.0);
        double[][] one = run(c, 1, q, k, v, dO, n);
        double[][] three = run(c, 3, q, k, v, dO, n);
        String[] names = {"o", "lse", "dq", "dk", "dv"};
        for (int t = 0; t < one.length; t++) {
            assertArrayEquals(one[t], three[t], names[t] + " bit-identical");
        }
        // backward adds to what the gradient arrays hold.
        double[][] again = run(c, 3, q, k, v, dO, n, 1.0);
        for (int t = 2; t < 5; t++) {
            for (int i = 0; i < size; i++) {
                assertEquals(1.0 + one[t][i], again[t][i], 1e-12, names[t] + "[" + i + "]");
            }
        }
    }

    private static double[][] run(DilatedAttentionConfig c, int threads, double[] q, double[] k, double[] v,
                                  double[] dO, int n) {
        return run(c, threads, q, k, v, dO, n, 0.0);
    }

    private static double[][] run(DilatedAttentionConfig c, int threads, double[] q, double[] k, double[] v,
                                  double[] dO, int n, double initial) {
        int size = n * c.rowWidth();
        double[] o = new double[size];
        double[] lse = new double[n * c.heads()];
        double[] dq = new double[size];
        double[] dk = new double[size];
        double[] dv = new double[size];
        Arrays.fill(dq, initial);
        Arrays.fill(dk, initial);
        Arrays.fill(dv, initial);
        try (DilatedAttentionGradients engine = new DilatedAttentionGradients(c, threads)) {
            engine.forward(q, k, v, n, o, lse);
            engine.backward(q, k, v, n, o, lse, dO, dq, dk, dv);
        }
        return new double[][] {o, lse, dq, dk, dv};
    }

    @Test
    void emptySubsetGivesZeroOutputAndMinusInfinityLse() {
        DilatedAttentionConfig c = DilatedAttentionConfig.of(Branch.parseList("4:1"), 2, 3, false);
        double[] x = random(new SplittableRandom(3), 5 * 6, 1.0);
        double[] o = new double[30];
        Arrays.fill(o, 7);
        double[] lse = new double[10];
        try (DilatedAttentionGradients engine = new DilatedAttentionGradients(c)) {
            engine.forward(List.of(), x, x, x, 5, o, lse);
        }
        assertArrayEquals(new double[30], o);
        for (double l : lse) {
            assertEquals(Double.NEGATIVE_INFINITY, l);
        }
    }

    @Test
    void badArgumentsAreRejectedWithActionableMessages() {
        DilatedAttentionConfig c = DilatedAttentionConfig.of(Branch.parseList("4:1,8:2"), 2, 3, true);
        double[] x = new double[5 * 6];
        double[] l = new double[10];
        try (DilatedAttentionGradients engine = new DilatedAttentionGradients(c)) {
            assertEquals("branch 16:1 is not one of [4:1, 8:2] (or out of their order)",
                    assertThrows(IllegalArgumentException.class, () -> engine.forward(
                            List.of(new Branch(16, 1)), x, x, x, 5, x, l)).getMessage());
            assertEquals("branch 4:1 is not one of [4:1, 8:2] (or out of their order)",
                    assertThrows(IllegalArgumentException.class, () -> engine.forward(
                            List.of(new Branch(8, 2), new Branch(4, 1)), x, x, x, 5, x, l)).getMessage());
            assertEquals("dv holds 29 doubles, needs 30",
                    assertThrows(IllegalArgumentException.class, () -> engine.backward(
                            x, x, x, 5, x, l, x, x, x, new double[29])).getMessage());
            assertEquals("sequence length must be >= 1 (got 0)",
                    assertThrows(IllegalArgumentException.class, () -> engine.forward(
                            x, x, x, 0, x, l)).getMessage());
            double[][] keys = {new double[6], new double[6]};
            assertEquals("branch 8:2: a block of 5 positions starting 4 into a segment must lie inside the "
                            + "segment's 8 positions",
                    assertThrows(IllegalArgumentException.class, () -> engine.forwardGathered(
                            new Branch(8, 2), 4, x, 5, keys, keys, x, l)).getMessage());
            // Rows 3..6 of the segment: head 0 (offset 0) selects rows 4 and 6, sparse rows 2 and 3.
            assertEquals("head 0, branch 8:2: gathered 2 key rows, but the block's queries reach sparse row 3:"
                            + " gather the segment's rows up to at least the block's last",
                    assertThrows(IllegalArgumentException.class, () -> engine.forwardGathered(
                            new Branch(8, 2), 3, x, 4, keys, keys, x, l)).getMessage());
            double[][] big = {new double[12], new double[12]};
            assertEquals("dKeys[1] holds 6 doubles, keys[1] 12: they must match",
                    assertThrows(IllegalArgumentException.class, () -> engine.backwardGathered(
                            new Branch(8, 2), 3, x, 4, big, big, x, l, x, x,
                            new double[][] {new double[12], new double[6]}, big)).getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> new DilatedAttentionGradients(c, 0));
    }

    private static double[] doubles(float[] a) {
        double[] out = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = a[i];
        }
        return out;
    }

    private static double[] random(SplittableRandom rnd, int size, double scale) {
        double[] a = new double[size];
        for (int i = 0; i < size; i++) {
            a[i] = (rnd.nextDouble() * 2 - 1) * scale;
        }
        return a;
    }

    private static double[] slice(double[] a, int start, int rows, int width) {
        return Arrays.copyOfRange(a, start * width, (start + rows) * width);
    }

    private static double[] concat(double[] a, double[] b) {
        double[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /** Largest elementwise difference over the largest reference magnitude; -inf equal to -inf counts as 0. */
    static double relativeError(double[] actual, double[] expected) {
        assertEquals(expected.length, actual.length, "length");
        double maxDiff = 0;
        double maxRef = 0;
        for (int i = 0; i < actual.length; i++) {
            if (actual[i] == expected[i]) {
                continue;
            }
            double diff = Math.abs(actual[i] - expected[i]);
            if (Double.isNaN(diff)) {
                return Double.POSITIVE_INFINITY;
            }
            maxDiff = Math.max(maxDiff, diff);
        }
        for (double e : expected) {
            if (Double.isFinite(e)) {
                maxRef = Math.max(maxRef, Math.abs(e));
            }
        }
        return maxDiff / Math.max(maxRef, Double.MIN_NORMAL);
    }

    private static double norm(double[] a) {
        double sum = 0;
        for (double x : a) {
            sum += x * x;
        }
        return Math.sqrt(sum);
    }

    /** ||g - ref|| / ||ref|| in the Euclidean norm over the whole vector. */
    private static double normError(double[] g, double[] ref) {
        double diff = 0;
        double norm = 0;
        for (int i = 0; i < g.length; i++) {
            diff += (g[i] - ref[i]) * (g[i] - ref[i]);
            norm += ref[i] * ref[i];
        }
        return Math.sqrt(diff / norm);
    }
}
