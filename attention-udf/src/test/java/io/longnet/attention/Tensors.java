package io.longnet.attention;

import java.util.SplittableRandom;

/** Random test tensors and the error measure the tests share. */
public final class Tensors {

    private Tensors() {
    }

    /** Values uniform in (-scale, scale), never all zero. */
    public static float[] random(SplittableRandom rnd, int size, double scale) {
        float[] a = new float[size];
        for (int i = 0; i < size; i++) {
            a[i] = (float) ((rnd.nextDouble() * 2 - 1) * scale);
        }
        return a;
    }

    /**
     * Relative error of {@code actual} against {@code expected}: the largest elementwise difference over
     * the largest magnitude of the reference (the norm-wise measure used for attention kernels; an
     * elementwise ratio is meaningless where the reference crosses zero).
     */
    public static double relativeError(float[] actual, double[] expected) {
        if (actual.length != expected.length) {
            throw new AssertionError("length " + actual.length + " != " + expected.length);
        }
        double maxDiff = 0;
        double maxRef = 0;
        for (int i = 0; i < actual.length; i++) {
            double diff = Math.abs(actual[i] - expected[i]);
            if (Double.isNaN(diff)) {
                return Double.POSITIVE_INFINITY; // fails every bound
            }
            maxDiff = Math.max(maxDiff, diff);
            maxRef = Math.max(maxRef, Math.abs(expected[i]));
        }
        return maxDiff / Math.max(maxRef, Double.MIN_NORMAL);
    }

    /** The same measure against a float reference (another implementation's output). */
    public static double relativeError(float[] actual, float[] expected) {
        double[] e = new double[expected.length];
        for (int i = 0; i < e.length; i++) {
            e[i] = expected[i];
        }
        return relativeError(actual, e);
    }
}
