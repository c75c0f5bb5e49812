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
 */
final class FastExp {

    private static final float LOG2E = 1.44269504f;
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    private static final float ROUNDER = 12582912f; // 1.5 * 2^23: adding it rounds to an integer
    private static final int ROUNDER_BITS = 0x4B400000;
    private static final float FLOOR = -88.02969f;  // -127 ln2: 2^-127 has exponent bits 0, i.e. 0.0f

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
            float p = 1.3981999e-3f;
            p = Math.fma(p, f, 8.3334519e-3f);
            p = Math.fma(p, f, 4.1665795e-2f);
            p = Math.fma(p, f, 1.6666665e-1f);
            p = Math.fma(p, f, 5.0000001e-1f);
            p = Math.fma(p, f, 1f);
            x[i] = Math.fma(p, f, 1f);
            rounded[i] = t;
        }
        for (int i = from; i < to; i++) {
            int n = Float.floatToRawIntBits(rounded[i]) - ROUNDER_BITS;
            x[i] *= Float.intBitsToFloat((n + 127) << 23);
        }
    }
}
