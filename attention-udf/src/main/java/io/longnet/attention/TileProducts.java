package io.longnet.attention;

/**
 * The matrix products of the float64 attention tiles ({@link SegmentTileGradients}): {@code C += A B} on
 * row arrays, {@code C[r][j] += sum_k A(r, k) B[k][j]} with {@code A(r, k) = a[r][k]} or, transposed,
 * {@code a[k][r]}.
 *
 * <p>Why it is shaped this way: a plain axpy ({@code c[j] += f * b[j]}) does one multiply-add per load and
 * store of {@code c}. Here four rows of C take four rows of B with {@code 4 x 4} loop-invariant factors of
 * A: 16 multiply-adds per 4 loads of B and 4 loads and stores of C. HotSpot 17 runs this body scalar (it
 * is too large for C2 to unroll and vectorise), yet on rows of 32-64 elements it beats the vectorised
 * shapes, axpys or one row of C against four of B ({@code DoubleRowOps.mulAdd}'s), presumably because
 * short vector loops spend much of their time in scalar pre- and post-loops (measured: attention 1.7x faster than
 * with axpys, 1.3x faster than with the one-row shape). Each {@code C[r][j]} sums over {@code k} in
 * increasing order, a fixed order, so results never depend on the thread that runs a tile. Where
 * {@link VectorApi} allows, {@link VectorTileProducts} computes the same sums, bit for bit, with the Vector API.
 */
final class TileProducts {

    private TileProducts() {
    }

    /**
     * {@code c[r][j] += sum_{k < depth} A(r, k) b[k][j]} for {@code r < rows}, {@code j < m}.
     * With {@code colFrom} (nondecreasing over rows; may be null) row {@code r} needs only
     * {@code j >= colFrom[r]}; with {@code depthFrom} (nondecreasing; may be null) only {@code k >= depthFrom[r]}.
     * Rows are updated in blocks of four from the block's first (smallest) bound, so a row may also get
     * values below its own bound: its caller overwrites or ignores them (or A is zero there).
     */
    static void mulAdd(double[][] a, boolean transposed, double[][] b, double[][] c, int rows, int depth, int m,
                       int[] colFrom, int[] depthFrom) {
        if (VectorApi.available()) {
            VectorTileProducts.mulAdd(a, transposed, b, c, rows, depth, m, colFrom, depthFrom);
        } else {
            mulAddLoops(a, transposed, b, c, rows, depth, m, colFrom, depthFrom);
        }
    }

    /** {@link #mulAdd} as scalar loops: the twin of {@link VectorTileProducts#mulAdd}. */
    static void mulAddLoops(double[][] a, boolean transposed, double[][] b, double[][] c, int rows, int depth, int m,
                            int[] colFrom, int[] depthFrom) {
        int r = 0;
        for (; r + 4 <= rows; r += 4) {
            int j0 = colFrom == null ? 0 : colFrom[r];
            int k = depthFrom == null ? 0 : depthFrom[r];
            double[] c0 = c[r];
            double[] c1 = c[r + 1];
            double[] c2 = c[r + 2];
            double[] c3 = c[r + 3];
            for (; k + 4 <= depth; k += 4) {
                double[] b0 = b[k];
                double[] b1 = b[k + 1];
                double[] b2 = b[k + 2];
                double[] b3 = b[k + 3];
                double f00, f01, f02, f03, f10, f11, f12, f13, f20, f21, f22, f23, f30, f31, f32, f33;
                if (transposed) {
                    double[] a0 = a[k];
                    double[] a1 = a[k + 1];
                    double[] a2 = a[k + 2];
                    double[] a3 = a[k + 3];
                    f00 = a0[r]; f01 = a1[r]; f02 = a2[r]; f03 = a3[r];
                    f10 = a0[r + 1]; f11 = a1[r + 1]; f12 = a2[r + 1]; f13 = a3[r + 1];
                    f20 = a0[r + 2]; f21 = a1[r + 2]; f22 = a2[r + 2]; f23 = a3[r + 2];
                    f30 = a0[r + 3]; f31 = a1[r + 3]; f32 = a2[r + 3]; f33 = a3[r + 3];
                } else {
                    double[] a0 = a[r];
                    double[] a1 = a[r + 1];
                    double[] a2 = a[r + 2];
                    double[] a3 = a[r + 3];
                    f00 = a0[k]; f01 = a0[k + 1]; f02 = a0[k + 2]; f03 = a0[k + 3];
                    f10 = a1[k]; f11 = a1[k + 1]; f12 = a1[k + 2]; f13 = a1[k + 3];
                    f20 = a2[k]; f21 = a2[k + 1]; f22 = a2[k + 2]; f23 = a2[k + 3];
                    f30 = a3[k]; f31 = a3[k + 1]; f32 = a3[k + 2]; f33 = a3[k + 3];
                }
                for (int j = j0; j < m; j++) {
                    double w0 = b0[j];
                    double w1 = b1[j];
                    double w2 = b2[j];
                    double w3 = b3[j];
                    c0[j] = Math.fma(f03, w3, Math.fma(f02, w2, Math.fma(f01, w1, Math.fma(f00, w0, c0[j]))));
                    c1[j] = Math.fma(f13, w3, Math.fma(f12, w2, Math.fma(f11, w1, Math.fma(f10, w0, c1[j]))));
                    c2[j] = Math.fma(f23, w3, Math.fma(f22, w2, Math.fma(f21, w1, Math.fma(f20, w0, c2[j]))));
                    c3[j] = Math.fma(f33, w3, Math.fma(f32, w2, Math.fma(f31, w1, Math.fma(f30, w0, c3[j]))));
                }
            }
            for (; k < depth; k++) {
                double[] b0 = b[k];
                double f0 = at(a, transposed, r, k);
                double f1 = at(a, transposed, r + 1, k);
                double f2 = at(a, transposed, r + 2, k);
                double f3 = at(a, transposed, r + 3, k);
                for (int j = j0; j < m; j++) {
                    double w0 = b0[j];
                    c0[j] = Math.fma(f0, w0, c0[j]);
                    c1[j] = Math.fma(f1, w0, c1[j]);
                    c2[j] = Math.fma(f2, w0, c2[j]);
                    c3[j] = Math.fma(f3, w0, c3[j]);
                }
            }
        }
        for (; r < rows; r++) {
            int j0 = colFrom == null ? 0 : colFrom[r];
            double[] c0 = c[r];
            for (int k = depthFrom == null ? 0 : depthFrom[r]; k < depth; k++) {
                double[] b0 = b[k];
                double f0 = at(a, transposed, r, k);
                for (int j = j0; j < m; j++) {
                    c0[j] = Math.fma(f0, b0[j], c0[j]);
                }
            }
        }
    }

    private static double at(double[][] a, boolean transposed, int r, int k) {
        return transposed ? a[k][r] : a[r][k];
    }
}
