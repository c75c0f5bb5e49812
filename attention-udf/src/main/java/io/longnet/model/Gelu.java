package io.longnet.model;

/**
 * The exact GELU, {@code x * Phi(x)} with the normal distribution function {@code Phi}, as PyTorch's
 * {@code F.gelu} (not the tanh approximation), and the error function it needs; Java has no {@code erf}.
 * Computed in double to about 1e-15 relative: a series for small arguments, a continued fraction for
 * the tail, so that neither loses digits where the other would.
 */
public final class Gelu {

    private static final double TWO_OVER_SQRT_PI = 1.1283791670955126;  // 2 / sqrt(pi)
    private static final double ONE_OVER_SQRT_PI = 0.5641895835477563;  // 1 / sqrt(pi)
    private static final double SQRT_HALF = 0.7071067811865476;         // 1 / sqrt(2)
    private static final double INV_SQRT_TWO_PI = 0.3989422804014327;   // 1 / sqrt(2 pi)
    /** Where the series hands over to the continued fraction. */
    private static final double SWITCH = 3.0;
    /** Terms of the continued fraction; converges to double precision for arguments >= SWITCH. */
    private static final int FRACTION_TERMS = 80;

    private Gelu() {
    }

    /** {@code x * Phi(x)}, the exact (erf) GELU. */
    public static double gelu(double x) {
        return x * 0.5 * erfc(-x * SQRT_HALF);
    }

    /**
     * {@code d gelu / dx = Phi(x) + x phi(x)}, with {@code phi} the standard normal density: the
     * derivative the float64 training model backpropagates through.
     */
    public static double derivative(double x) {
        return 0.5 * erfc(-x * SQRT_HALF) + x * INV_SQRT_TWO_PI * Math.exp(-0.5 * x * x);
    }

    /** The error function. */
    public static double erf(double x) {
        if (Double.isNaN(x)) {
            return x;
        }
        double a = Math.abs(x);
        double r = a < SWITCH ? erfSeries(a) : 1 - erfcFraction(a);
        return x < 0 ? -r : r;
    }

    /** The complementary error function {@code 1 - erf(x)}, accurate in the tail too. */
    public static double erfc(double x) {
        if (Double.isNaN(x)) {
            return x;
        }
        if (x < 0) {
            return 2 - erfc(-x);
        }
        // Below SWITCH, erfc >= 2.2e-5, so 1 - erf loses at most ~5 of 16 digits; above, the fraction is direct.
        return x < SWITCH ? 1 - erfSeries(x) : erfcFraction(x);
    }

    /**
     * {@code erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n x (2x^2)^n / (1*3*...*(2n+1))} for {@code x >= 0}: all
     * terms positive, so no cancellation (unlike the alternating Maclaurin series).
     */
    private static double erfSeries(double x) {
        double x2 = 2 * x * x;
        double term = x;
        double sum = x;
        for (int n = 0; n < 500 && term > 1e-17 * sum; n++) {
            term *= x2 / (2 * n + 3);
            sum += term;
        }
        return TWO_OVER_SQRT_PI * Math.exp(-x * x) * sum;
    }

    /**
     * Laplace's continued fraction for {@code x > 0}: {@code sqrt(pi) exp(x^2) erfc(x) = 1/(x + (1/2)/(x +
     * 1/(x + (3/2)/(x + ...))))}, evaluated from the tail backwards.
     */
    private static double erfcFraction(double x) {
        double t = x;
        for (int k = FRACTION_TERMS; k >= 1; k--) {
            t = x + 0.5 * k / t;
        }
        return ONE_OVER_SQRT_PI * Math.exp(-x * x) / t;
    }
}
