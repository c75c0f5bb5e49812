package io.longnet.training;

import io.longnet.attention.ParallelRows;
import io.longnet.model.NetlibBlas;
import io.longnet.model.VectorGemm;
import java.util.Arrays;

/**
 * The float64 twin of {@link io.longnet.model.RowOps}, as {@link TrainableModel} is of
 * {@link io.longnet.model.LongNetModel}.
 *
 * <p>The float64 row operations of {@link TrainableModel} and their backward passes: linear layers whose
 * weights ({@code torch.nn.Linear} layout {@code [out][in]}) and biases live in the flat parameter vector,
 * and LayerNorm. Gradients with respect to parameters are added into a gradient vector of the same layout
 * (same offsets). Each operation splits its rows, or for a gradient summed over rows its parameter rows or
 * columns, over a {@link ParallelRows}: every output is computed by one thread in the same order whatever
 * their number, so the results do not depend on it (on a native BLAS only as far as its dgemm's own
 * summation order does not depend on the rows of a call).
 *
 * <p>The three products of a linear layer (forward, input gradient, weight gradient) run through netlib's
 * dgemm where {@link NetlibBlas} has a native library, else through the project's Vector API GEMM
 * ({@link VectorGemm}) where the Vector API is available, else through {@link #mulAddLoops}' own
 * register-blocked GEMM, whose inner loop is shaped for HotSpot's C2 auto-vectoriser. The last two give the
 * same results bit for bit (each element sums by fused multiply-adds in increasing {@code k}).
 */
final class DoubleRowOps {

    /** Rows of C {@link #mulAdd} takes through each group of four rows of B while those are in L1. */
    private static final int ROWS = 8;
    /** Rows of B a panel of {@link #mulAdd} holds are a multiple of this. */
    private static final int PANEL_STEP = 4;
    /** About how many doubles of B a panel of {@link #mulAdd} holds: 256 KiB, in L2. */
    private static final int B_PANEL = 1 << 15;

    private DoubleRowOps() {
    }

    /** Rows of a chunk of {@link ParallelRows#split}: fewer would make a product's packing of B count. */
    static final int MIN_ROWS = 32;
    /** Columns (parameter rows) of a chunk of a reduction over rows: a weight gradient's rows, LayerNorm's columns. */
    static final int MIN_COLUMNS = 16;

    /**
     * {@code y[r][o] = b[o] + sum_k x[r][k] W[o][k]} for {@code rows} rows, {@code W = p[w ..]} as
     * {@code [out][in]}, {@code b = p[b ..]} (none when {@code b < 0}); {@code y} is overwritten. The rows are
     * split over {@code threads}.
     */
    static void linear(ParallelRows threads, double[] x, int rows, int in, double[] p, int w, int b, int out,
                       double[] y) {
        if (NetlibBlas.forDouble()) {
            threads.split(rows, MIN_ROWS, (r0, r1) -> {
                fillBias(p, b, r0, r1, out, y);
                // As RowOps.linear: row-major y = x W^T is, column-major, y^T = W x^T, dgemm "T", "N"; no copy of W.
                NetlibBlas.library().dgemm("T", "N", out, r1 - r0, in, 1.0, p, w, in, x, r0 * in, in, 1.0, y,
                        r0 * out, out);
            });
            return;
        }
        if (NetlibBlas.vectorGemm()) {
            threads.split(rows, MIN_ROWS, (r0, r1) -> {
                fillBias(p, b, r0, r1, out, y);
                VectorGemm.mulAdd(x, r0 * in, in, 1, r1 - r0, in, p, w, 1, in, out, y, r0 * out, out);
            });
            return;
        }
        // W^T once (in * out values against the GEMM's rows * in * out operations), so that the inner loop
        // runs over contiguous outputs.
        double[] wt = new double[in * out];
        for (int o = 0; o < out; o++) {
            int wo = w + o * in;
            for (int k = 0; k < in; k++) {
                wt[k * out + o] = p[wo + k];
            }
        }
        threads.split(rows, MIN_ROWS, (r0, r1) -> {
            fillBias(p, b, r0, r1, out, y);
            mulAddLoops(x, r0 * in, in, 1, r1 - r0, in, wt, 0, out, out, y, r0 * out, out);
        });
    }

    /** Rows {@code [r0, r1)} of {@code y} set to the bias {@code p[b ..]}, or to zeros when {@code b < 0}. */
    private static void fillBias(double[] p, int b, int r0, int r1, int out, double[] y) {
        for (int r = r0; r < r1; r++) {
            int yr = r * out;
            if (b < 0) {
                Arrays.fill(y, yr, yr + out, 0.0);
            } else {
                System.arraycopy(p, b, y, yr, out);
            }
        }
    }

    /**
     * The backward pass of {@link #linear} for an upstream gradient {@code dy}: adds {@code dy W} into
     * {@code dx} (skipped when null; rows split over {@code threads}), {@code dy^T x} into {@code grad[w ..]}
     * and the column sums of {@code dy} into {@code grad[b ..]} (when {@code b >= 0}; both split over the
     * weight's rows, each summing over all rows of {@code dy} in order).
     */
    static void linearBackward(ParallelRows threads, double[] x, int rows, int in, double[] p, int w, int b, int out,
                               double[] dy, double[] dx, double[] grad) {
        if (dx != null) {
            // dx[r] += sum_o dy[r][o] W[o]: weight rows are already contiguous along the input.
            threads.split(rows, MIN_ROWS, (r0, r1) ->
                    mulAdd(dy, r0 * out, out, 1, r1 - r0, out, p, w, in, in, dx, r0 * in, in));
        }
        threads.split(out, MIN_COLUMNS, (o0, o1) -> {
            if (b >= 0) {
                for (int r = 0; r < rows; r++) {
                    int yr = r * out;
                    for (int o = o0; o < o1; o++) {
                        grad[b + o] += dy[yr + o];
                    }
                }
            }
            // dW[o] += sum_r dy[r][o] x[r]: the rows of x are the B operand, dy read down its columns.
            mulAdd(dy, o0, 1, out, o1 - o0, rows, x, 0, in, in, grad, w + o0 * in, in);
        });
    }

    /** {@code dst[i] += src[i]} for all {@code i}, split over {@code threads} in rows of {@code width}. */
    static void addInto(ParallelRows threads, double[] dst, double[] src, int width) {
        threads.split(dst.length / width, MIN_ROWS, (r0, r1) -> {
            for (int i = r0 * width, end = r1 * width; i < end; i++) {
                dst[i] += src[i];
            }
        });
    }

    /**
     * {@code C[i][j] += sum_{k < depth} A(i, k) B[k][j]} for {@code i < rows}, {@code j < m}, with
     * {@code A(i, k) = a[aOff + i * aRow + k * aCol]} (any strides, so that a transposed operand needs no
     * copy), {@code B[k][j] = b[bOff + k * bRow + j]} and {@code C[i][j] = c[cOff + i * cRow + j]}.
     *
     * <p>Why it is shaped this way (measured on HotSpot 17): C2 vectorises this loop only when its arrays
     * are indexed by the loop variable alone (C or B at offsets into flat arrays, as a row-major matrix
     * has them, kept it scalar) and the body is small enough to unroll: one row of C against four rows of
     * B, four multiply-adds per element, is the largest that it does (two rows of C, or eight of B, run
     * scalar, 2-4x slower). So rows of B are copied into a panel of row arrays that stays in L2 while all of
     * C passes over it, and C goes through it {@link #ROWS} rows at a time, copied into scratch rows: each
     * group of four rows of B then serves all of them from L1. Each {@code C[i][j]} still sums over
     * {@code k} in increasing order, so the result does not depend on the panel or block sizes.
     */
    static void mulAdd(double[] a, int aOff, int aRow, int aCol, int rows, int depth, double[] b, int bOff,
                       int bRow, int m, double[] c, int cOff, int cRow) {
        if (rows <= 0 || depth <= 0 || m <= 0) {
            return;
        }
        if (NetlibBlas.forDouble() && cRow >= m && bRow >= m) {
            // Row-major C += A B is, column-major, C^T += B^T A^T: B read column-major is B^T (ld bRow); A with
            // unit column stride read column-major is A^T (ld aRow), with unit row stride it is A (ld aCol).
            if (aCol == 1 && aRow >= depth) {
                NetlibBlas.library().dgemm("N", "N", m, rows, depth, 1.0, b, bOff, bRow, a, aOff, aRow, 1.0, c, cOff, cRow);
                return;
            }
            if (aRow == 1 && aCol >= rows) {
                NetlibBlas.library().dgemm("N", "T", m, rows, depth, 1.0, b, bOff, bRow, a, aOff, aCol, 1.0, c, cOff, cRow);
                return;
            }
        }
        if (NetlibBlas.vectorGemm()) {
            VectorGemm.mulAdd(a, aOff, aRow, aCol, rows, depth, b, bOff, bRow, 1, m, c, cOff, cRow);
            return;
        }
        mulAddLoops(a, aOff, aRow, aCol, rows, depth, b, bOff, bRow, m, c, cOff, cRow);
    }

    /** {@link #mulAdd} without the BLAS: the panels and blocks described there. */
    static void mulAddLoops(double[] a, int aOff, int aRow, int aCol, int rows, int depth, double[] b, int bOff,
                            int bRow, int m, double[] c, int cOff, int cRow) {
        int panelRows = Math.min(depth, Math.max(PANEL_STEP, B_PANEL / m / PANEL_STEP * PANEL_STEP));
        double[][] panel = new double[panelRows][m];
        double[][] block = new double[ROWS][m];
        for (int k0 = 0; k0 < depth; k0 += panelRows) {
            int count = Math.min(panelRows, depth - k0);
            for (int k = 0; k < count; k++) {
                System.arraycopy(b, bOff + (k0 + k) * bRow, panel[k], 0, m);
            }
            for (int i0 = 0; i0 < rows; i0 += ROWS) {
                int n = Math.min(ROWS, rows - i0);
                for (int r = 0; r < n; r++) {
                    System.arraycopy(c, cOff + (i0 + r) * cRow, block[r], 0, m);
                }
                int k = 0;
                for (; k + 4 <= count; k += 4) {
                    double[] b0 = panel[k];
                    double[] b1 = panel[k + 1];
                    double[] b2 = panel[k + 2];
                    double[] b3 = panel[k + 3];
                    for (int r = 0; r < n; r++) {
                        int at = aOff + (i0 + r) * aRow + (k0 + k) * aCol;
                        double f0 = a[at];
                        double f1 = a[at + aCol];
                        double f2 = a[at + 2 * aCol];
                        double f3 = a[at + 3 * aCol];
                        double[] row = block[r];
                        for (int j = 0; j < m; j++) {
                            row[j] = Math.fma(f3, b3[j], Math.fma(f2, b2[j], Math.fma(f1, b1[j], Math.fma(f0, b0[j], row[j]))));
                        }
                    }
                }
                for (; k < count; k++) {
                    double[] b0 = panel[k];
                    for (int r = 0; r < n; r++) {
                        double f0 = a[aOff + (i0 + r) * aRow + (k0 + k) * aCol];
                        double[] row = block[r];
                        for (int j = 0; j < m; j++) {
                            row[j] = Math.fma(f0, b0[j], row[j]);
                        }
                    }
                }
                for (int r = 0; r < n; r++) {
                    System.arraycopy(block[r], 0, c, cOff + (i0 + r) * cRow, m);
                }
            }
        }
    }

    /**
     * LayerNorm of each row, as {@code torch.nn.LayerNorm} (biased variance, {@code eps} inside the root):
     * {@code y = xhat g + b} with {@code xhat = (x - mean) rstd}, {@code rstd = 1 / sqrt(var + eps)};
     * {@code g = p[g ..]}, {@code b = p[b ..]}. Writes {@code xhat} and {@code rstd} (per row) for the
     * backward pass; {@code y} may be null (not wanted). Rows split over {@code threads}.
     */
    static void layerNorm(ParallelRows threads, double[] x, int rows, int width, double[] p, int g, int b, double eps,
                          double[] y, double[] xhat, double[] rstd) {
        threads.split(rows, MIN_ROWS, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int off = r * width;
                double sum = 0;
                for (int k = 0; k < width; k++) {
                    sum += x[off + k];
                }
                double mean = sum / width;
                double sq = 0;
                for (int k = 0; k < width; k++) {
                    double c = x[off + k] - mean;
                    sq += c * c;
                }
                double inv = 1 / Math.sqrt(sq / width + eps);
                rstd[r] = inv;
                for (int k = 0; k < width; k++) {
                    xhat[off + k] = (x[off + k] - mean) * inv;
                }
                if (y != null) {
                    affine(xhat, off, width, p, g, b, y);
                }
            }
        });
    }

    /**
     * {@code y[r] = xhat[r] g + b} for rows {@code [0, rows)}: a LayerNorm's output again from its saved state.
     * Rows split over {@code threads}.
     */
    static void layerNormOutput(ParallelRows threads, double[] xhat, int rows, int width, double[] p, int g, int b,
                                double[] y) {
        threads.split(rows, MIN_ROWS, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                affine(xhat, r * width, width, p, g, b, y);
            }
        });
    }

    private static void affine(double[] xhat, int off, int width, double[] p, int g, int b, double[] y) {
        for (int k = 0; k < width; k++) {
            y[off + k] = xhat[off + k] * p[g + k] + p[b + k];
        }
    }

    /**
     * The backward pass of {@link #layerNorm} for {@code rows} rows: writes {@code dx} (rows split over
     * {@code threads}), adds the gradients of {@code g} and {@code b} into {@code grad} (columns split over
     * {@code threads}, each summing over the rows in order). With {@code dxhat = dy g}:
     * {@code dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat))}.
     */
    static void layerNormBackward(ParallelRows threads, double[] dy, int rows, int width, double[] p, int g, int b,
                                  double[] xhat, double[] rstd, double[] dx, double[] grad) {
        threads.split(width, MIN_COLUMNS, (k0, k1) -> {
            for (int r = 0; r < rows; r++) {
                int off = r * width;
                for (int k = k0; k < k1; k++) {
                    double dyk = dy[off + k];
                    grad[g + k] += dyk * xhat[off + k];
                    grad[b + k] += dyk;
                }
            }
        });
        threads.split(rows, MIN_ROWS, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int off = r * width;
                double sumD = 0;
                double sumDx = 0;
                for (int k = 0; k < width; k++) {
                    double d = dy[off + k] * p[g + k];
                    sumD += d;
                    sumDx += d * xhat[off + k];
                }
                double meanD = sumD / width;
                double meanDx = sumDx / width;
                double inv = rstd[r];
                for (int k = 0; k < width; k++) {
                    dx[off + k] = inv * (dy[off + k] * p[g + k] - meanD - xhat[off + k] * meanDx);
                }
            }
        });
    }
}
