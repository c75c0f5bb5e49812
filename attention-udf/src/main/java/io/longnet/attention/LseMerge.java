package io.longnet.attention;

import java.nio.FloatBuffer;

/**
 * Merges partial attention results by their log-sum-exp. Attention of a query over a key set split in
 * parts equals the parts' outputs weighted by {@code exp(lse_part - lse_total)}; the same rule mixes
 * LongNet's branches (docs/ARCHITECTURE.md §1), so the engine and the distributed plan share this one
 * implementation.
 */
public final class LseMerge {

    private LseMerge() {
    }

    /**
     * Merges row {@code part[partOff .. partOff + d)} with log-sum-exp {@code partLse} into
     * {@code acc[accOff .. accOff + d)} with {@code accLse}, in place; returns the merged lse. A part
     * with {@code lse = -inf} (no keys) leaves the row unchanged.
     */
    public static float mergeRow(float[] acc, int accOff, float accLse,
                                 float[] part, int partOff, float partLse, int d) {
        if (partLse == Float.NEGATIVE_INFINITY) {
            return accLse;
        }
        if (accLse == Float.NEGATIVE_INFINITY) {
            System.arraycopy(part, partOff, acc, accOff, d);
            return partLse;
        }
        float max = Math.max(accLse, partLse);
        double ea = Math.exp(accLse - max);
        double ep = Math.exp(partLse - max);
        double sum = ea + ep;
        float wa = (float) (ea / sum);
        float wp = (float) (ep / sum);
        for (int c = 0; c < d; c++) {
            acc[accOff + c] = wa * acc[accOff + c] + wp * part[partOff + c];
        }
        return (float) (max + Math.log(sum));
    }

    /** {@link #mergeRow(float[], int, float, float[], int, float, int)} in float64, for training. */
    public static double mergeRow(double[] acc, int accOff, double accLse,
                                  double[] part, int partOff, double partLse, int d) {
        if (partLse == Double.NEGATIVE_INFINITY) {
            return accLse;
        }
        if (accLse == Double.NEGATIVE_INFINITY) {
            System.arraycopy(part, partOff, acc, accOff, d);
            return partLse;
        }
        double max = Math.max(accLse, partLse);
        double ea = Math.exp(accLse - max);
        double ep = Math.exp(partLse - max);
        double sum = ea + ep;
        double wa = ea / sum;
        double wp = ep / sum;
        for (int c = 0; c < d; c++) {
            acc[accOff + c] = wa * acc[accOff + c] + wp * part[partOff + c];
        }
        return max + Math.log(sum);
    }

    /**
     * Merges {@code rows} rows of width {@code d} of a partial result ({@code oPart}, {@code lsePart})
     * into ({@code o}, {@code lse}) in place. Element 0 of every buffer is at its current position.
     */
    public static void merge(FloatBuffer o, FloatBuffer lse, FloatBuffer oPart, FloatBuffer lsePart,
                             int rows, int d) {
        AttentionInputs.require("o", o, (long) rows * d);
        AttentionInputs.require("oPart", oPart, (long) rows * d);
        AttentionInputs.require("lse", lse, rows);
        AttentionInputs.require("lsePart", lsePart, rows);
        float[] acc = new float[d];
        float[] part = new float[d];
        int o0 = o.position();
        int p0 = oPart.position();
        int l0 = lse.position();
        int lp0 = lsePart.position();
        for (int row = 0; row < rows; row++) {
            o.get(o0 + row * d, acc, 0, d);
            oPart.get(p0 + row * d, part, 0, d);
            float merged = mergeRow(acc, 0, lse.get(l0 + row), part, 0, lsePart.get(lp0 + row), d);
            o.put(o0 + row * d, acc, 0, d);
            lse.put(l0 + row, merged);
        }
    }

    /** Merges two partial results held in arrays; returns a new result. */
    public static AttentionResult merge(float[] oA, float[] lseA, float[] oB, float[] lseB, int d) {
        FloatBuffer o = FloatBuffer.wrap(oA.clone());
        FloatBuffer lse = FloatBuffer.wrap(lseA.clone());
        merge(o, lse, FloatBuffer.wrap(oB), FloatBuffer.wrap(lseB), lseA.length, d);
        return new AttentionResult(o, lse);
    }
}
