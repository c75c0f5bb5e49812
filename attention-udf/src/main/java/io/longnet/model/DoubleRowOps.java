package io.longnet.model;

/**
 * The float64 row operations of {@link TrainableModel} and their backward passes: linear layers whose
 * weights ({@code torch.nn.Linear} layout {@code [out][in]}) and biases live in the flat parameter vector,
 * and LayerNorm. Gradients with respect to parameters are added into a gradient vector of the same layout
 * (same offsets). Single-threaded.
 *
 * <p>Loops run in i-k-j order (the innermost loop walks contiguous memory of the output or of a weight
 * row with a loop-invariant factor), which the JIT vectorises; each GEMM is one pass.
 */
final class DoubleRowOps {

    private DoubleRowOps() {
    }

    /**
     * {@code y[r][o] = b[o] + sum_k x[r][k] W[o][k]} for {@code rows} rows, {@code W = p[w ..]} as
     * {@code [out][in]}, {@code b = p[b ..]} (none when {@code b < 0}); {@code y} is overwritten.
     */
    static void linear(double[] x, int rows, int in, double[] p, int w, int b, int out, double[] y) {
        // W^T once (in * out values against the GEMM's rows * in * out operations), so that the inner loop
        // runs over contiguous outputs with x[r][k] fixed.
        double[] wt = new double[in * out];
        for (int o = 0; o < out; o++) {
            int wo = w + o * in;
            for (int k = 0; k < in; k++) {
                wt[k * out + o] = p[wo + k];
            }
        }
        for (int r = 0; r < rows; r++) {
            int yr = r * out;
            for (int o = 0; o < out; o++) {
                y[yr + o] = b < 0 ? 0 : p[b + o];
            }
            int xr = r * in;
            for (int k = 0; k < in; k++) {
                double a = x[xr + k];
                int t = k * out;
                for (int o = 0; o < out; o++) {
                    y[yr + o] += a * wt[t + o];
                }
            }
        }
    }

    /**
     * The backward pass of {@link #linear} for an upstream gradient {@code dy}: adds {@code dy W} into
     * {@code dx} (skipped when null), {@code dy^T x} into {@code grad[w ..]} and the column sums of
     * {@code dy} into {@code grad[b ..]} (when {@code b >= 0}).
     */
    static void linearBackward(double[] x, int rows, int in, double[] p, int w, int b, int out, double[] dy,
                               double[] dx, double[] grad) {
        for (int r = 0; r < rows; r++) {
            int xr = r * in;
            int yr = r * out;
            for (int o = 0; o < out; o++) {
                double a = dy[yr + o];
                if (b >= 0) {
                    grad[b + o] += a;
                }
                int wo = w + o * in;
                // One pass over weight row o serves both products: the input gradient and the weight gradient.
                if (dx != null) {
                    for (int k = 0; k < in; k++) {
                        dx[xr + k] += a * p[wo + k];
                    }
                }
                for (int k = 0; k < in; k++) {
                    grad[wo + k] += a * x[xr + k];
                }
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
