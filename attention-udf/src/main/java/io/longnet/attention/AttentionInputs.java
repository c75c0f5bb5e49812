package io.longnet.attention;

import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.util.Arrays;
import java.util.List;

/**
 * The input checks of dilated attention, one set for each float32 class and its float64 twin ({@link
 * CpuAttentionKernel} and {@link DilatedAttentionGradients}; the Spark plan's {@code
 * SequenceParallelAttention} and {@code SequenceParallelGradients}): branches, sequence length, buffer
 * and array sizes and gathered keys, with one message format for floats and doubles.
 */
public final class AttentionInputs {

    /** The names of a kernel's three inputs, in their order. */
    public static final List<String> QKV = List.of("q", "k", "v");

    private AttentionInputs() {
    }

    /** Checks that {@code branches} are the config's own, in its order. */
    public static void requireBranches(DilatedAttentionConfig config, List<Branch> branches) {
        int at = 0;
        for (Branch b : branches) {
            if (b == null) {
                throw new IllegalArgumentException("branch is missing");
            }
            int found = config.branches().indexOf(b);
            if (found < at) {
                throw new IllegalArgumentException("branch " + b + " is not one of " + config.branches()
                        + " (or out of their order)");
            }
            at = found + 1;
        }
    }

    /** Checks a sequence length {@code n}; returns {@code n * H * d}, the size of q, k, v and o. */
    public static long elements(DilatedAttentionConfig config, int n) {
        if (n < 1) {
            throw new IllegalArgumentException("sequence length must be >= 1 (got " + n + ")");
        }
        long elems = (long) n * config.rowWidth();
        if (elems > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("n * H * d = " + elems + " values exceeds one array or buffer ("
                    + Integer.MAX_VALUE + "): split the sequence into blocks (the Spark plan does)");
        }
        return elems;
    }

    /** Checks that buffer {@code name} holds at least {@code needed} floats from its position. */
    public static void require(String name, FloatBuffer b, long needed) {
        requireSize(name, size(b), needed, "floats");
    }

    /** Checks that array {@code name} holds at least {@code needed} doubles. */
    public static void require(String name, double[] a, long needed) {
        requireSize(name, size(a), needed, "doubles");
    }

    /** Checks q, k, v, o ({@code n * H * d}) and lse ({@code n * H}) for {@code n} positions; returns n * H * d. */
    public static long requireForward(DilatedAttentionConfig config, int n, FloatBuffer q, FloatBuffer k,
                                      FloatBuffer v, FloatBuffer o, FloatBuffer lse) {
        return forward(config, n, "floats", "floats", size(q), size(k), size(v), size(o), size(lse));
    }

    /** The check above, for q, k, v as 16-bit floats. */
    public static long requireForward(DilatedAttentionConfig config, int n, ShortBuffer q, ShortBuffer k,
                                      ShortBuffer v, FloatBuffer o, FloatBuffer lse) {
        int[] in = new int[3];
        ShortBuffer[] qkv = {q, k, v};
        for (int t = 0; t < 3; t++) {
            in[t] = qkv[t] == null ? -1 : qkv[t].remaining();
        }
        return forward(config, n, "16-bit values", "floats", in[0], in[1], in[2], size(o), size(lse));
    }

    /** The check above, for arrays of doubles (the float64 twins). */
    public static long requireForward(DilatedAttentionConfig config, int n, double[] q, double[] k, double[] v,
                                      double[] o, double[] lse) {
        return forward(config, n, "doubles", "doubles", size(q), size(k), size(v), size(o), size(lse));
    }

    /**
     * Checks a block of {@code n} positions of {@code q}, with its {@code o} and {@code lse}, attending one
     * spanning branch's gathered keys and values ({@code keys.get(h)}, {@code values.get(h)}: rows of head
     * h's sparsified segment): the block lies in one segment, starting {@code offsetInSegment} into it, and
     * every head has equal multiples of d floats of keys and values, reaching the block's last selected
     * row. Returns each head's selection of the block's rows.
     */
    public static DilatedSelection[] requireGathered(DilatedAttentionConfig config, Branch branch,
                                                     int offsetInSegment, int n, FloatBuffer q,
                                                     List<FloatBuffer> keys, List<FloatBuffer> values,
                                                     FloatBuffer o, FloatBuffer lse) {
        int[] keySizes = keys == null ? null : keys.stream().mapToInt(AttentionInputs::size).toArray();
        int[] valueSizes = values == null ? null : values.stream().mapToInt(AttentionInputs::size).toArray();
        return gathered(config, branch, offsetInSegment, n, "floats", keySizes, valueSizes, size(q), size(o),
                size(lse));
    }

    /** The check above, for arrays of doubles (the float64 twins). */
    public static DilatedSelection[] requireGathered(DilatedAttentionConfig config, Branch branch,
                                                     int offsetInSegment, int n, double[] q, double[][] keys,
                                                     double[][] values, double[] o, double[] lse) {
        int[] keySizes = keys == null ? null : Arrays.stream(keys).mapToInt(AttentionInputs::size).toArray();
        int[] valueSizes = values == null ? null : Arrays.stream(values).mapToInt(AttentionInputs::size).toArray();
        return gathered(config, branch, offsetInSegment, n, "doubles", keySizes, valueSizes, size(q), size(o),
                size(lse));
    }

    // The checks proper work on sizes (-1: missing), so that floats and doubles share them.

    private static long forward(DilatedAttentionConfig config, int n, String inUnit, String outUnit, int q, int k,
                                int v, int o, int lse) {
        long elems = elements(config, n);
        requireSize("q", q, elems, inUnit);
        requireSize("k", k, elems, inUnit);
        requireSize("v", v, elems, inUnit);
        requireSize("o", o, elems, outUnit);
        requireSize("lse", lse, (long) n * config.heads(), outUnit);
        return elems;
    }

    /** {@code keys}, {@code values}: each head's size, or null for a missing list. */
    private static DilatedSelection[] gathered(DilatedAttentionConfig config, Branch branch, int offsetInSegment,
                                               int n, String unit, int[] keys, int[] values, int q, int o,
                                               int lse) {
        if (branch == null) {
            throw new IllegalArgumentException("branch is missing");
        }
        requireBranches(config, List.of(branch));
        elements(config, n);
        int w = branch.segmentLength();
        if (offsetInSegment < 0 || (long) offsetInSegment + n > w) {
            throw new IllegalArgumentException("branch " + branch + ": a block of " + n + " positions starting "
                    + offsetInSegment + " into a segment must lie inside the segment's " + w + " positions");
        }
        int heads = config.heads();
        int d = config.headDim();
        if (keys == null || values == null || keys.length != heads || values.length != heads) {
            throw new IllegalArgumentException("gathered keys/values for " + (keys == null ? 0 : keys.length)
                    + "/" + (values == null ? 0 : values.length) + " heads, config has " + heads);
        }
        DilatedSelection[] sel = new DilatedSelection[heads];
        for (int h = 0; h < heads; h++) {
            if (keys[h] < 0 || values[h] < 0 || keys[h] % d != 0 || values[h] != keys[h]) {
                throw new IllegalArgumentException("head " + h + ": gathered keys hold " + Math.max(0, keys[h])
                        + " " + unit + " and values " + Math.max(0, values[h]) + ", need equal multiples of d = "
                        + d);
            }
            sel[h] = DilatedSelection.of(offsetInSegment, n, config.offset(branch, h), branch.dilation());
            int needed = sel[h].count() == 0 ? 0 : sel[h].firstIndex() + sel[h].count();
            if (keys[h] / d < needed) {
                throw new IllegalArgumentException("head " + h + ", branch " + branch + ": gathered "
                        + keys[h] / d + " key rows, but the block's queries reach sparse row "
                        + (needed - 1) + ": gather the segment's rows up to at least the block's last");
            }
        }
        long elems = (long) n * config.rowWidth();
        requireSize("q", q, elems, unit);
        requireSize("o", o, elems, unit);
        requireSize("lse", lse, (long) n * config.heads(), unit);
        return sel;
    }

    private static void requireSize(String name, int size, long needed, String unit) {
        if (size < 0) {
            throw new IllegalArgumentException(name + " is missing");
        }
        if (size < needed) {
            throw new IllegalArgumentException(name + " holds " + size + " " + unit + ", needs " + needed);
        }
    }

    private static int size(FloatBuffer b) {
        return b == null ? -1 : b.remaining();
    }

    private static int size(double[] a) {
        return a == null ? -1 : a.length;
    }
}
