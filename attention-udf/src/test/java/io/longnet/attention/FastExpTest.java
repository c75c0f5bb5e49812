package io.longnet.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class FastExpTest {

    @Test
    void matchesMathExpWithinThreeTenthsOfAMillionthOnTheUsefulRange() {
        double worst = 0;
        float worstAt = 0;
        for (float x = -87f; x <= 0f; x = Math.nextUp(x + 1e-4f)) {
            double want = Math.exp(x);
            double err = Math.abs(FastExp.expNonPositive(x) - want) / want;
            if (err > worst) {
                worst = err;
                worstAt = x;
            }
        }
        assertTrue(worst < 3e-7, "relative error " + worst + " at x = " + worstAt);
    }

    @Test
    void knownValues() {
        assertEquals(1f, FastExp.expNonPositive(0f));
        assertEquals((float) Math.exp(-1), FastExp.expNonPositive(-1f), 1e-7f);
        assertEquals(0f, FastExp.expNonPositive(Float.NEGATIVE_INFINITY), "the causal mask gives exactly 0");
        assertEquals(0f, FastExp.expNonPositive(-1000f));
    }
}
