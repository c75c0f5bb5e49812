package io.longnet.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class FastExpTest {

    private static float exp(float x, float shift) {
        float[] a = {7f, x, 7f};
        FastExp.expInPlace(a, new float[] {0f, shift, 0f}, 1, 2, new float[3]);
        assertEquals(7f, a[0], "outside the range nothing changes");
        assertEquals(7f, a[2], "outside the range nothing changes");
        return a[1];
    }

    @Test
    void matchesMathExpWithinThreeTenthsOfAMillionthOnTheUsefulRange() {
        int n = 870_001;
        float[] x = new float[n];
        float[] shift = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = -87f * i / (n - 1);
            shift[i] = (i % 3) * 0.5f; // shifts exercise the subtraction too
            x[i] += shift[i];
        }
        float[] got = x.clone();
        FastExp.expInPlace(got, shift, 0, n, new float[n]);
        double worst = 0;
        for (int i = 0; i < n; i++) {
            double want = Math.exp((double) x[i] - shift[i]);
            worst = Math.max(worst, Math.abs(got[i] - want) / want);
        }
        assertTrue(worst < 3e-7, "worst relative error " + worst);
    }

    @Test
    void knownValues() {
        assertEquals(1f, exp(2.5f, 2.5f));
        assertEquals((float) Math.exp(-1), exp(-1f, 0f), 1e-7f);
        assertEquals(0f, exp(Float.NEGATIVE_INFINITY, 3f), "the causal mask gives exactly 0");
        assertEquals(0f, exp(-1000f, 0f));
    }

    @Test
    void exp2MatchesPowWithinThreeTenthsOfAMillionthOnTheUsefulRange() {
        int n = 1_260_001;
        float[] x = new float[n];
        float[] shift = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = -126f * i / (n - 1);
            shift[i] = (i % 3) * 0.5f;
            x[i] += shift[i];
        }
        float[] got = x.clone();
        FastExp.exp2InPlace(got, shift, 0, n, new float[n]);
        double worst = 0;
        for (int i = 0; i < n; i++) {
            double want = Math.pow(2, (double) x[i] - shift[i]);
            worst = Math.max(worst, Math.abs(got[i] - want) / want);
        }
        assertTrue(worst < 3e-7, "worst relative error " + worst);
        float[] edge = {0f, -0.5f, -1f, -126f, -127f, -127.5f, -1000f, Float.NEGATIVE_INFINITY};
        float[] want = {1f, (float) Math.sqrt(0.5), 0.5f, 0x1p-126f, 0f, 0f, 0f, 0f};
        float[] e = edge.clone();
        FastExp.exp2InPlace(e, new float[edge.length], 0, edge.length, new float[edge.length]);
        for (int i = 0; i < edge.length; i++) {
            assertEquals(want[i], e[i], 2e-7f * want[i], "2^" + edge[i]);
        }
    }

    @Test
    void exp2VectorCodeEqualsTheLoopsBitForBit() {
        org.junit.jupiter.api.Assumptions.assumeTrue(VectorApi.available(), VectorApi.describe());
        long seed = 17;
        System.out.println("FastExp float exp2 vector twin, seed " + seed);
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        jdk.incubator.vector.VectorSpecies<Float> species = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED;
        int n = 1024;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = i % 11 == 0 ? Float.NEGATIVE_INFINITY : (float) (-140 * r.nextDouble() * r.nextDouble());
        }
        float[] loops = x.clone();
        FastExp.exp2InPlace(loops, new float[n], 0, n, new float[n]);
        float[] vector = new float[n];
        for (int i = 0; i < n; i += species.length()) {
            VectorExp.exp2(jdk.incubator.vector.FloatVector.fromArray(species, x, i)).intoArray(vector, i);
        }
        org.junit.jupiter.api.Assertions.assertArrayEquals(loops, vector);
    }

    private static double exp(double x, double shift) {
        double[] a = {7, x, 7};
        FastExp.expInPlace(a, new double[] {0, shift, 0}, 1, 2, new double[3]);
        assertEquals(7.0, a[0], "outside the range nothing changes");
        assertEquals(7.0, a[2], "outside the range nothing changes");
        return a[1];
    }

    @Test
    void doubleMatchesStrictMathExpWithinTwoUlps() {
        long seed = 91;
        System.out.println("FastExp double, seed " + seed);
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        int n = 1_000_000;
        double[] x = new double[n];
        double[] shift = new double[n];
        for (int i = 0; i < n; i++) {
            // Half spread over the softmax's usual range, half over all of [-708, 0]; a few slightly positive.
            double arg = i % 2 == 0 ? -40 * r.nextDouble() : -708 * r.nextDouble();
            if (i % 1000 == 0) {
                arg = 1e-3 * r.nextDouble();
            }
            shift[i] = (i % 3) * 0.75;
            x[i] = arg + shift[i];
        }
        double[] got = x.clone();
        FastExp.expInPlace(got, shift, 0, n, new double[n]);
        double worst = 0;
        for (int i = 0; i < n; i++) {
            double want = StrictMath.exp(x[i] - shift[i]);
            worst = Math.max(worst, Math.abs(got[i] - want) / want);
        }
        System.out.println("  worst relative error " + worst);
        assertTrue(worst < 4.5e-16, "worst relative error " + worst);
    }

    @Test
    void doubleVectorCodeEqualsTheLoopsBitForBit() {
        org.junit.jupiter.api.Assumptions.assumeTrue(VectorApi.available(), VectorApi.describe());
        long seed = 5;
        System.out.println("FastExp double vector twin, seed " + seed);
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        int n = 1003;
        double[] x = new double[n];
        double[] shift = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = i % 7 == 0 ? Double.NEGATIVE_INFINITY : -750 * r.nextDouble() * r.nextDouble();
            shift[i] = r.nextDouble() - 0.5;
        }
        x[1] = 0;
        shift[1] = 0;
        double[] loops = x.clone();
        FastExp.expInPlaceLoops(loops, shift, 1, n, new double[n]);
        double[] vector = x.clone();
        VectorExp.expInPlace(vector, shift, 1, n, new double[n]);
        org.junit.jupiter.api.Assertions.assertArrayEquals(loops, vector);
        org.junit.jupiter.api.Assertions.assertEquals(1.0, vector[1]);
        org.junit.jupiter.api.Assertions.assertEquals(x[0], vector[0]); // before from: untouched
    }

    @Test
    void doubleKnownValues() {
        assertEquals(1.0, exp(2.5, 2.5), "exp(0) is exactly 1");
        assertEquals(Math.E, exp(1.0, 0.0), Math.ulp(Math.E));
        assertEquals(Math.exp(-700), exp(-700.0, 0.0), 4e-16 * Math.exp(-700));
        assertEquals(0.0, exp(Double.NEGATIVE_INFINITY, 3.0), "the causal mask gives exactly 0");
        assertEquals(0.0, exp(-1000.0, 0.0));
        assertTrue(Double.isNaN(exp(Double.NaN, 0.0)));
    }
}
