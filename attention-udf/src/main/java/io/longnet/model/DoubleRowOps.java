package io.longnet.model;

import java.util.Arrays;

/**
 * The float64 row operations of {@link TrainableModel} and their backward passes: linear layers whose
 * weights ({@code torch.nn.Linear} layout {@code [out][in]}) and biases live in the flat parameter vector,
 * and LayerNorm. Gradients with respect to parameters are added into a gradient vector of the same layout
 * (same offsets). Single-threaded.
 *
 * <p>The three products of a linear layer (forward, input gradient, weight gradient) all run through
 * {@link #mulAdd}, a register-blocked GEMM whose inner loop is shaped for HotSpot's C2 auto-vectoriser.
 */
final class DoubleRowOps {

    /** Rows of C and steps of the shared dimension one pass of {@link #mulAdd}'s inner loop handles. */
    private static final int TILE = 4;
    /** About how many doubles of B one pass over the shared dimension may touch: 256 KiB, in L2. */
    private static final int B_PANEL = 1 << 15;

    private DoubleRowOps() {
    }

    /**
     * {@code y[r][o] = b[o] + sum_k x[r][k] W[o][k]} for {@code rows} rows, {@code W = p[w ..]} as
     * {@code [out][in]}, {@code b = p[b ..]} (none when {@code b < 0}); {@code y} is overwritten.
     */
    static void linear(double[] x, int rows, int in, double[] p, int w, int b, int out, double[] y) {
        // W^T once (in * out values against the GEMM's rows * in * out operations), so that the inner loop
        // runs over contiguous outputs.
        double[] wt = new double[in * out];
        for (int o = 0; o < out; o++) {
            int wo = w + o * in;
            for (int k = 0; k < in; k++) {
                wt[k * out + o] = p[wo + k];
            }
        }
        for (int r = 0; r < rows; r++) {
            int yr = r * out;
            if (b < 0) {
                Arrays.fill(y, yr, yr + out, 0.0);
            } else {
                System.arraycopy(p, b, y, yr, out);
            }
        }
        mulAdd(x, 0, in, 1, rows, in, wt, 0, out, out, y, 0, out);
    }

    /**
     * The backward pass of {@link #linear} for an upstream gradient {@code dy}: adds {@code dy W} into
     * {@code dx} (skipped when null), {@code dy^T x} into {@code grad[w ..]} and the column sums of
     * {@code dy} into {@code grad[b ..]} (when {@code b >= 0}).
     */
    static void linearBackward(double[] x, int rows, int in, double[] p, int w, int b, int out, double[] dy,
                               double[] dx, double[] grad) {
        if (b >= 0) {
            for (int r = 0; r < rows; r++) {
                int yr = r * out;
                for (int o = 0; o < out; o++) {
                    grad[b + o] += dy[yr + o];
                }
            }
        }
        if (dx != null) {
            // dx[r] += sum_o dy[r][o] W[o]: weight rows are already contiguous along the input.
            mulAdd(dy, 0, out, 1, rows, out, p, w, in, in, dx, 0, in);
        }
        // dW[o] += sum_r dy[r][o] x[r]: the rows of x are the B operand, dy read down its columns.
        mulAdd(dy, 0, 1, out, out, rows, x, 0, in, in, grad, w, in);
    }

    /**
     * {@code C[i][j] += sum_{k < depth} A(i, k) B[k][j]} for {@code i < rows}, {@code j < m}, with
     * {@code A(i, k) = a[aOff + i * aRow + k * aCol]} (any strides, so that a transposed operand needs no
     * copy), {@code B[k][j] = b[bOff + k * bRow + j]} and {@code C[i][j] = c[cOff + i * cRow + j]}.
     *
     * <p>Why it is shaped this way: HotSpot 17 vectorises a loop over {@code j} whose stores go to arrays
     * indexed from 0, so blocks of {@link #TILE} rows of C are copied into scratch rows, and each pass of
     * the inner loop reads {@code TILE} rows of B and updates all {@code TILE} rows of C with
     * {@code TILE x TILE} loop-invariant factors of A: 16 fused multiply-adds per 4 loads and 4 stores of C
     * (a plain axpy does 1 per load and store). The shared dimension is cut into panels of B that stay in
     * L2 while every block of C passes over them. Each {@code C[i][j]} still sums over {@code k} in
     * increasing order, so the result does not depend on the panel sizes.
     */
    static void mulAdd(double[] a, int aOff, int aRow, int aCol, int rows, int depth, double[] b, int bOff,
                       int bRow, int m, double[] c, int cOff, int cRow) {
        if (rows <= 0 || depth <= 0 || m <= 0) {
            return;
        }
        double[] c0 = new double[m];
        double[] c1 = new double[m];
        double[] c2 = new double[m];
        double[] c3 = new double[m];
        int panel = Math.max(TILE, B_PANEL / m / TILE * TILE);
        for (int k0 = 0; k0 < depth; k0 += panel) {
            int k1 = Math.min(depth, k0 + panel);
            int i = 0;
            for (; i + TILE <= rows; i += TILE) {
                int ci = cOff + i * cRow;
                System.arraycopy(c, ci, c0, 0, m);
                System.arraycopy(c, ci + cRow, c1, 0, m);
                System.arraycopy(c, ci + 2 * cRow, c2, 0, m);
                System.arraycopy(c, ci + 3 * cRow, c3, 0, m);
                int a0 = aOff + i * aRow;
                int a1 = a0 + aRow;
                int a2 = a1 + aRow;
                int a3 = a2 + aRow;
                int k = k0;
                for (; k + TILE <= k1; k += TILE) {
                    int q0 = k * aCol;
                    int q1 = q0 + aCol;
                    int q2 = q1 + aCol;
                    int q3 = q2 + aCol;
                    double f00 = a[a0 + q0], f01 = a[a0 + q1], f02 = a[a0 + q2], f03 = a[a0 + q3];
                    double f10 = a[a1 + q0], f11 = a[a1 + q1], f12 = a[a1 + q2], f13 = a[a1 + q3];
                    double f20 = a[a2 + q0], f21 = a[a2 + q1], f22 = a[a2 + q2], f23 = a[a2 + q3];
                    double f30 = a[a3 + q0], f31 = a[a3 + q1], f32 = a[a3 + q2], f33 = a[a3 + q3];
                    int b0 = bOff + k * bRow;
                    int b1 = b0 + bRow;
                    int b2 = b1 + bRow;
                    int b3 = b2 + bRow;
                    for (int j = 0; j < m; j++) {
                        double w0 = b[b0 + j];
                        double w1 = b[b1 + j];
                        double w2 = b[b2 + j];
                        double w3 = b[b3 + j];
                        c0[j] = Math.fma(f03, w3, Math.fma(f02, w2, Math.fma(f01, w1, Math.fma(f00, w0, c0[j]))));
                        c1[j] = Math.fma(f13, w3, Math.fma(f12, w2, Math.fma(f11, w1, Math.fma(f10, w0, c1[j]))));
                        c2[j] = Math.fma(f23, w3, Math.fma(f22, w2, Math.fma(f21, w1, Math.fma(f20, w0, c2[j]))));
                        c3[j] = Math.fma(f33, w3, Math.fma(f32, w2, Math.fma(f31, w1, Math.fma(f30, w0, c3[j]))));
                    }
                }
                for (; k < k1; k++) {
                    int q0 = k * aCol;
                    double f0 = a[a0 + q0];
                    double f1 = a[a1 + q0];
                    double f2 = a[a2 + q0];
                    double f3 = a[a3 + q0];
                    int b0 = bOff + k * bRow;
                    for (int j = 0; j < m; j++) {
                        double w0 = b[b0 + j];
                        c0[j] = Math.fma(f0, w0, c0[j]);
                        c1[j] = Math.fma(f1, w0, c1[j]);
                        c2[j] = Math.fma(f2, w0, c2[j]);
                        c3[j] = Math.fma(f3, w0, c3[j]);
                    }
                }
                System.arraycopy(c0, 0, c, ci, m);
                System.arraycopy(c1, 0, c, ci + cRow, m);
                System.arraycopy(c2, 0, c, ci + 2 * cRow, m);
                System.arraycopy(c3, 0, c, ci + 3 * cRow, m);
            }
            for (; i < rows; i++) {
                int ci = cOff + i * cRow;
                System.arraycopy(c, ci, c0, 0, m);
                int a0 = aOff + i * aRow;
                for (int k = k0; k < k1; k++) {
                    double f0 = a[a0 + k * aCol];
                    int b0 = bOff + k * bRow;
                    for (int j = 0; j < m; j++) {
                        c0[j] = Math.fma(f0, b[b0 + j], c0[j]);
                    }
                }
                System.arraycopy(c0, 0, c, ci, m);
            }
        }
    }

    /**
     * LayerNorm of each row, as {@code torch.nn.LayerNorm} (biased variance, {@code eps} inside the root):
     * {@code y = xhat g + b} with {@code xhat = (x - mean) rstd}, {@code rstd = 1 / sqrt(var + eps)};
     * {@code g = p[g ..]}, {@code b = p[b ..]}. Writes {@code xhat} and {@code rstd} (per row) for the
     * backward pass; {@code y} may be null (not wanted).
     */
    static void layerNorm(double[] x, int rows, int width, double[] p, int g, int b, double eps, double[] y,
                          double[] xhat, double[] rstd) {
        for (int r = 0; r < rows; r++) {
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
    }

    /** {@code y[r] = xhat[r] g + b} for rows {@code [0, rows)}: a LayerNorm's output again from its saved state. */
    static void layerNormOutput(double[] xhat, int rows, int width, double[] p, int g, int b, double[] y) {
        for (int r = 0; r < rows; r++) {
            affine(xhat, r * width, width, p, g, b, y);
        }
    }

    private static void affine(double[] xhat, int off, int width, double[] p, int g, int b, double[] y) {
        for (int k = 0; k < width; k++) {
            y[off + k] = xhat[off + k] * p[g + k] + p[b + k];
        }
    }

    /**
     * The backward pass of {@link #layerNorm} for {@code rows} rows: writes {@code dx}, adds the gradients
     * of {@code g} and {@code b} into {@code grad}. With {@code dxhat = dy g}:
     * {@code dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat))}.
     */
    static void layerNormBackward(double[] dy, int rows, int width, double[] p, int g, int b, double[] xhat,
                                  double[] rstd, double[] dx, double[] grad) {
        for (int r = 0; r < rows; r++) {
            int off = r * width;
            double sumD = 0;
            double sumDx = 0;
            for (int k = 0; k < width; k++) {
                double dyk = dy[off + k];
                double xh = xhat[off + k];
                grad[g + k] += dyk * xh;
                grad[b + k] += dyk;
                double d = dyk * p[g + k];
                sumD += d;
                sumDx += d * xh;
            }
            double meanD = sumD / width;
            double meanDx = sumDx / width;
            double inv = rstd[r];
            for (int k = 0; k < width; k++) {
                dx[off + k] = inv * (dy[off + k] * p[g + k] - meanD - xhat[off + k] * meanDx);
            }
        }
    }
}
