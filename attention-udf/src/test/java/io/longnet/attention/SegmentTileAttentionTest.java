package io.longnet.attention;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.longnet.attention.SegmentTileAttention.Rows;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.LongStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The SIMD steps of a tile against its scalar ones: the same operations in the same order per query, so
 * the same bits (their accuracy against float64 is {@code CpuAttentionKernelTest}'s, which runs the SIMD
 * steps whenever the tests' JVM has the Vector API, as the build's has).
 */
class SegmentTileAttentionTest {

    static LongStream seeds() {
        return LongStream.range(0, 40);
    }

    @ParameterizedTest
    @MethodSource("seeds")
    void simdStepsGiveTheScalarStepsBits(long seed) {
        assumeTrue(VectorApi.available(), "the JVM runs without " + VectorApi.MODULE);
        SplittableRandom rnd = new SplittableRandom(seed);
        int[] widths = {1, 3, 4, 16, 30, 32, 64, 128};
        int d = widths[rnd.nextInt(widths.length)];
        int keyRows = 1 + rnd.nextInt(300);
        int queryRows = 1 + rnd.nextInt(300);
        boolean causal = rnd.nextBoolean();
        int shift = causal ? rnd.nextInt(Math.max(1, keyRows - queryRows + 1)) : 0;
        float spread = rnd.nextBoolean() ? 1f : 12f; // large scores make exp() underflow to 0
        float[] q = random(rnd, queryRows * d, spread);
        float[] k = random(rnd, keyRows * d, spread);
        float[] v = random(rnd, keyRows * d, 1f);

        float[][] scalar = run(false, d, q, k, v, queryRows, keyRows, shift, causal);
        float[][] simd = run(true, d, q, k, v, queryRows, keyRows, shift, causal);
        assertArrayEquals(scalar[0], simd[0], "o, d=" + d + " keys=" + keyRows + " queries=" + queryRows);
        assertArrayEquals(scalar[1], simd[1], "lse");
        for (float l : simd[1]) {
            assertTrue(Float.isFinite(l), "every query sees at least one key: lse " + l);
        }
    }

    /**
     * Query rows attend to a first key set, then to a second merged into the first's o and lse, as a
     * branch's result merges into the previous branches': both twins give attention over the union of the
     * keys (float64 reference), with the same bits. Rows without an lse yet are not read (o starts as NaN).
     */
    @ParameterizedTest
    @MethodSource("seeds")
    void aSecondKeySetMergesIntoTheFirstAsAttentionOverBoth(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int[] widths = {1, 3, 8, 30, 32, 64};
        int d = widths[rnd.nextInt(widths.length)];
        int queryRows = 1 + rnd.nextInt(300);
        int first = 1 + rnd.nextInt(150);
        int second = 1 + rnd.nextInt(150);
        float spread = rnd.nextBoolean() ? 1f : 3f; // either part may dominate a row's weight
        float[] q = random(rnd, queryRows * d, spread);
        float[] k = random(rnd, (first + second) * d, spread);
        float[] v = random(rnd, (first + second) * d, 1f);
        int[] all = new int[first + second];
        Arrays.setAll(all, j -> j);
        double[][] want = LseMergeTest.attention(q, k, v, queryRows, d, all);

        float[][] scalar = null;
        for (boolean simd : VectorApi.available() ? new boolean[] {false, true} : new boolean[] {false}) {
            SegmentTileAttention tile = SegmentTileAttention.create(d, simd);
            FloatBuffer o = FloatBuffer.wrap(filled(queryRows * d, Float.NaN));
            FloatBuffer lse = FloatBuffer.wrap(filled(queryRows, Float.NEGATIVE_INFINITY));
            Rows rows = new Rows(0, d);
            for (int i0 = 0; i0 < queryRows; i0 += SegmentTileAttention.TILE_Q) {
                int i1 = Math.min(queryRows, i0 + SegmentTileAttention.TILE_Q);
                tile.attend(FloatBuffer.wrap(q), rows, FloatBuffer.wrap(k), FloatBuffer.wrap(v), rows, first, o, lse,
                        i0, i1, 0, false);
                tile.attend(FloatBuffer.wrap(q), rows, FloatBuffer.wrap(k), FloatBuffer.wrap(v),
                        new Rows(first * d, d), second, o, lse, i0, i1, 0, false);
            }
            String what = (simd ? "simd" : "scalar") + ", d=" + d + " queries=" + queryRows + " keys=" + first
                    + "+" + second;
            double eo = Tensors.relativeError(o.array(), want[0]);
            double el = Tensors.relativeError(lse.array(), want[1]);
            assertTrue(eo < 1e-5 && el < 1e-5, what + ": o error " + eo + ", lse error " + el);
            if (scalar == null) {
                scalar = new float[][] {o.array(), lse.array()};
            } else {
                assertArrayEquals(scalar[0], o.array(), what + ": o");
                assertArrayEquals(scalar[1], lse.array(), what + ": lse");
            }
        }
    }

    /** o and lse of query rows attended tile by tile, as the kernel does, with one tile object throughout. */
    private static float[][] run(boolean simd, int d, float[] q, float[] k, float[] v, int queryRows, int keyRows,
                                 int shift, boolean causal) {
        SegmentTileAttention tile = SegmentTileAttention.create(d, simd);
        FloatBuffer o = FloatBuffer.allocate(queryRows * d);
        FloatBuffer lse = FloatBuffer.wrap(filled(queryRows, Float.NEGATIVE_INFINITY));
        Rows rows = new Rows(0, d);
        for (int i0 = 0; i0 < queryRows; i0 += SegmentTileAttention.TILE_Q) {
            int i1 = Math.min(queryRows, i0 + SegmentTileAttention.TILE_Q);
            tile.attend(FloatBuffer.wrap(q), rows, FloatBuffer.wrap(k), FloatBuffer.wrap(v), rows, keyRows, o, lse,
                    i0, i1, shift, causal);
        }
        return new float[][] {o.array(), lse.array()};
    }

    private static float[] random(SplittableRandom rnd, int n, float spread) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (rnd.nextGaussian() * spread);
        }
        return x;
    }

    private static float[] filled(int n, float value) {
        float[] x = new float[n];
        Arrays.fill(x, value);
        return x;
    }
}
