package io.longnet.attention;

import java.nio.FloatBuffer;
import java.util.List;

/**
 * The input checks of dilated attention, one set for each float32 class and its float64 twin ({@link
 * CpuAttentionKernel} and {@link DilatedAttentionGradients}; the Spark plan's {@code
 * SequenceParallelAttention} and {@code SequenceParallelGradients}): branches, sequence length, buffer
 * and array sizes and gathered keys, with one message format for floats and doubles.
 */
public final class AttentionInputs {

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
        requireSize(name, b == null ? -1 : b.remaining(), needed, "floats");
    }

    /** Checks that array {@code name} holds at least {@code needed} doubles. */
    public static void require(String name, double[] a, long needed) {
        requireSize(name, a == null ? -1 : a.length, needed, "doubles");
    }

    /** Checks q, k, v, o ({@code n * H * d}) and lse ({@code n * H}) for {@code n} positions; returns n * H * d. */
    public static long requireForward(DilatedAttentionConfig config, int n, FloatBuffer q, FloatBuffer k,
                                      FloatBuffer v, FloatBuffer o, FloatBuffer lse) {
        long elems = elements(config, n);
        require("q", q, elems);
        require("k", k, elems);
        require("v", v, elems);
        require("o", o, elems);
        require("lse", lse, (long) n * config.heads());
        return elems;
    }

    /** {@link #requireForward(DilatedAttentionConfig, int, FloatBuffer, FloatBuffer, FloatBuffer, FloatBuffer, FloatBuffer)} for arrays of doubles. */
    public static long requireForward(DilatedAttentionConfig config, int n, double[] q, double[] k, double[] v,
                                      double[] o, double[] lse) {
        long elems = elements(config, n);
        require("q", q, elems);
        require("k", k, elems);
        require("v", v, elems);
        require("o", o, elems);
        require("lse", lse, (long) n * config.heads());
        return elems;
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
        DilatedSelection[] sel = gathered(config, branch, offsetInSegment, n,
                remaining(keys), remaining(values), "floats");
        long elems = (long) n * config.rowWidth();
        require("q", q, elems);
        require("o", o, elems);
        require("lse", lse, (long) n * config.heads());
        return sel;
    }

    /** {@link #requireGathered(DilatedAttentionConfig, Branch, int, int, FloatBuffer, List, List, FloatBuffer, FloatBuffer)} for arrays of doubles. */
    public static DilatedSelection[] requireGathered(DilatedAttentionConfig config, Branch branch,
                                                     int offsetInSegment, int n, double[] q, double[][] keys,
                                                     double[][] values, double[] o, double[] lse) {
        DilatedSelection[] sel = gathered(config, branch, offsetInSegment, n, lengths(keys), lengths(values),
                "doubles");
        long elems = (long) n * config.rowWidth();
        require("q", q, elems);
        require("o", o, elems);
        require("lse", lse, (long) n * config.heads());
        return sel;
    }

    /** The gathered check on sizes alone ({@code null} sizes: missing lists; -1: a missing head). */
    private static DilatedSelection[] gathered(DilatedAttentionConfig config, Branch branch, int offsetInSegment,
                                               int n, int[] keys, int[] values, String unit) {
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

    private static int[] remaining(List<FloatBuffer> buffers) {
        if (buffers == null) {
            return null;
        }
        int[] sizes = new int[buffers.size()];
        for (int h = 0; h < sizes.length; h++) {
            sizes[h] = buffers.get(h) == null ? -1 : buffers.get(h).remaining();
        }
        return sizes;
    }

    private static int[] lengths(double[][] arrays) {
        if (arrays == null) {
            return null;
        }
        int[] sizes = new int[arrays.length];
        for (int h = 0; h < sizes.length; h++) {
            sizes[h] = arrays[h] == null ? -1 : arrays[h].length;
        }
        return sizes;
    }
}
