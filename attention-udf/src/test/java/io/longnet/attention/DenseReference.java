package io.longnet.attention;

/**
 * Plain dense softmax attention in float64, in matrix form: per head, the full N x N score matrix
 * {@code Q K^T / sqrt(d)} (upper triangle masked when causal), a row softmax, then {@code P V}. The
 * engine's single branch {@code (w >= N, r = 1)} must equal it.
 */
final class DenseReference {

    final double[] o;
    final double[] lse;

    private DenseReference(double[] o, double[] lse) {
        this.o = o;
        this.lse = lse;
    }

    static DenseReference compute(int heads, int d, boolean causal, float[] q, float[] k, float[] v, int n) {
        double[] o = new double[n * heads * d];
        double[] lse = new double[n * heads];
        double[][] s = new double[n][n];
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    double dot = 0;
                    for (int e = 0; e < d; e++) {
                        dot += (double) q[(i * heads + h) * d + e] * k[(j * heads + h) * d + e];
                    }
                    s[i][j] = causal && j > i ? Double.NEGATIVE_INFINITY : dot / Math.sqrt(d);
                }
            }
            for (int i = 0; i < n; i++) {
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < n; j++) {
                    max = Math.max(max, s[i][j]);
                }
                double sum = 0;
                for (int j = 0; j < n; j++) {
                    s[i][j] = Math.exp(s[i][j] - max);
                    sum += s[i][j];
                }
                lse[i * heads + h] = max + Math.log(sum);
                for (int j = 0; j < n; j++) {
                    for (int e = 0; e < d; e++) {
                        o[(i * heads + h) * d + e] += s[i][j] / sum * v[(j * heads + h) * d + e];
                    }
                }
            }
        }
        return new DenseReference(o, lse);
    }
}
