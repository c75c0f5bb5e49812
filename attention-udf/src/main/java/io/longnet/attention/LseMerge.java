package io.longnet.attention;

import java.nio.FloatBuffer;

/**
 * Merges partial attention results by their log-sum-exp. Attention of a query over a key set split in
 * parts equals the parts' outputs weighted by {@code exp(lse_part - lse_total)}; the same rule mixes
 * LongNet's branches (docs/ARCHITECTURE.md §1). Two forms of the one rule: a normalised part with its lse
 * ({@link #mergeRow}, {@link #merge}), and the engine's tiles' unnormalised part with its base-2 maximum and
 * sum ({@link #excess2}, {@link #mergedLse}), which spares the tiles a division per value and two of the
 * three transcendentals per row.
 */
public final class LseMerge {

    /** {@code log2(e)} in two floats: the one nearest it, and the rest. */
    static final float LOG2E_HI = FastExp.LOG2E;
    static final float LOG2E_LO = (float) (FastExp.LOG2E_D - LOG2E_HI);
    private static final double LN_2 = 0.6931471805599453;

    private LseMerge() {
    }

    /**
     * The engine's merge of an unnormalised part, in base 2 (the tiles' scores carry {@code log2(e)}):
     * {@code lse * log2(e) - max2}, how far a row's lse (natural) lies above the part's maximum score
     * {@code max2}. With {@code log2(e)} in two parts and the first product fused with the subtraction, it
     * is accurate to about an ulp of the difference, which is what the part's weight {@code 2^(-excess)}
     * needs; the plain product would round {@code lse log2(e)} first. +inf for a part with no keys
     * ({@code max2 = -inf}), -inf for a row with none yet.
     *
     * <p>With {@code e = excess2(lse, max2)}, a part of sum {@code s} (its scores' {@code 2^(x - max2)})
     * and unnormalised row {@code a}: the row's weight is {@code 2^min(e, 0)}, the part's {@code 2^min(-e,
     * 0)} (one of them is 1), {@code total = 2^min(e, 0) + s 2^min(-e, 0)}, the merged row
     * {@code (2^min(e, 0) o + 2^min(-e, 0) a) / total} and the merged lse {@link #mergedLse}.
     * {@link SegmentTileAttention} runs it for a block of rows at a time, the exponentials vectorised.
     */
    static float excess2(float lse, float max2) {
        return Math.fma(lse, LOG2E_HI, -max2) + lse * LOG2E_LO;
    }

    /**
     * The merged lse (natural) of a row: the larger of the row's lse and the part's maximum (whichever
     * {@code excess} says weighs 1), plus {@code ln(total)}; see {@link #excess2}.
     */
    static float mergedLse(float lse, float max2, float excess, float total) {
        double base = excess >= 0 ? lse : max2 * LN_2;
        return (float) (base + Math.log(total));
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
