package io.longnet.model;

import io.longnet.attention.Branch;
import java.util.ArrayList;
import java.util.List;

/**
 * A float64 LongNet decoder written straight from the formulas (docs/ARCHITECTURE.md §1 and §6, torchscale's xPos),
 * independent of the model code: its own linear layers, LayerNorm, GELU (the normal distribution
 * function by Simpson integration, not an erf), xPos (torchscale's {@code x * cos + rotate_every_two(x) *
 * sin} with duplicated-interleaved tables), and attention either dense (plain causal softmax) or dilated
 * by brute force (loops over positions, branches mixed by their softmax denominators).
 */
final class ReferenceDecoder {

    enum Attention { DENSE, DILATED }

    /** Hidden states (embeddings, then each layer's output), and logits {@code [N][vocab]}. */
    record Result(List<double[]> hidden, double[] logits) {
    }

    private final LongNetConfig c;
    private final ModelWeights w;

    ReferenceDecoder(LongNetConfig config, ModelWeights weights) {
        this.c = config;
        this.w = weights;
    }

    Result run(int[] tokens, Attention mode) {
        int n = tokens.length;
        int dm = c.dModel();
        double[] x = new double[n * dm];
        float[] e = w.data("embed_tokens.weight");
        for (int p = 0; p < n; p++) {
            for (int j = 0; j < dm; j++) {
                x[p * dm + j] = e[tokens[p] * dm + j];
            }
        }
        List<double[]> hidden = new ArrayList<>();
        hidden.add(x.clone());
        for (int l = 0; l < c.layers(); l++) {
            String pre = "layers." + l + ".";
            // Attention sublayer.
            double[] h = layerNorm(x, n, dm, pre + "self_attn_layer_norm");
            double[] q = linear(h, n, pre + "self_attn.q_proj");
            double[] k = linear(h, n, pre + "self_attn.k_proj");
            double[] v = linear(h, n, pre + "self_attn.v_proj");
            q = xpos(q, n, false);
            k = xpos(k, n, true);
            double[] o = mode == Attention.DENSE ? dense(q, k, v, n) : dilated(q, k, v, n);
            if (c.subLn()) {
                o = layerNorm(o, n, dm, pre + "self_attn.inner_attn_ln");
            }
            double[] a = linear(o, n, pre + "self_attn.out_proj");
            for (int i = 0; i < x.length; i++) {
                x[i] += a[i];
            }
            // Feed-forward sublayer.
            h = layerNorm(x, n, dm, pre + "final_layer_norm");
            double[] f = linear(h, n, pre + "ffn.fc1");
            for (int i = 0; i < f.length; i++) {
                f[i] = f[i] * phi(f[i]);
            }
            if (c.subLn()) {
                f = layerNorm(f, n, c.ffnDim(), pre + "ffn.ffn_layernorm");
            }
            double[] g = linear(f, n, pre + "ffn.fc2");
            for (int i = 0; i < x.length; i++) {
                x[i] += g[i];
            }
            hidden.add(x.clone());
        }
        return new Result(hidden, logits(x, n));
    }

    /** Logits {@code [n][vocab]} of hidden states {@code x} (before the final LayerNorm): final LN, tied head. */
    double[] logits(double[] x, int n) {
        int dm = c.dModel();
        float[] e = w.data("embed_tokens.weight");
        double[] feats = layerNorm(x, n, dm, "layer_norm");
        double[] logits = new double[n * c.vocabSize()];
        for (int p = 0; p < n; p++) {
            for (int t = 0; t < c.vocabSize(); t++) {
                double s = 0;
                for (int j = 0; j < dm; j++) {
                    s += feats[p * dm + j] * e[t * dm + j];
                }
                logits[p * c.vocabSize() + t] = s;
            }
        }
        return logits;
    }

    /** {@code y = x W^T + b} with W {@code [out, in]} as torch.nn.Linear. */
    private double[] linear(double[] x, int n, String name) {
        int[] shape = w.shape(name + ".weight");
        int out = shape[0];
        int in = shape[1];
        float[] wt = w.data(name + ".weight");
        float[] b = w.data(name + ".bias");
        double[] y = new double[n * out];
        for (int p = 0; p < n; p++) {
            for (int o = 0; o < out; o++) {
                double s = b[o];
                for (int i = 0; i < in; i++) {
                    s += x[p * in + i] * wt[o * in + i];
                }
                y[p * out + o] = s;
            }
        }
        return y;
    }

    private double[] layerNorm(double[] x, int n, int width, String name) {
        float[] g = w.data(name + ".weight");
        float[] b = w.data(name + ".bias");
        double[] y = new double[n * width];
        for (int p = 0; p < n; p++) {
            double mean = 0;
            for (int j = 0; j < width; j++) {
                mean += x[p * width + j];
            }
            mean /= width;
            double var = 0;
            for (int j = 0; j < width; j++) {
                var += (x[p * width + j] - mean) * (x[p * width + j] - mean);
            }
            var /= width;
            for (int j = 0; j < width; j++) {
                y[p * width + j] = (x[p * width + j] - mean) / Math.sqrt(var + c.layerNormEps()) * g[j] + b[j];
            }
        }
        return y;
    }

    /** Normal distribution function: 1/2 + (1/sqrt(2 pi)) * integral of exp(-t^2/2), composite Simpson. */
    static double phi(double x) {
        double a = Math.abs(x);
        if (a > 12) {
            return x > 0 ? 1 : 0;
        }
        int m = 4000; // even
        double h = a / m;
        double s = 1 + Math.exp(-a * a / 2);
        for (int i = 1; i < m; i++) {
            double t = i * h;
            s += (i % 2 == 1 ? 4 : 2) * Math.exp(-t * t / 2);
        }
        double integral = s * h / 3 / Math.sqrt(2 * Math.PI);
        return x >= 0 ? 0.5 + integral : 0.5 - integral;
    }

    /**
     * torchscale's XPOS on {@code [N][H][d]}: {@code x * dup(cos * scale) + rotate_every_two(x) * dup(sin *
     * scale)}, scale = {@code scale_buf ** (arange(min_pos, max_pos) / base)}, angles from positions 0..N-1;
     * keys use 1 / scale.
     */
    private double[] xpos(double[] x, int n, boolean downscale) {
        int heads = c.heads();
        int d = c.headDim();
        int half = d / 2;
        int minPos = -((n + 1) / 2); // Python's -(n) // 2
        double[] out = new double[x.length];
        for (int p = 0; p < n; p++) {
            double[] cosDup = new double[d];
            double[] sinDup = new double[d];
            for (int i = 0; i < half; i++) {
                double scaleBuf = (2.0 * i + 0.4 * d) / (1.4 * d);
                double scale = Math.pow(scaleBuf, (double) (minPos + p) / c.xposScaleBase());
                if (downscale) {
                    scale = 1 / scale;
                }
                double invFreq = Math.exp(-Math.log(10000.0) * i / half);
                double angle = p * invFreq;
                cosDup[2 * i] = cosDup[2 * i + 1] = Math.cos(angle) * scale;
                sinDup[2 * i] = sinDup[2 * i + 1] = Math.sin(angle) * scale;
            }
            for (int h = 0; h < heads; h++) {
                int off = (p * heads + h) * d;
                double[] rot = new double[d];
                for (int i = 0; i < half; i++) {
                    rot[2 * i] = -x[off + 2 * i + 1];
                    rot[2 * i + 1] = x[off + 2 * i];
                }
                for (int j = 0; j < d; j++) {
                    out[off + j] = x[off + j] * cosDup[j] + rot[j] * sinDup[j];
                }
            }
        }
        return out;
    }

    private double score(double[] q, double[] k, int p, int s, int h) {
        int d = c.headDim();
        int heads = c.heads();
        double dot = 0;
        for (int j = 0; j < d; j++) {
            dot += q[(p * heads + h) * d + j] * k[(s * heads + h) * d + j];
        }
        return dot / Math.sqrt(d);
    }

    /** Plain softmax attention over all keys (those at or before the query when causal). */
    private double[] dense(double[] q, double[] k, double[] v, int n) {
        int heads = c.heads();
        int d = c.headDim();
        double[] o = new double[q.length];
        for (int h = 0; h < heads; h++) {
            for (int p = 0; p < n; p++) {
                int last = c.causal() ? p : n - 1;
                double[] s = new double[last + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int t = 0; t <= last; t++) {
                    s[t] = score(q, k, p, t, h);
                    max = Math.max(max, s[t]);
                }
                double sum = 0;
                for (int t = 0; t <= last; t++) {
                    s[t] = Math.exp(s[t] - max);
                    sum += s[t];
                }
                for (int t = 0; t <= last; t++) {
                    for (int j = 0; j < d; j++) {
                        o[(p * heads + h) * d + j] += s[t] / sum * v[(t * heads + h) * d + j];
                    }
                }
            }
        }
        return o;
    }

    /**
     * docs/ARCHITECTURE.md §1 by brute force: per branch (w, r), head h with offset h mod r, the selected rows of
     * each segment attend to each other; branches mixed with weights proportional to exp(lse_b).
     */
    private double[] dilated(double[] q, double[] k, double[] v, int n) {
        int heads = c.heads();
        int d = c.headDim();
        double[] o = new double[q.length];
        for (int h = 0; h < heads; h++) {
            for (int p = 0; p < n; p++) {
                List<Double> lses = new ArrayList<>();
                List<double[]> outs = new ArrayList<>();
                for (Branch b : c.branches()) {
                    int wl = b.segmentLength();
                    int r = b.dilation();
                    int start = p / wl * wl;
                    int end = Math.min(start + wl, n);
                    int offset = h % r;
                    if ((p - start) % r != offset) {
                        continue; // p is not selected by this branch for head h: no term
                    }
                    double sum = 0;
                    double[] acc = new double[d];
                    for (int t = start + offset; t < end; t += r) {
                        if (c.causal() && t > p) {
                            continue;
                        }
                        double e = Math.exp(score(q, k, p, t, h));
                        sum += e;
                        for (int j = 0; j < d; j++) {
                            acc[j] += e * v[(t * heads + h) * d + j];
                        }
                    }
                    for (int j = 0; j < d; j++) {
                        acc[j] /= sum;
                    }
                    lses.add(Math.log(sum));
                    outs.add(acc);
                }
                double max = Double.NEGATIVE_INFINITY;
                for (double l : lses) {
                    max = Math.max(max, l);
                }
                double denom = 0;
                for (double l : lses) {
                    denom += Math.exp(l - max);
                }
                for (int b = 0; b < lses.size(); b++) {
                    double weight = Math.exp(lses.get(b) - max) / denom;
                    for (int j = 0; j < d; j++) {
                        o[(p * heads + h) * d + j] += weight * outs.get(b)[j];
                    }
                }
            }
        }
        return o;
    }
}
