package io.longnet.attention;

/**
 * {@code x[i] = exp(x[i] - shift[i])} over a range, for arguments {@code <= 0}, in float: the online
 * softmax's one transcendental. Relative error below 3e-7 (a few float ulps) on {@code [-87, 0]};
 * arguments below {@code -88}, and {@code -inf} (the causal mask), give exactly 0.
 *
 * <p>Range reduction {@code x = n ln2 + f}, {@code |f| <= ln2/2}, with {@code ln2} split in two
 * (Cody-Waite), {@code exp(f)} by a degree-6 polynomial, {@code 2^n} put into the exponent bits. The
 * polynomial runs in its own loop of plain float arithmetic, which HotSpot 17 vectorises; only the
 * exponent step, whose bit casts it does not vectorise, stays scalar. About 2.5x faster than
 * {@code Math.exp} per element here.
 *
 * <p>The same in double for the float64 training engine ({@link SegmentTileGradients}): {@code ln2} split
 * into the double nearest it and the remainder, {@code exp(f)} by its Taylor polynomial of degree 13
 * (the first term left out is below 5e-18), relative error about 2e-16 (two ulps) against
 * {@code StrictMath.exp} on {@code [-708, 0]}; arguments below {@code -1023 ln2} (and {@code -inf}) give
 * exactly 0, and {@code exp(0) = 1} exactly. About 1.6x faster than {@code Math.exp} here.
 */
final class FastExp {

    // The float constants are shared with the SIMD twin (VectorTileMath), which must compute the same.
    static final float LOG2E = 1.44269504f;
    static final float LN2_HI = 0.693359375f;
    static final float LN2_LO = -2.12194440e-4f;
    static final float ROUNDER = 12582912f; // 1.5 * 2^23: adding it rounds to an integer
    static final int ROUNDER_BITS = 0x4B400000;
    static final float FLOOR = -88.02969f;  // -127 ln2: 2^-127 has exponent bits 0, i.e. 0.0f
    /** exp(f) on |f| <= ln2/2: the polynomial's coefficients, highest degree first, then 1 and 1. */
    static final float P6 = 1.3981999e-3f;
    static final float P5 = 8.3334519e-3f;
    static final float P4 = 4.1665795e-2f;
    static final float P3 = 1.6666665e-1f;
    static final float P2 = 5.0000001e-1f;

    /** {@code 2^g} on {@code |g| <= 1/2}: the polynomial above in {@code f = g ln2}, coefficient k times {@code ln2^k}. */
    static final float C6 = 1.5506794e-4f;
    static final float C5 = 1.3333748e-3f;
    static final float C4 = 9.617928e-3f;
    static final float C3 = 5.5504106e-2f;
    static final float C2 = 2.402265e-1f;
    static final float C1 = 6.931472e-1f;
    static final float FLOOR2 = -127f;      // 2^-127 has exponent bits 0, i.e. 0.0f

    static final double LOG2E_D = 1.4426950408889634;
    static final double LN2_HI_D = 0.6931471805599453;      // the double nearest ln 2
    static final double LN2_LO_D = 2.3190468138462996e-17;  // ln 2 - LN2_HI_D
    static final double ROUNDER_D = 6755399441055744.0;     // 1.5 * 2^52: adding it rounds to an integer
    static final long ROUNDER_D_BITS = Double.doubleToRawLongBits(ROUNDER_D);
    static final double FLOOR_D = -1023 * LN2_HI_D;         // 2^-1023 has exponent bits 0, i.e. 0.0

    private FastExp() {
    }

    /** {@code x[i] = exp(x[i] - shift[i])} for {@code i} in {@code [from, to)}; {@code rounded} is scratch. */
    static void expInPlace(float[] x, float[] shift, int from, int to, float[] rounded) {
        for (int i = from; i < to; i++) {
            float xc = Math.max(x[i] - shift[i], FLOOR);
            float t = xc * LOG2E + ROUNDER;
            float nf = t - ROUNDER;
            float f = Math.fma(nf, -LN2_HI, xc);
            f = Math.fma(nf, -LN2_LO, f);
            float p = P6;
            p = Math.fma(p, f, P5);
            p = Math.fma(p, f, P4);
            p = Math.fma(p, f, P3);
            p = Math.fma(p, f, P2);
            p = Math.fma(p, f, 1f);
            x[i] = Math.fma(p, f, 1f);
            rounded[i] = t;
        }
        for (int i = from; i < to; i++) {
            int n = Float.floatToRawIntBits(rounded[i]) - ROUNDER_BITS;
            x[i] *= Float.intBitsToFloat((n + 127) << 23);
        }
    }

    /**
     * {@code x[i] = 2^(x[i] - shift[i])} for {@code i} in {@code [from, to)}, arguments {@code <= 0}; below
     * {@code -127}, and -inf, exactly 0; {@code rounded} is scratch. The attention tiles' exponential: with
     * {@code log2(e)} folded into the queries once, the range reduction is one add and one subtraction
     * ({@code g = x - round(x)} is exact) instead of a multiply and two fused steps. Relative error below
     * 3e-7 on {@code [-126, 0]}.
     */
    static void exp2InPlace(float[] x, float[] shift, int from, int to, float[] rounded) {
        for (int i = from; i < to; i++) {
            float xc = Math.max(x[i] - shift[i], FLOOR2);
            float t = xc + ROUNDER;
            float g = xc - (t - ROUNDER);
            float p = C6;
            p = Math.fma(p, g, C5);
            p = Math.fma(p, g, C4);
            p = Math.fma(p, g, C3);
            p = Math.fma(p, g, C2);
            p = Math.fma(p, g, C1);
            x[i] = Math.fma(p, g, 1f);
            rounded[i] = t;
        }
        for (int i = from; i < to; i++) {
            int n = Float.floatToRawIntBits(rounded[i]) - ROUNDER_BITS;
            x[i] *= Float.intBitsToFloat((n + 127) << 23);
        }
    }

    /**
     * {@code x[i] = exp(x[i] - shift[i])} for {@code i} in {@code [from, to)}, in double; {@code rounded} is
     * scratch. Through {@link VectorExp} (the same results) where {@link VectorApi} allows.
     */
    static void expInPlace(double[] x, double[] shift, int from, int to, double[] rounded) {
        if (VectorApi.available()) {
            VectorExp.expInPlace(x, shift, from, to, rounded);
        } else {
            expInPlaceLoops(x, shift, from, to, rounded);
        }
    }

    /** The double {@link #expInPlace} as scalar loops: the twin of {@link VectorExp#expInPlace}. */
    static void expInPlaceLoops(double[] x, double[] shift, int from, int to, double[] rounded) {
        for (int i = from; i < to; i++) {
            double xc = Math.max(x[i] - shift[i], FLOOR_D);
            double t = xc * LOG2E_D + ROUNDER_D;
            double nf = t - ROUNDER_D;
            // xc - nf LN2_HI is exact (Sterbenz-like: the fma rounds a value that fits), then the low part.
            double f = Math.fma(nf, -LN2_HI_D, xc);
            f = Math.fma(nf, -LN2_LO_D, f);
            double p = 1.0 / 6227020800.0; // 1/13!
            p = Math.fma(p, f, 1.0 / 479001600.0);
            p = Math.fma(p, f, 1.0 / 39916800.0);
            p = Math.fma(p, f, 1.0 / 3628800.0);
            p = Math.fma(p, f, 1.0 / 362880.0);
            p = Math.fma(p, f, 1.0 / 40320.0);
            p = Math.fma(p, f, 1.0 / 5040.0);
            p = Math.fma(p, f, 1.0 / 720.0);
            p = Math.fma(p, f, 1.0 / 120.0);
            p = Math.fma(p, f, 1.0 / 24.0);
            p = Math.fma(p, f, 1.0 / 6.0);
            p = Math.fma(p, f, 0.5);
            p = Math.fma(p, f, 1.0);
            x[i] = Math.fma(p, f, 1.0);
            rounded[i] = t;
        }
        for (int i = from; i < to; i++) {
            long n = Double.doubleToRawLongBits(rounded[i]) - ROUNDER_D_BITS;
            x[i] *= Double.longBitsToDouble((n + 1023) << 52);
        }
    }
}
