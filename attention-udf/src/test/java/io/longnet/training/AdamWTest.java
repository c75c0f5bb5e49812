package io.longnet.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.model.LongNetConfig;
import io.longnet.model.TensorNames;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class AdamWTest {

    private static final LongNetConfig CONFIG = TrainableModelTest.tiny(true);
    private static final ParameterLayout LAYOUT = ParameterLayout.of(CONFIG);
    private static final TensorNames.Layer L0 = TensorNames.layer(0);

    /** lr 0.1 constant (no warm-up, minimum ratio 1), betas 0.9 / 0.99, eps 1e-8, weight decay 0.1. */
    private static AdamW.Settings constant(double clipNorm) {
        return new AdamW.Settings(0.1, 0.9, 0.99, 1e-8, 0.1, 0, 10, 1.0, clipNorm);
    }

    /**
     * Two steps on three parameters (a decayed matrix entry, a bias, a LayerNorm weight) against values
     * computed by hand (Python, the formulas of torch.optim.AdamW):
     * {@code p = p (1 - lr wd) - lr mhat / (sqrt(vhat) + eps)}, the decay only on the matrix.
     */
    @Test
    void twoStepsMatchHandComputedValues() {
        int w = LAYOUT.offset(L0.qWeight()) + 5;
        int b = LAYOUT.offset(L0.fc1Bias()) + 2;
        int g = LAYOUT.offset(L0.ffnLnWeight()) + 1;
        double[] params = new double[LAYOUT.size()];
        params[w] = 0.8;
        params[b] = -0.3;
        params[g] = 1.2;
        AdamW adam = new AdamW(constant(Double.POSITIVE_INFINITY), LAYOUT);
        double[] grad = new double[LAYOUT.size()];
        // Raw gradients twice the effective ones: scale 0.5 is applied first.
        grad[w] = 1.0;
        grad[b] = 0.2;
        grad[g] = -0.04;
        assertEquals(0.510294032886923, adam.step(params, grad, 0.5), 1e-15, "pre-clip norm of the scaled gradient");
        assertEquals(1, adam.steps());
        assertEquals(0.692000002, params[w], 1e-15);
        assertEquals(-0.399999990000001, params[b], 1e-15);
        assertEquals(1.299999950000025, params[g], 1e-15);
        assertEquals(0.05, adam.firstMoment()[w], 1e-16);
        assertEquals(0.0025, adam.secondMoment()[w], 1e-17);
        assertEquals(1.0, grad[w], "the gradient is not modified");

        grad[w] = -0.5;
        grad[b] = 0.6;
        grad[g] = -0.04;
        assertEquals(0.39102429592034305, adam.step(params, grad, 0.5), 1e-15);
        assertEquals(0.6584100597479334, params[w], 1e-14);
        assertEquals(-0.49161249972059734, params[b], 1e-14);
        assertEquals(1.39999990000005, params[g], 1e-14);
        assertEquals(0.02, adam.firstMoment()[w], 1e-16);
        assertEquals(0.0031, adam.secondMoment()[w], 1e-17);
        assertEquals(-0.0038, adam.firstMoment()[g], 1e-17);
        assertEquals(7.96e-6, adam.secondMoment()[g], 1e-20);
        // Untouched parameters (gradient 0, value 0) stay 0.
        assertEquals(0.0, params[w + 1]);
    }

    /** Warm-up linear from lr / warmup, peak at the last warm-up step, cosine to lr * minRatio at totalSteps. */
    @Test
    void scheduleWarmsUpPeaksAndDecays() {
        AdamW adam = new AdamW(new AdamW.Settings(1e-3, 0.9, 0.98, 1e-8, 0.01, 10, 110, 0.1, 1.0), LAYOUT);
        assertEquals(1e-4, adam.learningRate(0), 1e-18);
        assertEquals(5e-4, adam.learningRate(4), 1e-18);
        assertEquals(1e-3, adam.learningRate(9), 1e-18, "peak at the end of the warm-up");
        assertEquals(1e-3, adam.learningRate(10), 1e-18, "cosine starts at the peak");
        assertEquals(5.5e-4, adam.learningRate(60), 1e-18, "half-way: the mean of peak and minimum");
        assertEquals(0.00010022204783542078, adam.learningRate(109), 1e-18);
        assertEquals(1e-4, adam.learningRate(110), 1e-18, "the minimum at totalSteps");
        assertEquals(1e-4, adam.learningRate(5000), 1e-18, "and after");
        for (int s = 10; s < 110; s++) {
            assertTrue(adam.learningRate(s + 1) <= adam.learningRate(s), "decreasing at " + s);
        }
        AdamW noWarmup = new AdamW(new AdamW.Settings(2e-3, 0.9, 0.98, 1e-8, 0.01, 0, 10, 0.0, 1.0), LAYOUT);
        assertEquals(2e-3, noWarmup.learningRate(0), 0.0);
        assertEquals(0.0, noWarmup.learningRate(10), 0.0);

        AdamW.Settings d = AdamW.Settings.defaults(500);
        assertEquals(new AdamW.Settings(1e-3, 0.9, 0.98, 1e-8, 0.01, 50, 500, 0.1, 1.0), d);
        assertEquals(100, AdamW.Settings.defaults(100_000).warmupSteps());
        assertEquals(0, AdamW.Settings.defaults(5).warmupSteps());
    }

    /** A gradient of scaled norm 10 is clipped to norm 1: the first moment is (1 - beta1) g / 10. */
    @Test
    void clippingScalesToTheNorm() {
        int a = LAYOUT.offset(L0.outWeight());
        int b = LAYOUT.offset(TensorNames.FINAL_LN_BIAS);
        for (double scale : new double[] {1.0, 0.5}) {
            AdamW adam = new AdamW(constant(1.0), LAYOUT);
            double[] grad = new double[LAYOUT.size()];
            grad[a] = 6 / scale;
            grad[b] = -8 / scale;
            assertEquals(10.0, adam.step(new double[LAYOUT.size()], grad, scale), 1e-14);
            assertEquals(0.1 * 0.6, adam.firstMoment()[a], 1e-16);
            assertEquals(0.1 * -0.8, adam.firstMoment()[b], 1e-16);
            assertEquals(0.01 * 0.64, adam.secondMoment()[b], 1e-17);
        }
        // Below the clip norm nothing is scaled.
        AdamW adam = new AdamW(constant(1.0), LAYOUT);
        double[] grad = new double[LAYOUT.size()];
        grad[a] = 0.3;
        grad[b] = 0.4;
        assertEquals(0.5, adam.step(new double[LAYOUT.size()], grad, 1.0), 1e-16);
        assertEquals(0.1 * 0.3, adam.firstMoment()[a], 1e-17);
    }

    /**
     * With a zero gradient the Adam term is 0, so a step is the decay alone: every matrix (the tied
     * embedding included) times exactly {@code 1 - lr wd}; biases and LayerNorm parameters unchanged.
     */
    @Test
    void decayOnlyOnMatrices() {
        long seed = 3;
        System.out.println("decay mask, seed " + seed);
        SplittableRandom rnd = new SplittableRandom(seed);
        double[] params = new double[LAYOUT.size()];
        for (int i = 0; i < params.length; i++) {
            params[i] = rnd.nextDouble() * 2 - 1;
        }
        double[] before = params.clone();
        AdamW adam = new AdamW(constant(1.0), LAYOUT);
        adam.step(params, new double[LAYOUT.size()], 1.0);
        int decayed = 0;
        for (String name : LAYOUT.names()) {
            boolean matrix = LAYOUT.shape(name).length == 2;
            assertEquals(matrix, adam.decays(name), name);
            decayed += matrix ? 1 : 0;
            for (int i = LAYOUT.offset(name); i < LAYOUT.offset(name) + LAYOUT.length(name); i++) {
                assertEquals(matrix ? before[i] * (1 - 0.1 * 0.1) : before[i], params[i], 0.0, name);
            }
        }
        assertTrue(adam.decays(TensorNames.EMBED_TOKENS));
        assertTrue(!adam.decays(L0.qBias()) && !adam.decays(L0.attnLnWeight()) && !adam.decays(L0.innerAttnLnWeight()));
        assertEquals(1 + 2 * 6, decayed, "embedding and q, k, v, out, fc1, fc2 of each layer");
    }

    @Test
    void badSettingsAndGradientsAreRejected() {
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> new AdamW.Settings(0, 0.9, 0.98, 1e-8, 0.01, 0, 10, 0.1, 1)).getMessage()
                .startsWith("learning rate must be a positive finite number (got 0.0"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> new AdamW.Settings(1e-3, 1.0, 0.98, 1e-8, 0.01, 0, 10, 0.1, 1)).getMessage()
                .startsWith("beta1 must be in [0, 1) (got 1.0"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> new AdamW.Settings(1e-3, 0.9, 0.98, 1e-8, 0.01, 20, 10, 0.1, 1)).getMessage()
                .startsWith("warm-up steps must be in [0, total steps 10] (got 20"));
        assertThrows(IllegalArgumentException.class, () -> new AdamW.Settings(1e-3, 0.9, 0.98, 1e-8, 0.01, 0, 10, 1.5, 1));
        assertThrows(IllegalArgumentException.class, () -> new AdamW.Settings(1e-3, 0.9, 0.98, 1e-8, 0.01, 0, 10, 0.1, 0));
        assertThrows(IllegalArgumentException.class, () -> new AdamW.Settings(1e-3, 0.9, 0.98, 0, 0.01, 0, 10, 0.1, 1));
        assertThrows(IllegalArgumentException.class, () -> AdamW.Settings.defaults(0));

        AdamW adam = new AdamW(constant(1.0), LAYOUT);
        double[] params = new double[LAYOUT.size()];
        Arrays.fill(params, 0.5);
        double[] grad = new double[LAYOUT.size()];
        grad[3] = Double.NaN;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> adam.step(params, grad, 1));
        assertTrue(e.getMessage().startsWith("gradient norm is NaN at step 0"), e.getMessage());
        assertEquals(0, adam.steps());
        double[] half = new double[LAYOUT.size()];
        Arrays.fill(half, 0.5);
        assertArrayEquals(half, params, "nothing changed");
        assertThrows(IllegalArgumentException.class, () -> adam.step(params, new double[3], 1));
        assertThrows(IllegalArgumentException.class, () -> adam.step(params, new double[LAYOUT.size()], 0));
        double[] v = new double[LAYOUT.size()];
        v[0] = -1;
        assertThrows(IllegalArgumentException.class,
                () -> AdamW.restore(constant(1.0), LAYOUT, 3, new double[LAYOUT.size()], v));
    }
}
