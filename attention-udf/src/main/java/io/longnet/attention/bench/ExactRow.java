package io.longnet.attention.bench;

import io.longnet.attention.Branch;
import io.longnet.attention.DilatedAttentionConfig;
import java.nio.FloatBuffer;

/**
 * Float64 value of one output row {@code (p, h)} from the formulas of docs/ARCHITECTURE.md §1, for the benchmark's
 * self-check on data too large for a full reference: it costs {@code O(sum_b w/r * d)} per row.
 */
final class ExactRow {

    final double[] o;
    double lse;

    private ExactRow(int d) {
        this.o = new double[d];
    }

    static ExactRow compute(DilatedAttentionConfig c, FloatBuffer q, FloatBuffer k, FloatBuffer v, int n,
                            int p, int h) {
        int heads = c.heads();
        int d = c.headDim();
        double scale = 1.0 / Math.sqrt(d);
        ExactRow row = new ExactRow(d);
        double total = 0;      // sum_b exp(lse_b), kept relative to a running maximum
        double max = Double.NEGATIVE_INFINITY;
        double[] out = new double[d];
        for (Branch b : c.branches()) {
            int w = b.segmentLength();
            int r = b.dilation();
            int start = p / w * w;
            int first = start + c.offset(b, h);
            if (p < first || (p - first) % r != 0) {
                continue; // p is not selected by this branch for head h
            }
            int end = c.causal() ? p + 1 : Math.min(start + w, n);
            double bMax = Double.NEGATIVE_INFINITY;
            for (int key = first; key < end; key += r) {
                bMax = Math.max(bMax, score(q, k, p, key, h, heads, d) * scale);
            }
            double sum = 0;
            java.util.Arrays.fill(out, 0);
            for (int key = first; key < end; key += r) {
                double e = Math.exp(score(q, k, p, key, h, heads, d) * scale - bMax);
                sum += e;
                for (int c2 = 0; c2 < d; c2++) {
                    out[c2] += e * v.get((key * heads + h) * d + c2);
                }
            }
            double lseB = bMax + Math.log(sum);
            double newMax = Math.max(max, lseB);
            double keep = total == 0 ? 0 : Math.exp(max - newMax);
            double add = Math.exp(lseB - newMax);
            for (int c2 = 0; c2 < d; c2++) {
                row.o[c2] = row.o[c2] * keep + out[c2] / sum * add;
            }
            total = total * keep + add;
            max = newMax;
        }
        for (int c2 = 0; c2 < d; c2++) {
            row.o[c2] /= total;
        }
        row.lse = max + Math.log(total);
        return row;
    }

    private static double score(FloatBuffer q, FloatBuffer k, int p, int key, int h, int heads, int d) {
        double s = 0;
        for (int c = 0; c < d; c++) {
            s += (double) q.get((p * heads + h) * d + c) * k.get((key * heads + h) * d + c);
        }
        return s;
    }
}
