package io.longnet.attention;

import io.longnet.attention.SegmentTileAttention.Rows;
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
 * (at most {@code 2l - 1 + N/l} keys per query) and memory {@code O(l d)} beyond the arrays: the pattern
 * runs as pieces of dense or causal attention over runs of rows at a fixed stride, through the float64
 * tiles of the dilated engine ({@link SegmentTileGradients}: flash-style forward, probabilities recomputed
 * from lse in the backward pass). One thread; arrays as {@link TrainingAttention} says.
 */
public final class StridedSparseAttention implements TrainingAttention {

    private final AttentionShape shape;
    private final int stride;
    private final double scale;

    /**
     * @param stride the Sparse Transformer's {@code l}: local window length and stride, {@code >= 1}
     * @throws IllegalArgumentException when a size is below 1
     */
    public StridedSparseAttention(int heads, int headDim, boolean causal, int stride) {
        this.shape = new AttentionShape(heads, headDim, causal);
        if (stride < 1) {
            throw new IllegalArgumentException("stride must be >= 1 (got " + stride
                    + "): it is the local window length and the distance between strided keys");
        }
        this.stride = stride;
        this.scale = 1.0 / Math.sqrt(headDim);
    }

    @Override
    public AttentionShape shape() {
        return shape;
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
        int heads = shape.heads();
        int headDim = shape.headDim();
        checkLength("lse", lse, (long) n * heads, "n x heads = " + n + " x " + heads);
        Arrays.fill(o, 0, n * heads * headDim, 0.0);
        Arrays.fill(lse, 0, n * heads, Double.NEGATIVE_INFINITY);
        SegmentTileGradients tile = new SegmentTileGradients(headDim);
        pieces(n, (queries, count, keys, keyRows, shift, masked) -> {
            for (int i0 = 0; i0 < count; i0 += SegmentTileGradients.TILE_Q) {
                tile.forward(q, queries, k, v, keys, keyRows, o, lse, i0,
                        Math.min(count, i0 + SegmentTileGradients.TILE_Q), shift, masked);
            }
        });
    }

    @Override
    public void backward(double[] q, double[] k, double[] v, int n, double[] o, double[] lse, double[] dO,
                         double[] dq, double[] dk, double[] dv) {
        checkRows(n, "q", q, "k", k, "v", v, "o", o);
        checkRows(n, "dO", dO, "dq", dq, "dk", dk, "dv", dv);
        int heads = shape.heads();
        checkLength("lse", lse, (long) n * heads, "n x heads = " + n + " x " + heads);
        SegmentTileGradients tile = new SegmentTileGradients(shape.headDim());
        pieces(n, (queries, count, keys, keyRows, shift, masked) -> {
            for (int i0 = 0; i0 < count; i0 += SegmentTileGradients.TILE_Q) {
                tile.backward(q, queries, k, v, keys, keyRows, o, lse, dO, dq, dk, dv, i0,
                        Math.min(count, i0 + SegmentTileGradients.TILE_Q), shift, masked);
            }
        });
    }

    /**
     * One piece of the pattern: query rows {@code [0, count)} laid out by {@code queries} attend to key rows
     * {@code [0, keyRows)} laid out by {@code keys}; with {@code causal}, query {@code a} sees key {@code b}
     * iff {@code b <= a + shift}, else all of them.
     */
    private interface Piece {
        void run(Rows queries, int count, Rows keys, int keyRows, int shift, boolean causal);
    }

    /**
     * The pattern as disjoint pieces that {@link SegmentTileGradients} runs (a query's pieces, merged by lse,
     * are one softmax over the union of their keys; their gradients add), in a fixed order. With blocks of
     * {@code l} positions, query {@code i} in block {@code B} and local index {@code a}:
     * <ul>
     *   <li>the window's keys in block {@code B}: causal attention within the block (all of it when not
     *       causal);</li>
     *   <li>its keys in block {@code B - 1}, {@code j > i - l}, i.e. local index {@code b > a}: both blocks
     *       read backwards make that {@code b' <= a' - 1}, causal with a shift;</li>
     *   <li>not causal, its keys in block {@code B + 1}, {@code j < i + l}: {@code b <= a - 1};</li>
     *   <li>the strided keys {@code i - t l}: in the subsequence of positions {@code = i (mod l)}, the ones
     *       strictly before it, causal with shift -1; not causal, also the ones strictly after it (the
     *       subsequence read backwards).</li>
     * </ul>
     * Every piece is a run of rows at a fixed stride, so the tiles' loops stay those of dense attention.
     */
    private void pieces(int n, Piece piece) {
        int heads = shape.heads();
        int d = shape.headDim();
        boolean causal = shape.causal();
        int row = heads * d;
        // Block length; a stride of n or more is dense attention: one block, no strided keys.
        int l = (int) Math.min(stride, (long) n);
        for (int h = 0; h < heads; h++) {
            int head = h * d;
            for (int start = 0; start < n; start += l) {
                int len = Math.min(l, n - start);
                Rows block = new Rows(start * row + head, row);
                piece.run(block, len, block, len, 0, causal);
                if (start > 0) {
                    // Block B backwards from its last row, block B - 1 backwards from its last row:
                    // b > a  <=>  (l - 1 - b') > (len - 1 - a')  <=>  b' <= a' + (l - len) - 1.
                    Rows queries = new Rows((start + len - 1) * row + head, -row);
                    Rows keys = new Rows((start - 1) * row + head, -row);
                    piece.run(queries, len, keys, l, l - len - 1, true);
                }
                if (!causal && start + l < n) {
                    int next = Math.min(l, n - start - l);
                    piece.run(block, len, new Rows((start + l) * row + head, row), next, -1, true);
                }
            }
            if (stride < n) {
                for (int residue = 0; residue < l; residue++) {
                    int count = (n - 1 - residue) / l + 1;
                    if (count < 2) {
                        continue;
                    }
                    Rows forward = new Rows(residue * row + head, l * row);
                    piece.run(forward, count, forward, count, -1, true);
                    if (!causal) {
                        Rows backward = new Rows((residue + (count - 1) * l) * row + head, -l * row);
                        piece.run(backward, count, backward, count, -1, true);
                    }
                }
            }
        }
    }

    private void checkRows(int n, String n1, double[] a1, String n2, double[] a2, String n3, double[] a3,
                           String n4, double[] a4) {
        if (n < 0) {
            throw new IllegalArgumentException("n must be >= 0 (got " + n + ")");
        }
        int heads = shape.heads();
        int headDim = shape.headDim();
        long size = (long) n * heads * headDim;
        String dims = "n x heads x headDim = " + n + " x " + heads + " x " + headDim;
        checkLength(n1, a1, size, dims);
        checkLength(n2, a2, size, dims);
        checkLength(n3, a3, size, dims);
        checkLength(n4, a4, size, dims);
    }

    private void checkLength(String name, double[] a, long size, String dims) {
        if (a.length < size) {
            throw new IllegalArgumentException(name + " holds " + a.length + " values, fewer than " + dims + " = "
                    + size);
        }
    }

    @Override
    public String toString() {
        return "StridedSparseAttention[heads=" + shape.heads() + ", headDim=" + shape.headDim() + ", causal="
                + shape.causal() + ", stride=" + stride + "]";
    }
}
