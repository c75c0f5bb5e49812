package io.longnet.attention;

import java.util.Arrays;

/**
 * The Sparse Transformer's strided attention (Child et al. 2019, "Generating Long Sequences with Sparse
 * Transformers"), the baseline of the training comparison (docs/MODEL.md). With stride {@code l}, query
 * {@code i} attends, in one softmax, to the union (each key once) of
 * <ul>
 *   <li>the local window: {@code i - l < j <= i} when causal, {@code |i - j| < l} when not, and</li>
 *   <li>the strided set: {@code (i - j) mod l == 0}, and {@code j <= i} when causal,</li>
 * </ul>
 * within {@code [0, N)}. {@code l = 1} and {@code l >= N} are both dense attention. Every query sees
 * itself, so every position has an output. Scores are {@code q . k / sqrt(d)}, as in the dilated engine.
 *
 * <p>The pattern is not a set of dilated branches: a dilated branch gives nothing to the queries it does
 * not select, while here every query has its own strided set. Work is {@code O(N (l + N / l))} per head
 * (at most {@code 2l - 1 + N/l} keys per query) and memory {@code O(N)} beyond the arrays: the forward
 * pass runs an online softmax per query, the backward pass recomputes the probabilities from lse.
 * One thread; arrays as {@link TrainingAttention} says.
 */
public final class StridedSparseAttention implements TrainingAttention {

    private final int heads;
    private final int headDim;
    private final boolean causal;
    private final int stride;
    private final double scale;

    /**
     * @param stride the Sparse Transformer's {@code l}: local window length and stride, {@code >= 1}
     * @throws IllegalArgumentException when a size is below 1
     */
    public StridedSparseAttention(int heads, int headDim, boolean causal, int stride) {
        if (heads < 1) {
            throw new IllegalArgumentException("heads must be >= 1 (got " + heads + ")");
        }
        if (headDim < 1) {
            throw new IllegalArgumentException("head width must be >= 1 (got " + headDim + ")");
        }
        if (stride < 1) {
            throw new IllegalArgumentException("stride must be >= 1 (got " + stride
                    + "): it is the local window length and the distance between strided keys");
        }
        this.heads = heads;
        this.headDim = headDim;
        this.causal = causal;
        this.stride = stride;
        this.scale = 1.0 / Math.sqrt(headDim);
    }

    @Override
    public int heads() {
        return heads;
    }

    @Override
    public int headDim() {
        return headDim;
    }

    @Override
    public boolean causal() {
        return causal;
    }

    /** The stride {@code l}. */
    public int stride() {
        return stride;
    }

    /**
     * The key positions query {@code query} attends to in a sequence of {@code n} positions, ascending,
     * each once.
     *
     * @throws IllegalArgumentException unless {@code 0 <= query < n} and {@code stride >= 1}
     */
    public static int[] keyPositions(int query, int n, int stride, boolean causal) {
        if (stride < 1) {
            throw new IllegalArgumentException("stride must be >= 1 (got " + stride + ")");
        }
        if (query < 0 || query >= n) {
            throw new IllegalArgumentException("query " + query + " is outside a sequence of " + n + " positions");
        }
        int[] keys = new int[n];
        return Arrays.copyOf(keys, keys(query, n, stride, causal, keys));
    }

    /**
     * Writes query {@code i}'s keys into {@code out} in ascending order and returns their number: the
     * strided keys before the window ({@code i - t l}, {@code t >= 1}), the window, and (not causal) the
     * strided keys after it ({@code i + t l}). The three ranges are disjoint (a strided key other than
     * {@code i} is at distance {@code >= l}, outside the window), which is the deduplication.
     */
    private static int keys(int i, int n, int l, boolean causal, int[] out) {
        int before = i / l; // i - t l for t = 1 .. i / l
        for (int t = 1; t <= before; t++) {
            out[before - t] = i - t * l;
        }
        int count = before;
        // In long: i + l overflows int for a stride near Integer.MAX_VALUE (any l >= N is dense attention).
        int hi = causal ? i : (int) Math.min(n - 1L, (long) i + l - 1);
        for (int j = Math.max(0, i - l + 1); j <= hi; j++) {
            out[count++] = j;
        }
        if (!causal) {
            for (long j = (long) i + l; j < n; j += l) {
                out[count++] = (int) j;
            }
        }
        return count;
    }

    @Override
    public void forward(double[] q, double[] k, double[] v, int n, double[] o, double[] lse) {
        checkRows(n, "q", q, "k", k, "v", v, "o", o);
        checkLength("lse", lse, (long) n * heads, "n x heads = " + n + " x " + heads);
        int d = headDim;
        int[] keys = new int[n];
        double[] acc = new double[d];
        for (int i = 0; i < n; i++) {
            int count = keys(i, n, stride, causal, keys);
            for (int h = 0; h < heads; h++) {
                int qi = (i * heads + h) * d;
                Arrays.fill(acc, 0);
                double max = Double.NEGATIVE_INFINITY;
                double sum = 0;
                // Online softmax: rescale the running sum and accumulator whenever the maximum grows.
                for (int t = 0; t < count; t++) {
                    int kj = (keys[t] * heads + h) * d;
                    double s = scale * dot(q, qi, k, kj, d);
                    if (s > max) {
                        double alpha = Math.exp(max - s);
                        sum *= alpha;
                        for (int c = 0; c < d; c++) {
                            acc[c] *= alpha;
                        }
                        max = s;
                    }
                    double p = Math.exp(s - max);
                    sum += p;
                    for (int c = 0; c < d; c++) {
                        acc[c] += p * v[kj + c];
                    }
                }
                for (int c = 0; c < d; c++) {
                    o[qi + c] = acc[c] / sum;
                }
                lse[i * heads + h] = max + Math.log(sum);
            }
        }
    }

    @Override
    public void backward(double[] q, double[] k, double[] v, int n, double[] o, double[] lse, double[] dO,
                         double[] dq, double[] dk, double[] dv) {
        checkRows(n, "q", q, "k", k, "v", v, "o", o);
        checkRows(n, "dO", dO, "dq", dq, "dk", dk, "dv", dv);
        checkLength("lse", lse, (long) n * heads, "n x heads = " + n + " x " + heads);
        int d = headDim;
        int[] keys = new int[n];
        for (int i = 0; i < n; i++) {
            int count = keys(i, n, stride, causal, keys);
            for (int h = 0; h < heads; h++) {
                int qi = (i * heads + h) * d;
                double rowLse = lse[i * heads + h];
                double delta = dot(dO, qi, o, qi, d); // D_i = dO_i . o_i = sum_j P_ij (dO_i . v_j)
                for (int t = 0; t < count; t++) {
                    int kj = (keys[t] * heads + h) * d;
                    double p = Math.exp(scale * dot(q, qi, k, kj, d) - rowLse);
                    double dS = p * (dot(dO, qi, v, kj, d) - delta);
                    double g = scale * dS;
                    for (int c = 0; c < d; c++) {
                        dv[kj + c] += p * dO[qi + c];
                        dq[qi + c] += g * k[kj + c];
                        dk[kj + c] += g * q[qi + c];
                    }
                }
            }
        }
    }

    private static double dot(double[] a, int ai, double[] b, int bi, int d) {
        double s = 0;
        for (int c = 0; c < d; c++) {
            s += a[ai + c] * b[bi + c];
        }
        return s;
    }

    private void checkRows(int n, String n1, double[] a1, String n2, double[] a2, String n3, double[] a3,
                           String n4, double[] a4) {
        if (n < 0) {
            throw new IllegalArgumentException("n must be >= 0 (got " + n + ")");
        }
        long size = (long) n * heads * headDim;
        String shape = "n x heads x headDim = " + n + " x " + heads + " x " + headDim;
        checkLength(n1, a1, size, shape);
        checkLength(n2, a2, size, shape);
        checkLength(n3, a3, size, shape);
        checkLength(n4, a4, size, shape);
    }

    private void checkLength(String name, double[] a, long size, String shape) {
        if (a.length < size) {
            throw new IllegalArgumentException(name + " holds " + a.length + " values, fewer than " + shape + " = "
                    + size);
        }
    }

    @Override
    public String toString() {
        return "StridedSparseAttention[heads=" + heads + ", headDim=" + headDim + ", causal=" + causal + ", stride="
                + stride + "]";
    }
}
