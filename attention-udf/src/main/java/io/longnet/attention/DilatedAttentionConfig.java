package io.longnet.attention;

import java.io.Serializable;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * What to compute: the branches {@code (w, r)}, {@code H} heads of width {@code d}, causal or not, and the
 * head-offset convention. All validation of a configuration happens here, with messages a user can act
 * on.
 */
public record DilatedAttentionConfig(
        List<Branch> branches, int heads, int headDim, boolean causal, HeadOffset headOffset)
        implements Serializable {

    public DilatedAttentionConfig {
        if (branches == null || branches.isEmpty()) {
            throw new IllegalArgumentException(
                    "no branches: give at least one segment:dilation pair, e.g. 2048:1");
        }
        branches = List.copyOf(branches);
        Set<Branch> seen = new HashSet<>();
        boolean dense = false;
        for (Branch b : branches) {
            if (b.segmentLength() < 1) {
                throw new IllegalArgumentException(
                        "branch " + b + ": segment length must be >= 1");
            }
            if (b.dilation() < 1) {
                throw new IllegalArgumentException("branch " + b + ": dilation must be >= 1");
            }
            if (b.dilation() > b.segmentLength()) {
                throw new IllegalArgumentException("branch " + b + ": dilation " + b.dilation()
                        + " exceeds segment length " + b.segmentLength() + " (need 1 <= r <= w)");
            }
            if (!seen.add(b)) {
                throw new IllegalArgumentException("branch " + b + " is given twice");
            }
            dense |= b.dilation() == 1;
        }
        if (!dense) {
            throw new IllegalArgumentException("no branch has dilation 1, so some positions would "
                    + "have no output: add one, e.g. " + branches.get(0).segmentLength() + ":1");
        }
        if (heads < 1) {
            throw new IllegalArgumentException("heads must be >= 1 (got " + heads + ")");
        }
        if (headDim < 1) {
            throw new IllegalArgumentException("head width d must be >= 1 (got " + headDim + ")");
        }
        if (headOffset == null) {
            throw new IllegalArgumentException("head offset mode must be given (default: PAPER)");
        }
    }

    /** A config with the paper's head offsets ({@code h mod r}). */
    public static DilatedAttentionConfig of(List<Branch> branches, int heads, int headDim, boolean causal) {
        return new DilatedAttentionConfig(branches, heads, headDim, causal, HeadOffset.PAPER);
    }

    /** Same branches and shape, causal flag changed. */
    public DilatedAttentionConfig withCausal(boolean c) {
        return new DilatedAttentionConfig(branches, heads, headDim, c, headOffset);
    }

    /** Offset of head {@code head} in branch {@code b}. */
    public int offset(Branch b, int head) {
        return headOffset.offset(head, heads, b.dilation());
    }

    /** Floats per position of q, k, v and o: {@code H * d}. */
    public int rowWidth() {
        return heads * headDim;
    }

    /** Largest segment length of all branches. */
    public int maxSegmentLength() {
        int max = 0;
        for (Branch b : branches) {
            max = Math.max(max, b.segmentLength());
        }
        return max;
    }

    /**
     * Floating-point operations of true LongNet work for {@code n} positions: per head and branch
     * {@code 4 n w d / r^2} (two matrix products over each sparsified segment), half when causal.
     */
    public double flops(long n) {
        double total = 0;
        for (Branch b : branches) {
            double w = b.segmentLength();
            double r = b.dilation();
            total += 4.0 * n * w * headDim / (r * r);
        }
        total *= heads;
        return causal ? total / 2 : total;
    }
}
