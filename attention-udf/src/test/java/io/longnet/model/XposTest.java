package io.longnet.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class XposTest {

    /**
     * torchscale's centring for N = 5, d = 4: positions -3..1, so position 0 is scaled by
     * scale_i^(-3/base) and rotated by angle 0.
     */
    @Test
    void firstPositionIsScaledByTheCentredPower() {
        Xpos xpos = new Xpos(4, 512);
        float[] q = {1, 0, 0, 1};
        xpos.table(0, 1, 5).apply(q, 1, false);
        double s0 = Math.pow(0.4 * 4 / (1.4 * 4), -3.0 / 512);
        double s1 = Math.pow((2 + 0.4 * 4) / (1.4 * 4), -3.0 / 512);
        assertEquals(s0, q[0], 1e-6);
        assertEquals(0, q[1], 0);
        assertEquals(0, q[2], 0);
        assertEquals(s1, q[3], 1e-6);
    }

    /** Query-key dot products depend only on the difference of positions (rotation and decay both). */
    @Test
    void scoresDependOnRelativePositionOnly() {
        int d = 16;
        int n = 300;
        Xpos xpos = new Xpos(d, 64); // a small base so the decay is strong
        SplittableRandom rnd = new SplittableRandom(5);
        float[] qv = new float[d];
        float[] kv = new float[d];
        for (int i = 0; i < d; i++) {
            qv[i] = (float) rnd.nextGaussian();
            kv[i] = (float) rnd.nextGaussian();
        }
        Xpos.Table table = xpos.table(0, n, n);
        float[] q = new float[n * d];
        float[] k = new float[n * d];
        for (int p = 0; p < n; p++) {
            System.arraycopy(qv, 0, q, p * d, d);
            System.arraycopy(kv, 0, k, p * d, d);
        }
        table.apply(q, 1, false);
        table.apply(k, 1, true);
        for (int delta : new int[] {0, 1, 7, 100}) {
            double first = dot(q, k, delta, 0, d);
            for (int s = 1; s + delta < n; s += 13) {
                double shifted = dot(q, k, s + delta, s, d);
                assertEquals(first, shifted, 1e-5 * Math.max(1, Math.abs(first)), "delta " + delta + ", shift " + s);
            }
        }
        // and the decay makes far keys weigh less: scale_i < 1, raised to a positive power.
        assertTrue(Math.abs(dot(q, q, 0, 0, d)) > 0);
    }

    private static double dot(float[] q, float[] k, int p, int s, int d) {
        double sum = 0;
        for (int i = 0; i < d; i++) {
            sum += (double) q[p * d + i] * k[s * d + i];
        }
        return sum;
    }

    /**
     * Centred per window, a query and a key of the same window score exactly as with torchscale's
     * whole-sequence centring (up to rounding): the shift cancels in q . k.
     */
    @Test
    void windowedCentringKeepsScoresWithinAWindow() {
        int d = 16;
        int n = 300;
        int window = 64;
        SplittableRandom rnd = new SplittableRandom(8);
        float[] q = new float[n * d];
        float[] k = new float[n * d];
        for (int i = 0; i < n * d; i++) {
            q[i] = (float) rnd.nextGaussian();
            k[i] = (float) rnd.nextGaussian();
        }
        float[] q1 = q.clone();
        float[] k1 = k.clone();
        Xpos.Table whole = new Xpos(d, 64).table(0, n, n);
        whole.apply(q1, 1, false);
        whole.apply(k1, 1, true);
        Xpos.Table windowed = new Xpos(d, 64, window).table(0, n, n);
        windowed.apply(q, 1, false);
        windowed.apply(k, 1, true);
        for (int p = 0; p < n; p += 7) {
            for (int s = p / window * window; s <= p; s += 5) {
                double want = dot(q1, k1, p, s, d);
                assertEquals(want, dot(q, k, p, s, d), 1e-4 * Math.max(1, Math.abs(want)), "p " + p + ", s " + s);
            }
        }
        assertTrue(Math.abs(q[0] - q1[0]) > 1e-3, "the centring itself differs: the test compares something");
    }

    /**
     * Rows rotated in ranges (a thread's share each) give the bits of one call over all rows, forward and
     * transposed; and the transposed rotation is the adjoint of the forward one ({@code <Rx, y> = <x, R^T y>}).
     */
    @Test
    void rowRangesRotateExactlyAsOneCallAndTheTransposeIsTheAdjoint() {
        long seed = 17;
        System.out.println("xPos row ranges, seed " + seed);
        Xpos xpos = new Xpos(8, 4);
        int rows = 37;
        int heads = 3;
        Xpos.Table table = xpos.table(5, rows, 64);
        SplittableRandom rnd = new SplittableRandom(seed);
        double[] x = new double[rows * heads * 8];
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            x[i] = rnd.nextDouble(-2, 2);
            y[i] = rnd.nextDouble(-2, 2);
        }
        for (boolean down : new boolean[] {false, true}) {
            for (boolean transposed : new boolean[] {false, true}) {
                double[] whole = x.clone();
                table.apply(whole, heads, down, transposed, 0, rows);
                double[] ranges = x.clone();
                table.apply(ranges, heads, down, transposed, 0, 11);
                table.apply(ranges, heads, down, transposed, 11, 11);
                table.apply(ranges, heads, down, transposed, 11, rows);
                assertArrayEquals(whole, ranges, "transposed " + transposed + ", downscale " + down);
            }
            double[] rx = x.clone();
            table.apply(rx, heads, down, false, 0, rows);
            double[] rty = y.clone();
            table.apply(rty, heads, down, true, 0, rows);
            double forward = 0;
            double adjoint = 0;
            for (int i = 0; i < x.length; i++) {
                forward += rx[i] * y[i];
                adjoint += x[i] * rty[i];
            }
            assertEquals(forward, adjoint, 1e-12 * x.length, "downscale " + down);
            assertTrue(Math.abs(rx[8] - x[8]) > 1e-3, "x is rotated: the test compares something");
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> table.apply(x, heads, false, false, 30, 38));
        assertTrue(e.getMessage().contains("rows [30, 38) are not inside [0, 37)"), e.getMessage());
    }

    @Test
    void tooLongSequencesAreRefusedClearly() {
        Xpos xpos = new Xpos(64, 512);
        assertEquals(56656, xpos.maxLength());
        xpos.table(0, 1, 56656);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> xpos.table(0, 1, 100_000));
        assertTrue(e.getMessage().startsWith("xPos over 100000 positions: factors would reach 2^"), e.getMessage());
        // Windows of 32768 positions (the paper's longest segment) keep any sequence within range.
        Xpos.Table far = new Xpos(64, 512, 32768).table(999_990, 10, 1_000_000);
        float[] x = new float[10 * 64];
        java.util.Arrays.fill(x, 1f);
        far.apply(x, 1, false);
        for (float v : x) {
            assertTrue(Float.isFinite(v), "finite at 1M positions");
        }
        assertThrows(IllegalArgumentException.class, () -> xpos.table(5, 10, 12));
        assertEquals(113314, new Xpos(8, 1024).maxLength()); // grows with the base; pair 0 does not depend on d
    }
}
