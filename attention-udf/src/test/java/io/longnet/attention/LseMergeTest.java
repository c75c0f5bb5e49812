package io.longnet.attention;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Attention over a key set split in parts, merged by lse, equals attention over the whole set. */
class LseMergeTest {

    /** Float64 attention of queries {@code q} ({@code m x d}) over the keys listed in {@code keys}. */
    static double[][] attention(float[] q, float[] k, float[] v, int m, int d, int[] keys) {
        double[] o = new double[m * d];
        double[] lse = new double[m];
        for (int i = 0; i < m; i++) {
            double[] s = new double[keys.length];
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < keys.length; j++) {
                for (int e = 0; e < d; e++) {
                    s[j] += (double) q[i * d + e] * k[keys[j] * d + e];
                }
                s[j] /= Math.sqrt(d);
                max = Math.max(max, s[j]);
            }
            double sum = 0;
            for (double x : s) {
                sum += Math.exp(x - max);
            }
            lse[i] = keys.length == 0 ? Double.NEGATIVE_INFINITY : max + Math.log(sum);
            for (int j = 0; j < keys.length; j++) {
                double p = Math.exp(s[j] - lse[i]);
                for (int e = 0; e < d; e++) {
                    o[i * d + e] += p * v[keys[j] * d + e];
                }
            }
        }
        return new double[][] {o, lse};
    }

    private static float[] toFloat(double[] a) {
        float[] f = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            f[i] = (float) a[i];
        }
        return f;
    }

    @Test
    void mergingPartsOfAKeySetEqualsAttentionOverTheWholeSet() {
        for (long seed = 0; seed < 20; seed++) {
            SplittableRandom rnd = new SplittableRandom(seed);
            int m = 1 + rnd.nextInt(40);
            int n = 2 + rnd.nextInt(300);
            int d = 1 + rnd.nextInt(64);
            float[] q = Tensors.random(rnd, m * d, 3.0);
            float[] k = Tensors.random(rnd, n * d, 3.0);
            float[] v = Tensors.random(rnd, n * d, 1.0);
            int[] all = new int[n];
            Arrays.setAll(all, i -> i);
            double[][] whole = attention(q, k, v, m, d, all);

            // Split the keys into 1..4 interleaved parts by a random label per key.
            int parts = 1 + rnd.nextInt(4);
            int[] label = new int[n];
            Arrays.setAll(label, i -> rnd.nextInt(parts));
            float[] o = null;
            float[] lse = null;
            for (int p = 0; p < parts; p++) {
                int part = p;
                int[] keys = Arrays.stream(all).filter(i -> label[i] == part).toArray();
                double[][] partial = attention(q, k, v, m, d, keys);
                if (o == null) {
                    o = toFloat(partial[0]);
                    lse = toFloat(partial[1]);
                } else {
                    AttentionResult merged = LseMerge.merge(o, lse, toFloat(partial[0]), toFloat(partial[1]), d);
                    o = merged.oArray();
                    lse = merged.lseArray();
                }
            }
            double eo = Tensors.relativeError(o, whole[0]);
            double el = Tensors.relativeError(lse, whole[1]);
            assertTrue(eo < 1e-6 && el < 1e-6, "seed " + seed + ": o error " + eo + ", lse error " + el);
        }
    }

    /**
     * The engine's excess {@code lse log2(e) - max2} is within 2 float ulps of the exact difference, also
     * where the two terms nearly cancel (the plain float product {@code lse * 1.4426950f} is off by up to
     * an ulp of {@code |lse| log2(e)}, thousands of the difference's ulps there).
     */
    @Test
    void excessIsAccurateToTheDifferencesUlp() {
        SplittableRandom rnd = new SplittableRandom(7);
        for (int t = 0; t < 100_000; t++) {
            float lse = (float) ((rnd.nextDouble() - 0.3) * 200);
            float near = (float) (lse * 1.4426950408889634);
            float max2 = rnd.nextBoolean() ? near + (float) (rnd.nextGaussian() * 1e-3)
                    : near + (float) (rnd.nextGaussian() * 30);
            double exact = lse * 1.4426950408889634 - max2;
            float got = LseMerge.excess2(lse, max2);
            double bound = 2 * Math.ulp((float) exact) + 1e-12;
            assertTrue(Math.abs(got - exact) <= bound, "lse " + lse + ", max2 " + max2 + ": excess " + got
                    + ", exact " + exact);
        }
        assertEquals(Float.POSITIVE_INFINITY, LseMerge.excess2(3f, Float.NEGATIVE_INFINITY), "a part with no keys");
        assertEquals(Float.NEGATIVE_INFINITY, LseMerge.excess2(Float.NEGATIVE_INFINITY, 3f), "a row with none yet");
    }

    @Test
    void anEmptyPartLeavesTheResultUnchanged() {
        SplittableRandom rnd = new SplittableRandom(1);
        float[] o = Tensors.random(rnd, 3 * 5, 1.0);
        float[] lse = Tensors.random(rnd, 3, 4.0);
        float[] emptyLse = new float[3];
        Arrays.fill(emptyLse, Float.NEGATIVE_INFINITY);
        AttentionResult left = LseMerge.merge(o, lse, new float[15], emptyLse, 5);
        AttentionResult right = LseMerge.merge(new float[15], emptyLse, o, lse, 5);
        assertArrayEquals(o, left.oArray());
        assertArrayEquals(lse, left.lseArray());
        assertArrayEquals(o, right.oArray());
        assertArrayEquals(lse, right.lseArray());
    }
}
