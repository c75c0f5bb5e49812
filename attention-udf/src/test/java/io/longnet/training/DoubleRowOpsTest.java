package io.longnet.training;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.longnet.attention.ParallelRows;
import io.longnet.model.NetlibBlas;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The blocked GEMMs of {@link DoubleRowOps} against plain triple loops, on shapes that hit every edge of the blocking. */
class DoubleRowOpsTest {

    /**
     * rows, in, out: multiples of the 4 x 4 tile and not, single rows and columns; on three threads the last
     * rows split into two and three chunks of rows, and into several chunks of the weight's rows.
     */
    private static final int[][] SHAPES = {
        {1, 1, 1}, {3, 5, 2}, {4, 4, 4}, {7, 9, 6}, {13, 16, 11}, {33, 12, 70}, {64, 128, 32}, {9, 70, 1},
        {101, 20, 50},
    };

    private static double[] random(SplittableRandom r, int n) {
        double[] a = new double[n];
        for (int i = 0; i < n; i++) {
            a[i] = r.nextDouble(-1, 1);
        }
        return a;
    }

    private static void assertClose(double[] expected, double[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], 1e-12 * Math.max(1, Math.abs(expected[i])), what + "[" + i + "]");
        }
    }

    @ParameterizedTest(name = "{0} thread(s)")
    @ValueSource(ints = {1, 3})
    void linearAndItsBackwardPassMatchPlainLoops(int threads) {
        long seed = 71;
        System.out.println("DoubleRowOps linear, seed " + seed + ", " + threads + " thread(s)");
        SplittableRandom r = new SplittableRandom(seed);
        try (ParallelRows pool = new ParallelRows(threads)) {
            linearMatchesPlainLoops(pool, r);
        }
    }

    private static void linearMatchesPlainLoops(ParallelRows pool, SplittableRandom r) {
        for (int[] shape : SHAPES) {
            int rows = shape[0];
            int in = shape[1];
            int out = shape[2];
            String at = rows + "x" + in + "->" + out;
            // Parameters at an offset, weights then bias, as in the model's flat vector.
            int w = 3;
            int b = w + in * out;
            double[] p = random(r, b + out + 2);
            double[] x = random(r, rows * in);
            double[] dy = random(r, rows * out);

            double[] y = random(r, rows * out); // overwritten
            DoubleRowOps.linear(pool, x, rows, in, p, w, b, out, y);
            double[] yRef = new double[rows * out];
            for (int i = 0; i < rows; i++) {
                for (int o = 0; o < out; o++) {
                    double s = p[b + o];
                    for (int k = 0; k < in; k++) {
                        s += x[i * in + k] * p[w + o * in + k];
                    }
                    yRef[i * out + o] = s;
                }
            }
            assertClose(yRef, y, "y " + at);

            double[] dx = random(r, rows * in);
            double[] grad = random(r, p.length);
            double[] dxRef = dx.clone();
            double[] gradRef = grad.clone();
            DoubleRowOps.linearBackward(pool, x, rows, in, p, w, b, out, dy, dx, grad);
            for (int i = 0; i < rows; i++) {
                for (int o = 0; o < out; o++) {
                    double g = dy[i * out + o];
                    gradRef[b + o] += g;
                    for (int k = 0; k < in; k++) {
                        dxRef[i * in + k] += g * p[w + o * in + k];
                        gradRef[w + o * in + k] += g * x[i * in + k];
                    }
                }
            }
            assertClose(dxRef, dx, "dx " + at);
            assertClose(gradRef, grad, "grad " + at);
        }
    }

    @Test
    void mulAddTakesAnyStridesAndPanelsOverALongSharedDimension() {
        long seed = 72;
        System.out.println("DoubleRowOps mulAdd, seed " + seed);
        SplittableRandom r = new SplittableRandom(seed);
        // m = 3 makes a panel of B about 10,920 rows: depth 23,001 crosses two panel edges, off the tile.
        int[][] shapes = {{5, 23_001, 3}, {6, 7, 5}, {8, 300, 130}};
        for (int[] shape : shapes) {
            int rows = shape[0];
            int depth = shape[1];
            int m = shape[2];
            // A stored transposed (A(i, k) at k * rows + i) behind an offset; B and C with padded rows.
            int aOff = 2;
            double[] a = random(r, aOff + depth * rows);
            int bOff = 5;
            int bRow = m + 3;
            double[] b = random(r, bOff + depth * bRow);
            int cOff = 1;
            int cRow = m + 2;
            double[] c = random(r, cOff + rows * cRow + 4);
            double[] loops = c.clone();
            double[] ref = c.clone();
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < m; j++) {
                    double s = 0;
                    for (int k = 0; k < depth; k++) {
                        s += a[aOff + k * rows + i] * b[bOff + k * bRow + j];
                    }
                    ref[cOff + i * cRow + j] += s;
                }
            }
            // mulAdd as this JVM runs it (netlib's dgemm when native), then its own loops.
            DoubleRowOps.mulAdd(a, aOff, 1, rows, rows, depth, b, bOff, bRow, m, c, cOff, cRow);
            DoubleRowOps.mulAddLoops(a, aOff, 1, rows, rows, depth, b, bOff, bRow, m, loops, cOff, cRow);
            for (int i = 0; i < c.length; i++) {
                assertEquals(ref[i], c[i], 1e-11 * Math.max(1, Math.abs(ref[i])),
                        rows + "x" + depth + "x" + m + " at " + i + " (" + NetlibBlas.describe() + ")");
                assertEquals(ref[i], loops[i], 1e-11 * Math.max(1, Math.abs(ref[i])),
                        rows + "x" + depth + "x" + m + " at " + i + " (loops)");
            }
        }
    }
}
