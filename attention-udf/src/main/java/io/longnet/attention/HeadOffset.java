package io.longnet.attention;

/**
 * Which rows of a dilated segment a head uses: head {@code h} of branch {@code (w, r)} selects the rows
 * {@code offset, offset + r, offset + 2r, ...} of each segment.
 */
public enum HeadOffset {
    /** The paper's {@code s_j = j mod r} (LongNet §2.2): consecutive heads take consecutive offsets. */
    PAPER {
        @Override
        public int offset(int head, int heads, int dilation) {
            return head % dilation;
        }
    },
    /**
     * Heads split into {@code r} contiguous groups of {@code ceil(H / r)}, group {@code g} taking offset
     * {@code g}: the layout of torchscale's {@code DilatedAttention.dense_to_sparse}
     * ({@code rearrange 'b (l r1) (r2 h) d -> ...'} followed by a diagonal). Only for loading weights
     * trained that way.
     */
    CONTIGUOUS_GROUPS {
        @Override
        public int offset(int head, int heads, int dilation) {
            int groupSize = (heads + dilation - 1) / dilation;
            return head / groupSize;
        }
    };

    /** Offset in {@code [0, dilation)} of head {@code head} of {@code heads}. */
    public abstract int offset(int head, int heads, int dilation);
}
