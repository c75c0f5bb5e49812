package io.longnet.model;

/**
 * xPos (Sun et al. 2022, "A Length-Extrapolatable Transformer"), exactly as torchscale's {@code XPOS}
 * module: a rotary embedding whose rotation of each pair of dimensions is scaled by a per-pair decay
 * raised to the (centred) position, upscaling queries and downscaling keys, so that a query-key dot
 * product depends on positions only through their difference.
 *
 * <p>For head width {@code d} and pair {@code i < d/2}: {@code scale_i = (2i + 0.4 d) / (1.4 d)},
 * {@code theta_i = 10000^(-i/(d/2))}. For a sequence of {@code N} positions, position {@code p} (from 0)
 * gets the angle {@code p * theta_i} and the factor {@code scale_i^((p + minPos) / scaleBase)} with
 * {@code minPos = floor(-N / 2)} (torchscale's {@code -(length + offset) // 2}, offset 0). The pair
 * {@code (x[2i], x[2i+1])} becomes {@code f (x[2i] cos - x[2i+1] sin, x[2i+1] cos + x[2i] sin)} with
 * {@code f} the factor for queries and its inverse for keys.
 *
 * <p>The factors grow like {@code 3.5^(N/2/scaleBase)} (pair 0, independent of {@code d}): beyond
 * {@link #maxLength} a factor leaves {@code [2^-100, 2^100]} and float queries or keys would overflow.
 * Only position differences matter, and dilated attention pairs a query only with keys of its own
 * segment; so a sequence longer than the {@code window} (the least common multiple of the segment
 * lengths, which every segment of every branch lies inside) is centred window by window: in exact
 * arithmetic the result is the same, and the factors stay within {@code 3.5^(window/2/scaleBase)}. A
 * sequence no longer than one window is centred exactly as torchscale does.
 */
public final class Xpos {

    /** Largest |log2| of a factor allowed: float keeps 2^28 of headroom for the values it multiplies. */
    static final double MAX_LOG2_FACTOR = 100;

    private final int headDim;
    private final int half;
    private final int scaleBase;
    private final double[] logScale;   // ln(scale_i)
    private final double[] invFreq;    // theta_i
    private final long window;         // positions centred together

    /** xPos centred on the whole sequence, as torchscale. */
    public Xpos(int headDim, int scaleBase) {
        this(headDim, scaleBase, Long.MAX_VALUE);
    }

    /** xPos centred per {@code window} positions (a multiple of every segment length attended over). */
    public Xpos(int headDim, int scaleBase, long window) {
        this(headDim, scaleBase, window, true);
    }

    /**
     * The positions of a model of shape {@code config}: xPos centred per {@link LongNetModel#xposWindow} window,
     * or, for a config without xPos, the identity ({@link #identity}).
     */
    public static Xpos of(LongNetConfig config) {
        return new Xpos(config.headDim(), config.xposScaleBase(), LongNetModel.xposWindow(config), config.xpos());
    }

    /**
     * No positions: every factor 1 and every angle 0, so that tables (and a device's tables, built from
     * {@link #parameters}) leave queries and keys exactly as they are. One code path for models with and
     * without xPos.
     */
    public static Xpos identity(int headDim) {
        return new Xpos(headDim, 1, Long.MAX_VALUE, false);
    }

    private Xpos(int headDim, int scaleBase, long window, boolean rotate) {
        if (headDim < 2 || headDim % 2 != 0) {
            throw new IllegalArgumentException("xPos needs an even head width >= 2 (got " + headDim + ")");
        }
        if (scaleBase < 1) {
            throw new IllegalArgumentException("xPos scale base must be >= 1 (got " + scaleBase + ")");
        }
        if (window < 1) {
            throw new IllegalArgumentException("xPos window must be >= 1 (got " + window + ")");
        }
        this.window = window;
        this.headDim = headDim;
        this.half = headDim / 2;
        this.scaleBase = scaleBase;
        this.logScale = new double[half];
        this.invFreq = new double[half];
        for (int i = 0; rotate && i < half; i++) {
            logScale[i] = Math.log(scale(i, headDim));
            invFreq[i] = 1.0 / Math.pow(10000.0, (double) i / half);
        }
    }

    /** Pair {@code i}'s decay {@code (2i + 0.4 d) / (1.4 d)}: torchscale's {@code XPOS.scale} buffer. */
    public static double scale(int i, int headDim) {
        return (2.0 * i + 0.4 * headDim) / (1.4 * headDim);
    }


    public int headDim() {
        return headDim;
    }

    /**
     * What a device builds the tables from: per pair {@code ln(scale_i)} and {@code theta_i}, the scale base,
     * and the positions centred together ({@code Long.MAX_VALUE}: the whole sequence).
     */
    public record Parameters(int scaleBase, long window, double[] logScales, double[] inverseFrequencies) {
    }

    public Parameters parameters() {
        return new Parameters(scaleBase, window, logScale.clone(), invFreq.clone());
    }

    /**
     * The longest sequence whose factors all stay within {@code 2^±100}: about
     * {@code 2 * 100 * scaleBase / log2(3.5)}, i.e. 56,656 positions for the default scale base 512.
     */
    public long maxLength() {
        if (logScale[0] == 0) {
            return Long.MAX_VALUE; // the identity: no factor ever leaves 1
        }
        // The extreme factor is pair 0's at the first position: scale_0^(minPos / base), minPos = -ceil(N/2).
        double maxHalf = MAX_LOG2_FACTOR * Math.log(2) * scaleBase / -logScale[0];
        return 2 * (long) Math.floor(maxHalf);
    }

    /**
     * Rotation and factors of positions {@code [first, first + count)} of a sequence of {@code total}
     * positions (centred on the whole sequence, as torchscale, when it fits one window; else per window).
     *
     * @throws IllegalArgumentException when the range is not inside the sequence, or the centred span is
     *     longer than {@link #maxLength}
     */
    public Table table(long first, int count, long total) {
        if (total < 1 || first < 0 || count < 0 || first + count > total) {
            throw new IllegalArgumentException("positions [" + first + ", " + (first + count)
                    + ") are not inside a sequence of " + total);
        }
        long span = Math.min(total, window);
        if (span > maxLength()) {
            throw new IllegalArgumentException("xPos over " + span + " positions: factors would reach 2^"
                    + Math.round(-logScale[0] * ((span + 1) / 2) / scaleBase / Math.log(2)) + ", beyond float range,"
                    + " above " + maxLength() + " positions (scale base " + scaleBase + "); the longest segment"
                    + " length (or their least common multiple) must stay below that, see docs/MODEL.md");
        }
        long minPos = Math.floorDiv(-span, 2L);
        double[] cosUp = new double[count * half];
        double[] sinUp = new double[count * half];
        double[] cosDown = new double[count * half];
        double[] sinDown = new double[count * half];
        for (int r = 0; r < count; r++) {
            long p = first + r;
            long windowStart = total <= window ? 0 : p / window * window;
            double exponent = (double) (p - windowStart + minPos) / scaleBase;
            for (int i = 0; i < half; i++) {
                double angle = p * invFreq[i];
                double c = Math.cos(angle);
                double s = Math.sin(angle);
                double up = Math.exp(logScale[i] * exponent);
                double down = 1 / up;
                int t = r * half + i;
                cosUp[t] = c * up;
                sinUp[t] = s * up;
                cosDown[t] = c * down;
                sinDown[t] = s * down;
            }
        }
        return new Table(count, half, cosUp, sinUp, cosDown, sinDown);
    }

    /**
     * Precomputed rotations of a run of positions; shared by all layers and heads.
     *
     * @param count positions covered
     * @param half  pairs of dimensions per head, {@code d / 2}
     * @param cosUp the queries' {@code cos * factor}, {@code [count][half]}; likewise the others
     */
    public record Table(int count, int half, double[] cosUp, double[] sinUp, double[] cosDown, double[] sinDown) {

        public Table {
            for (double[] a : new double[][] {cosUp, sinUp, cosDown, sinDown}) {
                if (a.length != (long) count * half) {
                    throw new IllegalArgumentException("xPos table: " + a.length + " values in an array, need "
                            + count + " x " + half);
                }
            }
        }

        /**
         * Applies xPos in place to {@code x}, {@code count * heads * d} floats in {@code [N][H][d]} order:
         * queries ({@code downscale = false}) or keys ({@code downscale = true}).
         */
        public void apply(float[] x, int heads, boolean downscale) {
            int d = 2 * half;
            if (x.length < (long) count * heads * d) {
                throw new IllegalArgumentException("xPos: " + x.length + " floats, need " + count + " x " + heads
                        + " x " + d);
            }
            double[] cos = downscale ? cosDown : cosUp;
            double[] sin = downscale ? sinDown : sinUp;
            for (int r = 0; r < count; r++) {
                int t = r * half;
                for (int h = 0; h < heads; h++) {
                    int off = (r * heads + h) * d;
                    for (int i = 0; i < half; i++) {
                        double a = x[off + 2 * i];
                        double b = x[off + 2 * i + 1];
                        double c = cos[t + i];
                        double s = sin[t + i];
                        x[off + 2 * i] = (float) (a * c - b * s);
                        x[off + 2 * i + 1] = (float) (b * c + a * s);
                    }
                }
            }
        }

        /**
         * As {@link #apply(float[], int, boolean)}, in float64 (the training model), on rows {@code [from, to)}
         * only (a thread's share; each row is rotated as in a call over all of them). With {@code transposed}, the
         * transpose instead: the map from the gradient with respect to xPos's output to the gradient with respect
         * to its input (rotation by the opposite angle, same factor).
         */
        public void apply(double[] x, int heads, boolean downscale, boolean transposed, int from, int to) {
            if (from < 0 || from > to || to > count) {
                throw new IllegalArgumentException("xPos: rows [" + from + ", " + to + ") are not inside [0, " + count
                        + ")");
            }
            rotate(x, heads, downscale, transposed ? -1 : 1, from, to);
        }

        private void rotate(double[] x, int heads, boolean downscale, int sign, int from, int to) {
            int d = 2 * half;
            if (x.length < (long) count * heads * d) {
                throw new IllegalArgumentException("xPos: " + x.length + " values, need " + count + " x " + heads
                        + " x " + d);
            }
            double[] cos = downscale ? cosDown : cosUp;
            double[] sin = downscale ? sinDown : sinUp;
            for (int r = from; r < to; r++) {
                int t = r * half;
                for (int h = 0; h < heads; h++) {
                    int off = (r * heads + h) * d;
                    for (int i = 0; i < half; i++) {
                        double a = x[off + 2 * i];
                        double b = x[off + 2 * i + 1];
                        double c = cos[t + i];
                        double s = sign * sin[t + i];
                        x[off + 2 * i] = a * c - b * s;
                        x[off + 2 * i + 1] = b * c + a * s;
                    }
                }
            }
        }
    }
}
