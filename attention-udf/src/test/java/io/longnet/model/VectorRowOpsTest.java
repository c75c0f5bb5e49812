package io.longnet.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.longnet.attention.VectorApi;
import io.longnet.attention.VectorExp;
import java.util.Random;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The Vector API layers against float64 references and against their scalar twins in {@link RowOps}: GELU
 * over its whole range (the tail of negative arguments relative to its own tiny values), LayerNorm of rows
 * with a large common offset and of widths that leave a tail past the last vector, log-sum-exp.
 */
class VectorRowOpsTest {

    @BeforeEach
    void needsTheVectorApi() {
        assumeTrue(VectorApi.available(), "the Vector API is not available: " + VectorApi.describe());
    }

    @Test
    void geluIsWithinThreeMillionthsOfTheExactOne() {
        int n = 40_003; // not a multiple of the vector length: the tail runs through Gelu
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = -12f + 24f * i / (n - 1);
        }
        float[] vector = x.clone();
        VectorRowOps.gelu(vector, n);
        float[] loops = x.clone();
        RowOps.geluLoops(loops, n);
        double worst = 0;
        for (int i = 0; i < n; i++) {
            double exact = Gelu.gelu(x[i]);
            if (Math.abs(x[i]) <= 5) {
                worst = Math.max(worst, Math.abs(vector[i] - exact) / Math.max(Math.abs(exact), Float.MIN_NORMAL));
            } else {
                // Beyond, GELU is x or below 1.5e-6 in size: its rounding is what is left to check.
                assertEquals(exact, vector[i], 1e-6 * Math.abs(exact) + 1e-12, "vector GELU at " + x[i]);
            }
            assertEquals(exact, loops[i], 1e-7 * Math.abs(exact), "loops at " + x[i]);
        }
        assertTrue(worst < 3e-6, "worst relative error of the vector GELU on [-5, 5]: " + worst);
    }

    @Test
    void layerNormMatchesFloat64() {
        long seed = 11;
        System.out.println("VectorRowOpsTest seed " + seed);
        Random random = new Random(seed);
        for (int width : new int[] {256, 1024, 37}) {
            int rows = 5;
            float[] x = new float[rows * width];
            float[] g = new float[width];
            float[] b = new float[width];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) (100 + random.nextGaussian()); // an offset common to the row
            }
            for (int k = 0; k < width; k++) {
                g[k] = (float) (1 + 0.1 * random.nextGaussian());
                b[k] = (float) (0.1 * random.nextGaussian());
            }
            float[] vector = new float[x.length];
            for (int r = 0; r < rows; r++) {
                VectorRowOps.layerNorm(x, r * width, width, g, b, 1e-5, vector, r * width);
            }
            float[] loops = new float[x.length];
            RowOps.layerNormLoops(x, 0, rows, width, g, b, 1e-5, loops, 0);
            for (int r = 0; r < rows; r++) {
                double mean = 0;
                for (int k = 0; k < width; k++) {
                    mean += x[r * width + k];
                }
                mean /= width;
                double var = 0;
                for (int k = 0; k < width; k++) {
                    double c = x[r * width + k] - mean;
                    var += c * c;
                }
                double inv = 1 / Math.sqrt(var / width + 1e-5);
                for (int k = 0; k < width; k++) {
                    double expected = (x[r * width + k] - mean) * inv * g[k] + b[k];
                    assertEquals(expected, vector[r * width + k], 2e-4, "vector, width " + width + ", row " + r);
                    assertEquals(expected, loops[r * width + k], 2e-4, "loops, width " + width + ", row " + r);
                }
            }
        }
    }

    @Test
    void logSumExpMatchesFloat64() {
        Random random = new Random(12);
        float[] x = new float[3 + 258];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (5 * random.nextGaussian());
        }
        double max = Double.NEGATIVE_INFINITY;
        for (int k = 3; k < x.length; k++) {
            max = Math.max(max, x[k]);
        }
        double sum = 0;
        for (int k = 3; k < x.length; k++) {
            sum += Math.exp(x[k] - max);
        }
        double expected = max + Math.log(sum);
        assertEquals(expected, VectorRowOps.logSumExp(x, 3, 258), 1e-5 * Math.abs(expected));
        assertEquals(expected, RowOps.logSumExpLoops(x, 3, 258), 1e-12 * Math.abs(expected));
    }

    @Test
    void expIsExactEnoughAndZeroFarBelow() {
        float[] x = {0f, -1e-3f, -0.5f, -1f, -10f, -50f, -87f, -88.5f, -200f, Float.NEGATIVE_INFINITY};
        float[] out = new float[8];
        for (int at = 0; at + 8 <= x.length; at += 2) {
            VectorExp.exp(FloatVector.fromArray(FloatVector.SPECIES_256, x, at))
                    .intoArray(out, 0);
            for (int i = 0; i < 8; i++) {
                double expected = Math.exp(x[at + i]);
                if (x[at + i] < -88.1f) {
                    assertEquals(0f, out[i], "exp(" + x[at + i] + ")");
                } else {
                    assertEquals(expected, out[i], 4e-7 * expected, "exp(" + x[at + i] + ")");
                }
            }
        }
    }
}
