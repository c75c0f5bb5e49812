package io.longnet.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The linear layer, on whichever path this JVM takes (netlib's BLAS or the loops) and on the loops
 * explicitly, against a float64 brute-force product: bias or none, stored or added to a residual, rows
 * read from an offset, row counts that are not multiples of the loops' four.
 */
class RowOpsTest {

    @ParameterizedTest(name = "rows {0}, in {1}, out {2}, bias {3}, accumulate {4}, from row {5}, seed {6}")
    @CsvSource({"1, 16, 8, true, false, 0, 1", "7, 32, 48, true, true, 0, 2", "33, 64, 20, false, false, 3, 3",
            "130, 256, 96, false, true, 5, 4", "64, 24, 258, false, false, 64, 5"})
    void linearEqualsFloat64Product(int rows, int in, int out, boolean bias, boolean accumulate, int row0, long seed) {
        System.out.println("RowOpsTest seed " + seed + ", products: " + NetlibBlas.describe());
        Random random = new Random(seed);
        float[] x = values(random, (row0 + rows) * in);
        float[] w = values(random, out * in);
        float[] b = bias ? values(random, out) : null;
        float[] residual = values(random, rows * out + 7); // longer than the product: the tail stays as it was
        double[] expected = new double[residual.length];
        for (int i = 0; i < residual.length; i++) {
            expected[i] = i >= rows * out || accumulate ? residual[i] : 0;
        }
        for (int r = 0; r < rows; r++) {
            for (int o = 0; o < out; o++) {
                double s = b == null ? 0 : b[o];
                for (int k = 0; k < in; k++) {
                    s += (double) x[(row0 + r) * in + k] * w[o * in + k];
                }
                expected[r * out + o] += s;
            }
        }
        float[] y = residual.clone();
        RowOps.linear(x, row0, rows, in, w, b, out, y, 0, accumulate);
        assertClose("linear (" + NetlibBlas.describe() + ")", y, expected);
        float[] loops = residual.clone();
        RowOps.linearLoops(x, row0, rows, in, w, b, out, loops, 0, accumulate);
        assertClose("loops", loops, expected);
        // Into y at an offset: the elements before it stay as they were.
        int yOff = 3;
        float[] shifted = new float[yOff + residual.length];
        float[] before = {11f, -7f, 5f};
        System.arraycopy(before, 0, shifted, 0, yOff);
        System.arraycopy(residual, 0, shifted, yOff, residual.length);
        RowOps.linear(x, row0, rows, in, w, b, out, shifted, yOff, accumulate);
        assertArrayEquals(before, java.util.Arrays.copyOf(shifted, yOff), "before the offset");
        assertClose("linear at an offset", java.util.Arrays.copyOfRange(shifted, yOff, shifted.length), expected);
        if (row0 == 0) {
            float[] whole = residual.clone();
            RowOps.linear(x, rows, in, w, b, out, whole, accumulate);
            assertClose("linear from row 0", whole, expected);
        }
    }

    private static float[] values(Random random, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) random.nextGaussian();
        }
        return v;
    }

    /** Each element within float32 rounding of a sum of {@code in} terms, relative to the row's scale. */
    private static void assertClose(String what, float[] actual, double[] expected) {
        for (int i = 0; i < expected.length; i++) {
            double err = Math.abs(actual[i] - expected[i]);
            assertTrue(err <= 1e-4 * (1 + Math.abs(expected[i])) + 2e-5 * Math.sqrt(256),
                    what + ": element " + i + " is " + actual[i] + ", float64 gives " + expected[i]);
        }
    }
}
