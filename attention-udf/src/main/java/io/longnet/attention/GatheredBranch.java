package io.longnet.attention;

import java.util.List;

/**
 * One spanning branch's keys and values gathered for a block of queries, as {@link
 * AttentionKernel#attendGathered} takes them: the block starts {@code offsetInSegment} positions into its
 * segment, {@code keys.get(h)} and {@code values.get(h)} hold head h's sparsified rows of the segment.
 */
public record GatheredBranch(Branch branch, int offsetInSegment, List<java.nio.FloatBuffer> keys,
                             List<java.nio.FloatBuffer> values) {

    public GatheredBranch {
        keys = List.copyOf(keys);
        values = List.copyOf(values);
    }
}
