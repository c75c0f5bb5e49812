package io.longnet.attention;

/**
 * Float64 dilated attention written straight from docs/ARCHITECTURE.md §1 with loops over positions: for each
 * branch, head and selected query p, the scores against the selected keys q of its segment, the branch's
 * lse and output, then the mixture weighted by exp(lse_b - M). Deliberately naive and independent of the
 * engine (no tiling, no online softmax, no shared helpers beyond the config).
 */
public final class BruteForceReference {

    public final double[] o;
    public final double[] lse;

    private BruteForceReference(double[] o, double[] lse) {
        this.o = o;
        this.lse = lse;
    }

    public static BruteForceReference compute(DilatedAttentionConfig c, float[] q, float[] k, float[] v, int n) {
        int heads = c.heads();
        int d = c.headDim();
        int nb = c.branches().size();
        double[][] lseB = new double[nb][n * heads];
        double[][] outB = new double[nb][n * heads * d];
        for (int b = 0; b < nb; b++) {
            java.util.Arrays.fill(lseB[b], Double.NEGATIVE_INFINITY);
            int w = c.branches().get(b).segmentLength();
            int r = c.branches().get(b).dilation();
            for (int h = 0; h < heads; h++) {
                int s = offset(c, h, r);
                for (int segStart = 0; segStart < n; segStart += w) {
                    int segEnd = Math.min(segStart + w, n);
                    for (int p = segStart + s; p < segEnd; p += r) {
                        double max = Double.NEGATIVE_INFINITY;
                        double[] scores = new double[segEnd - segStart];
                        for (int kq = segStart + s; kq < segEnd; kq += r) {
                            if (c.causal() && kq > p) {
                                continue;
                            }
                            scores[kq - segStart] = dot(q, k, p, kq, h, heads, d) / Math.sqrt(d);
                            max = Math.max(max, scores[kq - segStart]);
                        }
                        double sum = 0;
                        for (int kq = segStart + s; kq < segEnd; kq += r) {
                            if (!(c.causal() && kq > p)) {
                                sum += Math.exp(scores[kq - segStart] - max);
                            }
                        }
                        double l = max + Math.log(sum);
                        lseB[b][p * heads + h] = l;
                        for (int kq = segStart + s; kq < segEnd; kq += r) {
                            if (c.causal() && kq > p) {
                                continue;
                            }
                            double weight = Math.exp(scores[kq - segStart] - l);
                            for (int e = 0; e < d; e++) {
                                outB[b][(p * heads + h) * d + e] += weight * v[(kq * heads + h) * d + e];
                            }
                        }
                    }
                }
            }
        }
        double[] o = new double[n * heads * d];
        double[] lse = new double[n * heads];
        for (int ph = 0; ph < n * heads; ph++) {
            double m = Double.NEGATIVE_INFINITY;
            for (int b = 0; b < nb; b++) {
                m = Math.max(m, lseB[b][ph]);
            }
            double denom = 0;
            for (int b = 0; b < nb; b++) {
                denom += Math.exp(lseB[b][ph] - m);
            }
            for (int b = 0; b < nb; b++) {
                double weight = Math.exp(lseB[b][ph] - m) / denom;
                for (int e = 0; e < d; e++) {
                    o[ph * d + e] += weight * outB[b][ph * d + e];
                }
            }
            lse[ph] = m + Math.log(denom);
        }
        return new BruteForceReference(o, lse);
    }

    /** The offset formulas again, written out, so a slip in {@link HeadOffset} shows. */
    private static int offset(DilatedAttentionConfig c, int h, int r) {
        return switch (c.headOffset()) {
            case PAPER -> h % r;
            case CONTIGUOUS_GROUPS -> h / ((c.heads() + r - 1) / r);
        };
    }

    private static double dot(float[] q, float[] k, int p, int kq, int h, int heads, int d) {
        double s = 0;
        for (int e = 0; e < d; e++) {
            s += (double) q[(p * heads + h) * d + e] * k[(kq * heads + h) * d + e];
        }
        return s;
    }
}
