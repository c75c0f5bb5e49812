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
}
