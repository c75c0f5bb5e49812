package io.longnet.attention;

import java.nio.FloatBuffer;

/**
 * Which rows of a block of consecutive positions a branch selects for a head: the block starts
 * {@code offsetInSegment} positions into its segment, and the branch keeps segment rows
 * {@code offset, offset + r, ...}. Shared by the kernel and the distributed exchange, so both agree on
 * the sparse index {@code t} of every row (row {@code t} of the segment is position
 * {@code segmentStart + offset + t r}).
 *
 * @param firstRow    block-local index of the first selected position ({@code >= length} if none)
 * @param firstIndex  sparse index {@code t} of that position within its segment
 * @param count       number of selected positions in the block
 * @param stride      the dilation {@code r}: distance between selected positions
 */
public record DilatedSelection(int firstRow, int firstIndex, int count, int stride) {

    /** Selection of a block of {@code length} positions starting {@code offsetInSegment} into its segment. */
    public static DilatedSelection of(int offsetInSegment, int length, int offset, int dilation) {
        int skip = offset - offsetInSegment;
        int firstIndex = skip >= 0 ? 0 : (-skip + dilation - 1) / dilation;
        int firstRow = skip + firstIndex * dilation;
        int count = firstRow < length ? (length - firstRow + dilation - 1) / dilation : 0;
        return new DilatedSelection(firstRow, firstIndex, count, dilation);
    }

    /** Block-local position of selected row {@code i} ({@code 0 <= i < count}). */
    public int row(int i) {
        return firstRow + i * stride;
    }

    /**
     * Copies head {@code head}'s selected rows out of a block laid out {@code [length][heads][d]} (element
     * 0 at {@code block}'s position): {@code count * d} floats, sparse row order. This is what a
     * partition sends for a segment that spans partitions.
     */
    public float[] gather(FloatBuffer block, int heads, int d, int head) {
        float[] rows = new float[count * d];
        int base = block.position();
        for (int i = 0; i < count; i++) {
            block.get(base + (row(i) * heads + head) * d, rows, i * d, d);
        }
        return rows;
    }

    /** {@link #gather(FloatBuffer, int, int, int)} in float64, from a block array (element 0 at index 0). */
    public double[] gather(double[] block, int heads, int d, int head) {
        double[] rows = new double[count * d];
        for (int i = 0; i < count; i++) {
            System.arraycopy(block, (row(i) * heads + head) * d, rows, i * d, d);
        }
        return rows;
    }

    /**
     * The reverse of {@link #gather(double[], int, int, int)} for gradients: adds sparse rows
     * ({@code count * d} doubles) into head {@code head}'s selected rows of a {@code [length][heads][d]}
     * block.
     */
    public void scatterAdd(double[] rows, double[] block, int heads, int d, int head) {
        for (int i = 0; i < count; i++) {
            int at = (row(i) * heads + head) * d;
            for (int c = 0; c < d; c++) {
                block[at + c] += rows[i * d + c];
            }
        }
    }
}
