package io.longnet.training;

import io.longnet.attention.AttentionShape;
import io.longnet.attention.TrainingAttention;
import io.longnet.model.LongNetConfig;

/**
 * Plain dense softmax attention in float64 with its backward pass, written from the textbook formulas
 * (scores {@code q.k / sqrt(d)}, causal mask {@code key <= query}): the test reference for
 * {@link TrainableModel}, and what one dilated branch with {@code w >= N, r = 1} computes.
 */
final class DenseTrainingAttention implements TrainingAttention {

    private final int heads;
    private final int headDim;
    private final boolean causal;

    DenseTrainingAttention(int heads, int headDim, boolean causal) {
        this.heads = heads;
        this.headDim = headDim;
        this.causal = causal;
    }

    static DenseTrainingAttention of(LongNetConfig config) {
        return new DenseTrainingAttention(config.heads(), config.headDim(), config.causal());
    }

    @Override
    public AttentionShape shape() {
        return new AttentionShape(heads, headDim, causal);
    }

    private double score(double[] q, double[] k, int p, int j, int h) {
        int d = headDim;
        int qo = (p * heads + h) * d;
        int ko = (j * heads + h) * d;
        double s = 0;
        for (int c = 0; c < d; c++) {
            s += q[qo + c] * k[ko + c];
        }
        return s / Math.sqrt(d);
    }

    private int keys(int p, int n) {
        return causal ? p + 1 : n;
    }

    @Override
    public void forward(double[] q, double[] k, double[] v, int n, double[] o, double[] lse) {
        int d = headDim;
        for (int p = 0; p < n; p++) {
            for (int h = 0; h < heads; h++) {
                int keys = keys(p, n);
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < keys; j++) {
                    max = Math.max(max, score(q, k, p, j, h));
                }
                double sum = 0;
                for (int j = 0; j < keys; j++) {
                    sum += Math.exp(score(q, k, p, j, h) - max);
                }
                double l = max + Math.log(sum);
                lse[p * heads + h] = l;
                int oo = (p * heads + h) * d;
                for (int c = 0; c < d; c++) {
                    o[oo + c] = 0;
                }
                for (int j = 0; j < keys; j++) {
                    double w = Math.exp(score(q, k, p, j, h) - l);
                    int vo = (j * heads + h) * d;
                    for (int c = 0; c < d; c++) {
                        o[oo + c] += w * v[vo + c];
                    }
                }
            }
        }
    }

    /**
     * With {@code P = softmax(S)}: {@code dV = P^T dO}, {@code dP = dO V^T},
     * {@code dS = P (dP - rowsum(dO o))}, {@code dQ = dS K / sqrt(d)}, {@code dK = dS^T Q / sqrt(d)}.
     */
    @Override
    public void backward(double[] q, double[] k, double[] v, int n, double[] o, double[] lse, double[] dO,
                         double[] dq, double[] dk, double[] dv) {
        int d = headDim;
        double scale = 1 / Math.sqrt(d);
        for (int p = 0; p < n; p++) {
            for (int h = 0; h < heads; h++) {
                int po = (p * heads + h) * d;
                double delta = 0;
                for (int c = 0; c < d; c++) {
                    delta += dO[po + c] * o[po + c];
                }
                for (int j = 0; j < keys(p, n); j++) {
                    int jo = (j * heads + h) * d;
                    double w = Math.exp(score(q, k, p, j, h) - lse[p * heads + h]);
                    double dp = 0;
                    for (int c = 0; c < d; c++) {
                        dv[jo + c] += w * dO[po + c];
                        dp += dO[po + c] * v[jo + c];
                    }
                    double ds = w * (dp - delta) * scale;
                    for (int c = 0; c < d; c++) {
                        dq[po + c] += ds * k[jo + c];
                        dk[jo + c] += ds * q[po + c];
                    }
                }
            }
        }
    }
}
