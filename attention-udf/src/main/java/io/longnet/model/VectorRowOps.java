package io.longnet.model;

import io.longnet.attention.VectorExp;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link RowOps}' element-wise layers written with the JDK's Vector API: GELU, LayerNorm and the head's
 * log-sum-exp, eight floats at a time (docs/ARCHITECTURE.md §6). Load only after
 * {@link io.longnet.attention.VectorApi#available()} said yes; {@link RowOps} keeps the scalar twins.
 *
 * <p>GELU here is float arithmetic, not {@link Gelu}'s double table (a table needs a gather per element):
 * {@code gelu(x) = x erfc(-x / sqrt 2) / 2} with {@code erfc} by Numerical Recipes' {@code erfcc}, a
 * Chebyshev fit of {@code erfc(z) exp(z^2)} in {@code t = 1 / (1 + z/2)} whose relative error is below
 * 1.2e-7 for every {@code z >= 0} (so the tail, where GELU of a negative argument is tiny, keeps its
 * digits), and {@code erfc(-z) = 2 - erfc(z)}. In float the whole is within 3e-6 relative of the exact GELU
 * for {@code |x| <= 5}; beyond, where GELU is {@code x} or below 1.5e-6 in size, the float rounding of
 * {@code z^2} in the exponent leaves up to about 2e-5 relative of those tiny values (the tests measure
 * both): far inside the float32 model's tolerances.
 */
final class VectorRowOps {

    private static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_256;
    private static final int L = FLOATS.length();

    private static final float SQRT_HALF = 0.70710678f;
    /** erfcc's coefficients, {@code t^0} first. */
    private static final float[] ERFCC = {-1.26551223f, 1.00002368f, 0.37409196f, 0.09678418f, -0.18628806f,
            0.27886807f, -1.13520398f, 1.48851587f, -0.82215223f, 0.17087277f};

    private VectorRowOps() {
    }

    /** Exact GELU in place on the first {@code count} elements; the tail past the last vector by {@link Gelu}. */
    static void gelu(float[] x, int count) {
        int i = 0;
        for (int end = FLOATS.loopBound(count); i < end; i += L) {
            gelu(FloatVector.fromArray(FLOATS, x, i)).intoArray(x, i);
        }
        for (; i < count; i++) {
            x[i] = (float) Gelu.gelu(x[i]);
        }
    }

    /** {@code x erfc(-x / sqrt 2) / 2}, erfc as described on the class. */
    static FloatVector gelu(FloatVector x) {
        FloatVector z = x.mul(-SQRT_HALF);
        FloatVector a = z.abs();
        FloatVector t = a.fma(0.5f, 1f);
        t = FloatVector.broadcast(FLOATS, 1f).div(t);
        FloatVector p = FloatVector.broadcast(FLOATS, ERFCC[9]);
        for (int n = 8; n >= 0; n--) {
            p = p.fma(t, FloatVector.broadcast(FLOATS, ERFCC[n]));
        }
        FloatVector e = t.mul(VectorExp.exp(p.sub(a.mul(a))));
        FloatVector erfc = e.blend(e.neg().add(2f), z.compare(VectorOperators.LT, 0f));
        return x.mul(0.5f).mul(erfc);
    }

    /**
     * LayerNorm of one row, {@code width} values from {@code off} into {@code y} from {@code out}, as
     * {@link RowOps#layerNorm}, statistics in float vectors (two passes: the mean, then the squares about it, so
     * that an offset common to a row costs no digits). {@code y} may be {@code x} (with {@code out == off}).
     * One row per call: a method called once per row is compiled whole, with its vector operations
     * intrinsified, where one long loop over all rows ran for a while in a less optimised compilation.
     */
    static void layerNorm(float[] x, int off, int width, float[] g, float[] b, double eps, float[] y, int out) {
        int end = FLOATS.loopBound(width);
        FloatVector acc = FloatVector.zero(FLOATS);
        for (int k = 0; k < end; k += L) {
            acc = acc.add(FloatVector.fromArray(FLOATS, x, off + k));
        }
        double sum = acc.reduceLanes(VectorOperators.ADD);
        for (int k = end; k < width; k++) {
            sum += x[off + k];
        }
        float mean = (float) (sum / width);
        acc = FloatVector.zero(FLOATS);
        for (int k = 0; k < end; k += L) {
            FloatVector c = FloatVector.fromArray(FLOATS, x, off + k).sub(mean);
            acc = c.fma(c, acc);
        }
        double sq = acc.reduceLanes(VectorOperators.ADD);
        for (int k = end; k < width; k++) {
            double c = x[off + k] - mean;
            sq += c * c;
        }
        float inv = (float) (1 / Math.sqrt(sq / width + eps));
        for (int k = 0; k < end; k += L) {
            FloatVector c = FloatVector.fromArray(FLOATS, x, off + k).sub(mean).mul(inv);
            c.fma(FloatVector.fromArray(FLOATS, g, k), FloatVector.fromArray(FLOATS, b, k)).intoArray(y, out + k);
        }
        for (int k = end; k < width; k++) {
            y[out + k] = (x[off + k] - mean) * inv * g[k] + b[k];
        }
    }

    /** {@code log sum_k exp(x[off + k])} over {@code width} values: the maximum, then float exponentials. */
    static double logSumExp(float[] x, int off, int width) {
        int end = FLOATS.loopBound(width);
        FloatVector m = FloatVector.broadcast(FLOATS, Float.NEGATIVE_INFINITY);
        for (int k = 0; k < end; k += L) {
            m = m.max(FloatVector.fromArray(FLOATS, x, off + k));
        }
        float max = m.reduceLanes(VectorOperators.MAX);
        for (int k = end; k < width; k++) {
            max = Math.max(max, x[off + k]);
        }
        FloatVector acc = FloatVector.zero(FLOATS);
        for (int k = 0; k < end; k += L) {
            acc = acc.add(VectorExp.exp(FloatVector.fromArray(FLOATS, x, off + k).sub(max)));
        }
        double sum = acc.reduceLanes(VectorOperators.ADD);
        for (int k = end; k < width; k++) {
            sum += Math.exp(x[off + k] - max);
        }
        return max + Math.log(sum);
    }
}
