package io.longnet.model;

/**
 * The exact GELU, {@code x * Phi(x)} with the normal distribution function {@code Phi}, as PyTorch's
 * {@code F.gelu} (not the tanh approximation), and the error function it needs; Java has no {@code erf}.
 * Computed in double to about 1e-15 relative: a series for small arguments, a continued fraction for
 * the tail, so that neither loses digits where the other would.
 *
 * <p>Both take tens of iterations, too slow for the millions of activations of a training step, so
 * {@link #erfc}, {@link #gelu} and {@link #derivative} read a table instead for {@code |x| < 6}: the Taylor
 * polynomial of {@code erfc} at the nearest multiple of 1/64 (within 1/128), whose coefficients follow
 * from {@code erfc}'s derivatives, {@code -2/sqrt(pi) (-1)^(n-1) H_(n-1)(x) exp(-x^2)} with the Hermite
 * polynomials {@code H}, and whose derivative gives {@code exp(-x^2)} without another exponential. The
 * table's values at the nodes come from the series (below 1), the continued fraction (from 3) and, in
 * between, Taylor steps down from the node above, where {@code 1 - erf} would lose digits.
 */
public final class Gelu {

    private static final double TWO_OVER_SQRT_PI = 1.1283791670955126;  // 2 / sqrt(pi)
    private static final double ONE_OVER_SQRT_PI = 0.5641895835477563;  // 1 / sqrt(pi)
    private static final double SQRT_HALF = 0.7071067811865476;         // 1 / sqrt(2)
    private static final double SQRT_TWO = 1.4142135623730951;          // sqrt(2)
    private static final double INV_SQRT_TWO_PI = 0.3989422804014327;   // 1 / sqrt(2 pi)
    /** Where the series hands over to the continued fraction. */
    private static final double SWITCH = 3.0;
    /** Terms of the continued fraction; converges to double precision for arguments >= SWITCH. */
    private static final int FRACTION_TERMS = 80;
    /** Table nodes per unit of the argument. */
    private static final int NODES_PER_UNIT = 64;
    /** The table covers {@code [0, TABLE_END)}; beyond, erfc < 2.2e-17, and {@code 2 - erfc} rounds to 2. */
    private static final double TABLE_END = 6.0;
    /** Taylor coefficients per node: with steps of at most 1/128, the first term left out is below 2e-17 of erfc. */
    private static final int ORDER = 10;
    /** Coefficient {@code n} of node {@code i} (at {@code i / NODES_PER_UNIT}): {@code erfc^(n)(x_i) / n!}. */
    private static final double[] TAYLOR = taylorTable();

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
        return derivative(x, null, 0);
    }

    /**
     * {@code gelu[i] = gelu(x[i])} and {@code slope[i] = derivative(x[i])} for {@code i < n}, exactly as the
     * two methods give them, for the price of about one: both read the same table entry.
     */
    public static void withDerivative(double[] x, double[] gelu, double[] slope, int n) {
        withDerivative(x, gelu, slope, 0, n);
    }

    /** {@link #withDerivative(double[], double[], double[], int)} for {@code i} in {@code [from, to)}: a thread's share. */
    public static void withDerivative(double[] x, double[] gelu, double[] slope, int from, int to) {
        for (int k = from; k < to; k++) {
            slope[k] = derivative(x[k], gelu, k);
        }
    }

    /**
     * {@link #derivative(double)} of {@code x}, and {@code gelu(x)} into {@code gelu[k]} unless {@code gelu} is
     * null: erfc and its slope come from one pass over the table entry, two interleaved Horner chains (as two
     * loops, {@link #withDerivative} measured about a third slower).
     */
    private static double derivative(double x, double[] gelu, int k) {
        double u = -x * SQRT_HALF;
        double a = Math.abs(u);
        if (!(a < TABLE_END)) {
            if (gelu != null) {
                gelu[k] = gelu(x);
            }
            return 0.5 * erfc(u) + x * INV_SQRT_TWO_PI * Math.exp(-0.5 * x * x);
        }
        int i = node(a);
        double h = a - (double) i / NODES_PER_UNIT;
        int at = i * ORDER;
        double value = TAYLOR[at + ORDER - 1];
        double slope = (ORDER - 1) * TAYLOR[at + ORDER - 1];
        for (int n = ORDER - 2; n >= 1; n--) {
            value = Math.fma(value, h, TAYLOR[at + n]);
            slope = Math.fma(slope, h, n * TAYLOR[at + n]);
        }
        value = Math.fma(value, h, TAYLOR[at]);
        double erfc = u < 0 ? 2 - value : value;
        if (gelu != null) {
            gelu[k] = x * 0.5 * erfc;
        }
        // With u = -x / sqrt(2): Phi(x) = erfc(u) / 2 and x phi(x) = -x / (2 sqrt 2) erfc'(u), erfc' even.
        return 0.5 * erfc - x * (0.25 * SQRT_TWO) * slope;
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
        if (x >= 0 && x < TABLE_END) {
            return fromTable(x);
        }
        if (x < 0 && x > -TABLE_END) {
            return 2 - fromTable(-x);
        }
        if (x <= -TABLE_END) {
            return 2; // 2 - erfc(-x), and erfc(-x) < 2.2e-17 is below half an ulp of 2
        }
        return erfcReference(x); // the tail, and NaN
    }

    /** {@link #erfc} without the table: the series and the continued fraction (builds the table; tests). */
    static double erfcReference(double x) {
        if (Double.isNaN(x)) {
            return x;
        }
        if (x < 0) {
            return 2 - erfcReference(-x);
        }
        // Below SWITCH, erfc >= 2.2e-5, so 1 - erf loses at most ~5 of 16 digits; above, the fraction is direct.
        return x < SWITCH ? 1 - erfSeries(x) : erfcFraction(x);
    }

    /** The node nearest to {@code 0 <= x < TABLE_END}. */
    private static int node(double x) {
        return (int) (x * NODES_PER_UNIT + 0.5);
    }

    /** erfc(x) for {@code 0 <= x < TABLE_END}: the Taylor polynomial of the nearest node. */
    private static double fromTable(double x) {
        int i = node(x);
        double h = x - (double) i / NODES_PER_UNIT;
        int at = i * ORDER;
        double s = TAYLOR[at + ORDER - 1];
        for (int n = ORDER - 2; n >= 0; n--) {
            s = Math.fma(s, h, TAYLOR[at + n]);
        }
        return s;
    }

    private static double[] taylorTable() {
        int nodes = (int) (TABLE_END * NODES_PER_UNIT) + 1;
        double[] t = new double[nodes * ORDER];
        double[] factorial = new double[ORDER];
        factorial[0] = 1;
        for (int n = 1; n < ORDER; n++) {
            factorial[n] = factorial[n - 1] * n;
        }
        // From the top down, so that a node between 1 and SWITCH can step from the one above it.
        for (int i = nodes - 1; i >= 0; i--) {
            double x = (double) i / NODES_PER_UNIT;
            int at = i * ORDER;
            double gauss = TWO_OVER_SQRT_PI * Math.exp(-x * x);
            double hPrev = 0; // H_(n-2)
            double hCur = 1;  // H_(n-1), starting at H_0
            for (int n = 1; n < ORDER; n++) {
                // erfc^(n)(x) = -2/sqrt(pi) (-1)^(n-1) H_(n-1)(x) exp(-x^2)
                t[at + n] = ((n & 1) == 1 ? -gauss : gauss) * hCur / factorial[n];
                double next = 2 * x * hCur - 2 * (n - 1) * hPrev;
                hPrev = hCur;
                hCur = next;
            }
            if (x < 1 || x >= SWITCH) {
                t[at] = erfcReference(x);
            } else {
                double h = -1.0 / NODES_PER_UNIT;
                int above = at + ORDER;
                double s = t[above + ORDER - 1];
                for (int n = ORDER - 2; n >= 0; n--) {
                    s = Math.fma(s, h, t[above + n]);
                }
                t[at] = s;
            }
        }
        return t;
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
