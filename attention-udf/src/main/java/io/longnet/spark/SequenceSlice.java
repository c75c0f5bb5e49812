package io.longnet.spark;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Per-position values of positions {@code [start, start + length)} of sequence {@code seqId}:
 * {@code length x width} floats, row-major (hidden states: width d_model; log-probabilities: width 1).
 */
public record SequenceSlice(long seqId, long start, int length, float[] values) implements Serializable {

    /**
     * This slice cut where blocks of {@code blockSize} positions begin, so that each piece lies inside one
     * block ({@code start / blockSize} is its block): the shape of the block layout.
     */
    public List<SequenceSlice> byBlock(int blockSize, int width) {
        List<SequenceSlice> out = new ArrayList<>();
        long end = start + length;
        for (long at = start / blockSize * blockSize; at < end; at += blockSize) {
            long from = Math.max(at, start);
            long to = Math.min(at + blockSize, end);
            out.add(new SequenceSlice(seqId, from, (int) (to - from), Arrays.copyOfRange(values,
                    (int) (from - start) * width, (int) (to - start) * width)));
        }
        return out;
    }
}
