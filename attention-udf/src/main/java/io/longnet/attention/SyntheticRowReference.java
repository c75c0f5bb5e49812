package io.longnet.attention;

import java.util.Arrays;

/**
 * The float64 reference of single output rows of attention over synthetic inputs ({@link CounterQkv}), for
 * verifying a run too large for a full reference (docs/ARCHITECTURE.md §4, synthetic inputs): for position
 * {@code p}, every branch's sparsified keys and values of {@code p}'s segment are regenerated and attended by
 * the float64 engine ({@link DilatedAttentionGradients#forwardGathered}, the formulas of §1), which mixes the
 * branches by lse. Cost per row: {@code O(sum_b H * w/r * d)}, whatever N is. Single-threaded.
 */
public final class SyntheticRowReference implements AutoCloseable {

    /** o ({@code H * d}) and lse ({@code H}) of one position. */
    public record Row(double[] o, double[] lse) {
    }

    private final DilatedAttentionConfig config;
    private final CounterQkv inputs;
    private final long n;
    private final DilatedAttentionGradients f64;

    /** The reference of a sequence of {@code n} positions of {@code inputs}. */
    public SyntheticRowReference(DilatedAttentionConfig config, CounterQkv inputs, long n) {
        CounterQkv.requireFits(config, n);
        this.config = config;
        this.inputs = inputs;
        this.n = n;
        this.f64 = new DilatedAttentionGradients(config);
    }

    /** Position {@code position}'s o and lse in float64. */
    public Row row(long position) {
        if (position < 0 || position >= n) {
            throw new IllegalArgumentException("position " + position + " is outside the sequence of " + n);
        }
        int heads = config.heads();
        int d = config.headDim();
        double[] q = new double[heads * d];
        for (int h = 0; h < heads; h++) {
            for (int c = 0; c < d; c++) {
                q[h * d + c] = inputs.value(CounterQkv.Q, position, h, c);
            }
        }
        double[] o = new double[heads * d];
        double[] lse = new double[heads];
        Arrays.fill(lse, Double.NEGATIVE_INFINITY);
        for (Branch b : config.branches()) {
            long w = b.segmentLength();
            long segmentStart = position / w * w;
            int segmentLength = (int) Math.min(w, n - segmentStart);
            double[][] keys = new double[heads][];
            double[][] values = new double[heads][];
            for (int h = 0; h < heads; h++) {
                DilatedSelection sel = DilatedSelection.of(0, segmentLength, config.offset(b, h), b.dilation());
                long first = segmentStart + sel.firstRow();
                keys[h] = widen(inputs.rows(CounterQkv.K, first, b.dilation(), sel.count(), h, d));
                values[h] = widen(inputs.rows(CounterQkv.V, first, b.dilation(), sel.count(), h, d));
            }
            f64.forwardGathered(b, (int) (position - segmentStart), q, 1, keys, values, o, lse);
        }
        return new Row(o, lse);
    }

    /**
     * The relative error of a computed row of {@code position} (o at {@code o[oFrom ..]}, {@code H * d} floats;
     * lse at {@code lse[lseFrom ..]}, {@code H}) against {@link #row}: the larger of
     * {@code max |o - o_ref| / max |o_ref|} and the same of lse, over the row's heads.
     */
    public double relativeError(long position, float[] o, int oFrom, float[] lse, int lseFrom) {
        Row ref = row(position);
        return Math.max(relative(ref.o(), o, oFrom), relative(ref.lse(), lse, lseFrom));
    }

    private static double relative(double[] ref, float[] got, int from) {
        double diff = 0;
        double scale = 0;
        for (int i = 0; i < ref.length; i++) {
            double g = got[from + i];
            diff = Double.isNaN(g) ? Double.POSITIVE_INFINITY : Math.max(diff, Math.abs(g - ref[i]));
            scale = Math.max(scale, Math.abs(ref[i]));
        }
        return scale == 0 ? diff : diff / scale;
    }

    private static double[] widen(float[] rows) {
        double[] out = new double[rows.length];
        for (int i = 0; i < rows.length; i++) {
            out[i] = rows[i];
        }
        return out;
    }

    @Override
    public void close() {
        f64.close();
    }
}
