package io.longnet.attention;

import io.longnet.attention.SegmentTileAttention.Rows;
import java.util.Arrays;
import java.util.List;

/**
 * Exact dilated attention and its gradients in float64 on the CPU: the float64 twin of {@link
 * CpuAttentionKernel}, sharing its input checks ({@link AttentionInputs}). The forward pass is the one of
 * {@link CpuAttentionKernel} in double precision; the backward pass uses that the mixed output is
 * softmax attention over the union of every branch's keys of a query, so with the mixed {@code o} and
 * {@code lse} each branch's share follows from the inputs alone: {@code P_ij = exp(s_ij - lse_i)},
 * {@code D_i = dO_i . o_i}, {@code dS_ij = P_ij (dO_i . v_j - D_i)}, and branches are independent. That
 * is what lets the distributed plan compute local branches in a task and spanning branches from gathered
 * keys ({@link #forwardGathered}, {@link #backwardGathered}), exactly as {@link AttentionKernel} does.
 *
 * <p>Branches run one after another in config order; inside a branch the work items (segment, head, and in
 * the forward pass a tile of query rows) are spread over a bounded pool. Each item writes only its own
 * rows of its head's columns and sums in a fixed order, so results are bit-identical whatever the number
 * of threads. Arrays are flat, {@code [N][H][d]}, element 0 at index 0.
 */
public final class DilatedAttentionGradients implements TrainingAttention, AutoCloseable {

    private static final int TILE = SegmentTileGradients.TILE_Q;

    private final DilatedAttentionConfig config;
    private final WorkPool pool;
    /** Whether {@link #close} stops the pool: not when it is borrowed from a {@link ParallelRows}. */
    private final boolean ownsPool;

    /** Single-threaded; owns no threads. */
    public DilatedAttentionGradients(DilatedAttentionConfig config) {
        this(config, 1);
    }

    public DilatedAttentionGradients(DilatedAttentionConfig config, int threads) {
        if (config == null) {
            throw new IllegalArgumentException("config is missing");
        }
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1 (got " + threads + ")");
        }
        this.config = config;
        this.pool = new WorkPool(threads, "longnet-attention-gradients");
        this.ownsPool = true;
    }

    /**
     * Runs its work items on the threads of {@code threads}, which it borrows: the training step's model pieces
     * and its attention then share one pool, and {@link #close} leaves it running (its owner closes it).
     */
    public DilatedAttentionGradients(DilatedAttentionConfig config, ParallelRows threads) {
        if (config == null) {
            throw new IllegalArgumentException("config is missing");
        }
        this.config = config;
        this.pool = threads.pool();
        this.ownsPool = false;
    }

    public DilatedAttentionConfig config() {
        return config;
    }

    public int threads() {
        return pool.threads();
    }

    @Override
    public AttentionShape shape() {
        return new AttentionShape(config.heads(), config.headDim(), config.causal());
    }

    @Override
    public void forward(double[] q, double[] k, double[] v, int n, double[] o, double[] lse) {
        forward(config.branches(), q, k, v, n, o, lse);
    }

    @Override
    public void backward(double[] q, double[] k, double[] v, int n, double[] o, double[] lse, double[] dO,
                         double[] dq, double[] dk, double[] dv) {
        backward(config.branches(), q, k, v, n, o, lse, dO, dq, dk, dv);
    }

    /**
     * Writes {@code o} ({@code n * H * d}) and {@code lse} ({@code n * H}) of {@code n} positions, mixing
     * only {@code branches} (a subset of the config's, in its order; empty gives {@code o = 0},
     * {@code lse = -inf}). Position 0 is the start of a segment of every branch.
     */
    public void forward(List<Branch> branches, double[] q, double[] k, double[] v, int n, double[] o,
                        double[] lse) {
        AttentionInputs.requireBranches(config, branches);
        long elems = AttentionInputs.requireForward(config, n, q, k, v, o, lse);
        int heads = config.heads();
        int d = config.headDim();
        boolean causal = config.causal();
        Arrays.fill(o, 0, (int) elems, 0.0);
        Arrays.fill(lse, 0, n * heads, Double.NEGATIVE_INFINITY);
        for (Branch branch : branches) {
            QueryTiles.inPlace(pool, () -> new SegmentTileGradients(d), config, branch, n, TILE,
                    (tile, head, rows, count, i0, i1, shift) ->
                            tile.forward(q, rows, k, v, rows, count, o, lse, i0, i1, shift, causal));
        }
    }

    /**
     * Adds to {@code dq}, {@code dk}, {@code dv} the gradients of {@code branches} (a subset of the
     * config's, in its order) for {@code n} positions, given the fully mixed {@code o} and {@code lse} of
     * all branches (those of the whole sequence, not of the subset) and {@code dO}.
     */
    public void backward(List<Branch> branches, double[] q, double[] k, double[] v, int n, double[] o,
                         double[] lse, double[] dO, double[] dq, double[] dk, double[] dv) {
        AttentionInputs.requireBranches(config, branches);
        long elems = AttentionInputs.requireForward(config, n, q, k, v, o, lse);
        AttentionInputs.require("dO", dO, elems);
        AttentionInputs.require("dq", dq, elems);
        AttentionInputs.require("dk", dk, elems);
        AttentionInputs.require("dv", dv, elems);
        int heads = config.heads();
        int d = config.headDim();
        boolean causal = config.causal();
        for (Branch branch : branches) {
            int w = branch.segmentLength();
            int r = branch.dilation();
            int rowStride = r * heads * d;
            // One item per (segment, head): its query tiles all add to the same key rows, in tile order.
            parallel(branch.segments(n) * heads, (item, tile) -> {
                int head = (int) (item % heads);
                int start = (int) (item / heads) * w;
                DilatedSelection sel = DilatedSelection.of(0, Math.min(w, n - start), config.offset(branch, head), r);
                Rows rows = new Rows(((start + sel.firstRow()) * heads + head) * d, rowStride);
                for (int i0 = 0; i0 < sel.count(); i0 += TILE) {
                    tile.backward(q, rows, k, v, rows, sel.count(), o, lse, dO, dq, dk, dv, i0,
                            Math.min(sel.count(), i0 + TILE), 0, causal);
                }
            });
        }
    }

    /**
     * Merges into {@code o}, {@code lse} one spanning branch's attention of the {@code n} positions of
     * {@code q}, a partition's rows lying inside one segment and starting {@code offsetInSegment} positions into it,
     * to keys and values gathered from the partitions that segment spans: {@code keys[h]},
     * {@code values[h]} hold rows {@code t = 0, 1, ...} of head {@code h}'s sparsified segment, {@code d}
     * doubles each (at least up to the partition's last selected row). Same semantics as
     * {@link AttentionKernel#attendGathered}.
     */
    public void forwardGathered(Branch branch, int offsetInSegment, double[] q, int n, double[][] keys,
                                double[][] values, double[] o, double[] lse) {
        DilatedSelection[] sel = AttentionInputs.requireGathered(config, branch, offsetInSegment, n, q, keys, values,
                o, lse);
        int d = config.headDim();
        boolean causal = config.causal();
        Rows compact = new Rows(0, d);
        QueryTiles.gathered(pool, () -> new SegmentTileGradients(d), config, branch, sel, TILE,
                (tile, head, rows, count, i0, i1, shift) -> tile.forward(q, rows, keys[head], values[head], compact,
                        keys[head].length / d, o, lse, i0, i1, shift, causal));
    }

    /**
     * Adds the gradients of one spanning branch for a partition laid out as in {@link #forwardGathered}: to
     * {@code dq} ({@code n * H * d}) and to {@code dKeys[h]}, {@code dValues[h]} (the layout of
     * {@code keys[h]}, {@code values[h]}), given the fully mixed {@code o}, {@code lse} and {@code dO} of
     * the partition. The distributed plan returns each partition's rows of {@code dKeys}, {@code dValues} to
     * their owner.
     */
    public void backwardGathered(Branch branch, int offsetInSegment, double[] q, int n, double[][] keys,
                                 double[][] values, double[] o, double[] lse, double[] dO, double[] dq,
                                 double[][] dKeys, double[][] dValues) {
        DilatedSelection[] sel = AttentionInputs.requireGathered(config, branch, offsetInSegment, n, q, keys, values,
                o, lse);
        long elems = (long) n * config.rowWidth();
        AttentionInputs.require("dO", dO, elems);
        AttentionInputs.require("dq", dq, elems);
        int heads = config.heads();
        int d = config.headDim();
        boolean causal = config.causal();
        checkLike("dKeys", dKeys, "keys", keys);
        checkLike("dValues", dValues, "values", values);
        int rowStride = branch.dilation() * heads * d;
        Rows compact = new Rows(0, d);
        // One item per head: its query tiles all add to the same gathered rows, in tile order.
        parallel(heads, (item, tile) -> {
            int head = (int) item;
            DilatedSelection s = sel[head];
            Rows rows = new Rows((s.firstRow() * heads + head) * d, rowStride);
            for (int i0 = 0; i0 < s.count(); i0 += TILE) {
                tile.backward(q, rows, keys[head], values[head], compact, keys[head].length / d, o, lse, dO, dq,
                        dKeys[head], dValues[head], i0, Math.min(s.count(), i0 + TILE), s.firstIndex(), causal);
            }
        });
    }

    /** Releases the worker threads, unless they are borrowed. */
    @Override
    public void close() {
        if (ownsPool) {
            pool.close();
        }
    }

    private static void checkLike(String name, double[][] grads, String likeName, double[][] like) {
        if (grads == null || grads.length != like.length) {
            throw new IllegalArgumentException(name + " has " + (grads == null ? 0 : grads.length)
                    + " heads, " + likeName + " " + like.length);
        }
        for (int h = 0; h < like.length; h++) {
            if (grads[h] == null || grads[h].length != like[h].length) {
                throw new IllegalArgumentException(name + "[" + h + "] holds "
                        + (grads[h] == null ? 0 : grads[h].length) + " doubles, " + likeName + "[" + h + "] "
                        + like[h].length + ": they must match");
            }
        }
    }

    /** Runs items {@code [0, items)} on the pool, each worker with its own tile. */
    private void parallel(long items, WorkPool.Item<SegmentTileGradients> body) {
        int d = config.headDim();
        pool.run(items, () -> new SegmentTileGradients(d), body);
    }
}
