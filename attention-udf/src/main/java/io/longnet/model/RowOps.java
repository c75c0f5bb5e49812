package io.longnet.model;

import io.longnet.attention.VectorApi;

/**
 * Row-wise operations on {@code [rows][width]} float arrays for the model's forward pass: linear layers
 * ({@code torch.nn.Linear} weight layout {@code [out, in]}), LayerNorm, GELU, log-softmax. The model owns no
 * threads (the attention kernel and Spark do the parallel work). The linear layers are matrix products
 * through netlib's BLAS when {@link NetlibBlas} says it is the faster (a native BLAS may run threads of its
 * own: docs/ARCHITECTURE.md §6), else the project's {@link VectorGemm}, else this class's loops. LayerNorm, GELU
 * and the head's log-sum-exp run on {@link VectorRowOps} where {@link VectorApi} allows, else on the scalar
 * twins here.
 */
final class RowOps {

    private RowOps() {
    }

    /**
     * {@code y[r][o] (+)= b[o] + sum_k x[r][k] w[o][k]} for {@code rows} rows; {@code b} may be null;
     * with {@code accumulate} the result is added to {@code y} (a residual connection), else stored.
     */
    static void linear(float[] x, int rows, int in, float[] w, float[] b, int out, float[] y, boolean accumulate) {
        linear(x, 0, rows, in, w, b, out, y, 0, accumulate);
    }

    /**
     * {@link #linear(float[], int, int, float[], float[], int, float[], boolean)} on the rows of {@code x} from row
     * {@code row0}, into the rows of {@code y} from element {@code yOff}.
     */
    static void linear(float[] x, int row0, int rows, int in, float[] w, float[] b, int out, float[] y, int yOff,
                       boolean accumulate) {
        if (rows == 0) {
            return;
        }
        if (NetlibBlas.forFloat()) {
            // The bias goes into y first, so that one product with beta = 1 adds to it (or to the residual).
            if (b != null) {
                startOutput(rows, b, out, y, yOff, accumulate);
            }
            float beta = b != null || accumulate ? 1f : 0f;
            // Row-major y[rows][out] = x[rows][in] w[out][in]^T is, read column-major, y^T = (w^T)^T x^T with
            // w^T (in x out, leading dimension in) and x^T (in x rows): sgemm "T", "N". One product over all
            // rows keeps it large (the BLAS blocks it for the caches).
            NetlibBlas.library().sgemm("T", "N", out, rows, in, 1f, w, 0, in, x, row0 * in, in, beta, y, yOff, out);
        } else if (NetlibBlas.vectorGemm()) {
            startOutput(rows, b, out, y, yOff, accumulate);
            // B(k, o) = w[o][k]: the weights read transposed, packed by the GEMM itself.
            VectorGemm.mulAdd(x, row0 * in, in, 1, rows, in, w, 0, 1, in, out, y, yOff, out);
        } else {
            linearLoops(x, row0, rows, in, w, b, out, y, yOff, accumulate);
        }
    }

    /** {@code y} set to the bias (zeros when {@code b} is null), or the bias added to it, for a product to add to. */
    private static void startOutput(int rows, float[] b, int out, float[] y, int yOff, boolean accumulate) {
        for (int r = 0; r < rows; r++) {
            int at = yOff + r * out;
            if (b == null) {
                if (!accumulate) {
                    java.util.Arrays.fill(y, at, at + out, 0f);
                }
            } else if (accumulate) {
                for (int o = 0; o < out; o++) {
                    y[at + o] += b[o];
                }
            } else {
                System.arraycopy(b, 0, y, at, out);
            }
        }
    }

    /** {@link #linear} as plain loops: the path when netlib has neither a native library nor the Vector API. */
    static void linearLoops(float[] x, int row0, int rows, int in, float[] w, float[] b, int out, float[] y, int yOff,
                            boolean accumulate) {
        int r = 0;
        // Four rows at a time: each weight row is loaded once for four dot products (a quarter of the
        // memory traffic for large weights), and the four independent sums keep the FPU pipelines busy.
        for (; r + 4 <= rows; r += 4) {
            int x0 = (row0 + r) * in;
            int x1 = x0 + in;
            int x2 = x1 + in;
            int x3 = x2 + in;
            int y0 = yOff + r * out;
            for (int o = 0; o < out; o++) {
                int wo = o * in;
                float s0 = 0;
                float s1 = 0;
                float s2 = 0;
                float s3 = 0;
                for (int k = 0; k < in; k++) {
                    float wk = w[wo + k];
                    s0 += x[x0 + k] * wk;
                    s1 += x[x1 + k] * wk;
                    s2 += x[x2 + k] * wk;
                    s3 += x[x3 + k] * wk;
                }
                float bias = b == null ? 0f : b[o];
                store(y, y0 + o, s0 + bias, accumulate);
                store(y, y0 + out + o, s1 + bias, accumulate);
                store(y, y0 + 2 * out + o, s2 + bias, accumulate);
                store(y, y0 + 3 * out + o, s3 + bias, accumulate);
            }
        }
        for (; r < rows; r++) {
            int x0 = (row0 + r) * in;
            for (int o = 0; o < out; o++) {
                int wo = o * in;
                float s = 0;
                for (int k = 0; k < in; k++) {
                    s += x[x0 + k] * w[wo + k];
                }
                store(y, yOff + r * out + o, s + (b == null ? 0f : b[o]), accumulate);
            }
        }
    }

    private static void store(float[] y, int at, float v, boolean accumulate) {
        y[at] = accumulate ? y[at] + v : v;
    }

    /**
     * LayerNorm over each row: {@code (x - mean) / sqrt(var + eps) * g + b} with the biased variance, as
     * {@code torch.nn.LayerNorm}; statistics in double (the loops) or float vectors. {@code y} may be {@code x}.
     */
    static void layerNorm(float[] x, int rows, int width, float[] g, float[] b, double eps, float[] y) {
        layerNorm(x, 0, rows, width, g, b, eps, y, 0);
    }

    /** {@link #layerNorm(float[], int, int, float[], float[], double, float[])} from element {@code xOff} of x into y from {@code yOff}. */
    static void layerNorm(float[] x, int xOff, int rows, int width, float[] g, float[] b, double eps, float[] y,
                          int yOff) {
        if (VectorApi.available()) {
            for (int r = 0; r < rows; r++) {
                VectorRowOps.layerNorm(x, xOff + r * width, width, g, b, eps, y, yOff + r * width);
            }
        } else {
            layerNormLoops(x, xOff, rows, width, g, b, eps, y, yOff);
        }
    }

    /** {@link #layerNorm} as scalar loops: the twin of {@link VectorRowOps#layerNorm}. */
    static void layerNormLoops(float[] x, int xOff, int rows, int width, float[] g, float[] b, double eps, float[] y,
                               int yOff) {
        for (int r = 0; r < rows; r++) {
            int off = xOff + r * width;
            int out = yOff + r * width;
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
            for (int k = 0; k < width; k++) {
                y[out + k] = (float) ((x[off + k] - mean) * inv * g[k] + b[k]);
            }
        }
    }

    /** Exact GELU in place on the first {@code count} elements. */
    static void gelu(float[] x, int count) {
        if (VectorApi.available()) {
            VectorRowOps.gelu(x, count);
        } else {
            geluLoops(x, count);
        }
    }

    /** {@link #gelu} as a scalar loop over {@link Gelu}: the twin of {@link VectorRowOps#gelu}. */
    static void geluLoops(float[] x, int count) {
        for (int i = 0; i < count; i++) {
            x[i] = (float) Gelu.gelu(x[i]);
        }
    }

    /** {@code log sum_k exp(x[off + k])} over {@code width} values, the result in double. */
    static double logSumExp(float[] x, int off, int width) {
        if (VectorApi.available()) {
            return VectorRowOps.logSumExp(x, off, width);
        }
        return logSumExpLoops(x, off, width);
    }

    /** {@link #logSumExp} as scalar loops: the twin of {@link VectorRowOps#logSumExp}. */
    static double logSumExpLoops(float[] x, int off, int width) {
        double max = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < width; k++) {
            max = Math.max(max, x[off + k]);
        }
        double sum = 0;
        for (int k = 0; k < width; k++) {
            sum += Math.exp(x[off + k] - max);
        }
        return max + Math.log(sum);
    }
}
