package io.longnet.training;

import io.longnet.attention.AttentionShape;
import io.longnet.attention.ParallelRows;
import io.longnet.attention.TrainingAttention;
import io.longnet.model.Gelu;
import io.longnet.model.LongNetConfig;
import io.longnet.model.LongNetModel;
import io.longnet.model.TensorNames;
import io.longnet.model.Xpos;
import java.util.Arrays;
import java.util.Objects;

/**
 * The float64 twin of {@link LongNetModel} (whose row operations are {@link DoubleRowOps}, the twin of
 * {@link io.longnet.model.RowOps}).
 *
 * <p>The LongNet decoder of {@link LongNetModel} in float64, with exact gradients: the same math (embedding
 * without scale, pre-LN blocks, xPos on q and k before attention, MAGNETO sub-LNs when
 * {@link LongNetConfig#subLn()}, exact GELU, final LayerNorm, tied LM head; docs/MODEL.md), on a flat
 * parameter vector laid out by {@link ParameterLayout}. Attention, and its backward pass, run through a
 * {@link TrainingAttention} the caller passes in.
 *
 * <p>The parameters are held, not copied: an optimiser updates them in place between steps. The model's
 * only other mutable state is a pool of the steps' arrays ({@link ArrayPool}): {@link #lossAndGradient} gives
 * its step's arrays back for the next step, and each piece its own scratch; arrays a piece returns, or holds in
 * the record it returns, are the caller's and never reused. Concurrent forward and backward calls are safe as
 * long as each has its own gradient vector and nobody updates the parameters meanwhile.
 *
 * <p>{@link #loss} and {@link #lossAndGradient} compose the public row-local pieces
 * ({@link #embed}, {@link #attentionInputs}, {@link #attentionOutput}, {@link #feedForward}, {@link #head}
 * and their backward passes) with attention over the whole sequence. A sequence-parallel trainer runs
 * the same pieces on a block of rows {@code [start, start + n)} of a sequence of length {@code seqLen} and
 * does the attention (and its backward pass) between them. Each forward piece returns a record of what its
 * backward pass needs; each backward pass <em>adds</em> the parameter gradients into {@code grad}
 * (length {@code layout().size()}, the same layout as the parameters).
 *
 * <p>Arrays are flat and row-major: hidden states {@code [n][d_model]}, q/k/v and their gradients
 * {@code [n][H][d]}. Logits are made a block of rows at a time, never {@code n x vocab} at once.
 */
public final class TrainableModel {

    /** Where one layer's tensors start in the parameter vector ({@code -1}: absent, the sub-LNs without sub_ln). */
    private record LayerOffsets(int attnLnW, int attnLnB, int qW, int qB, int kW, int kB, int vW, int vB,
                                int innerLnW, int innerLnB, int outW, int outB, int ffnLnW, int ffnLnB, int fc1W,
                                int fc1B, int ffnInnerLnW, int ffnInnerLnB, int fc2W, int fc2B) {
    }

    /**
     * What {@link #attentionInputs} computes for a block of rows: {@code q} (after xPos, upscaled),
     * {@code k} (after xPos, downscaled) and {@code v}, each {@code [n][H][d]}, and what
     * {@link #attentionInputsBackward} needs. The arrays are held, not copied; do not modify them.
     *
     * @param rows      rows of the block, {@code n}
     * @param start     position of the block's first row in its sequence
     * @param q         queries {@code [n][H][d]}, xPos applied (upscaled)
     * @param k         keys {@code [n][H][d]}, xPos applied (downscaled)
     * @param v         values {@code [n][H][d]}
     * @param xhat      the LayerNorm's {@code xhat = (x - mean) rstd} (and {@code rstd} its {@code rstd}), for
     *                  the backward pass
     * @param positions the xPos rotations applied, for the backward pass
     */
    public record AttentionInputs(int layer, int rows, long start, long sequenceLength, double[] q, double[] k,
                                  double[] v, double[] xhat, double[] rstd, Xpos.Table positions) {
    }

    /**
     * What {@link #attentionOutput} computes: the sublayer's output {@code y} ({@code [n][d_model]}, residual
     * included, held, not copied), and what {@link #attentionOutputBackward} needs.
     *
     * @param u    out_proj's input without sub_ln (a copy of {@code o}); null with sub_ln
     * @param xhat the sub-LN's {@code xhat} with sub_ln; else null (and {@code rstd} likewise)
     */
    public record AttentionOutput(int layer, int rows, double[] y, double[] u, double[] xhat, double[] rstd) {
    }

    /**
     * What {@link #feedForward} computes: the sublayer's output {@code y} ({@code [n][d_model]}, residual
     * included, held, not copied), and what {@link #feedForwardBackward} needs.
     *
     * @param xhat1 the pre-LN's {@code xhat} (and {@code rstd1} its {@code rstd})
     * @param slope GELU's derivative at fc1's output (made with GELU in the forward pass, for about the price
     *              of GELU alone)
     * @param xhat2 the sub-LN's {@code xhat} with sub_ln (and {@code rstd2} its {@code rstd}); without it
     *              GELU's output, fc2's input (and {@code rstd2} null)
     */
    public record FeedForward(int layer, int rows, double[] y, double[] xhat1, double[] rstd1, double[] slope,
                              double[] xhat2, double[] rstd2) {
    }

    /**
     * What {@link #head} computes: the summed negative log-likelihood of the first {@code count} rows'
     * targets, and what {@link #headBackward} needs.
     *
     * @param rows    rows of the block, {@code n}
     * @param count   rows scored (the predicted tokens)
     * @param targets the scored rows' targets
     * @param loss    {@code sum_{i < count} -log P(targets[i] | row i)}
     * @param xhat    the final LayerNorm's {@code xhat} (and {@code rstd} its {@code rstd}), for the backward pass
     * @param lse     each scored row's log-sum-exp of its logits, for the backward pass
     */
    public record Head(int rows, int count, int[] targets, double loss, double[] xhat, double[] rstd, double[] lse) {
    }

    private final LongNetConfig config;
    private final ParameterLayout layout;
    private final double[] params;
    private final Xpos xpos;
    private final int embedOff;
    private final int finalLnW;
    private final int finalLnB;
    private final LayerOffsets[] layers;
    private final ParallelRows threads;
    /** The steps' arrays, reused from step to step (docs/ARCHITECTURE.md §7). */
    private final ArrayPool arrays;
    /** The last xPos table made: every layer and every step over the same rows reuses it (docs/ARCHITECTURE.md §7). */
    private volatile PositionTable lastPositions;

    /** An xPos table and the rows it was made for. */
    private record PositionTable(long start, int rows, long sequenceLength, Xpos.Table table) {
    }

    /**
     * A model of shape {@code config} on {@code params} (held, not copied), laid out by
     * {@link ParameterLayout#of(LongNetConfig)}, on the caller's thread.
     *
     * @throws IllegalArgumentException when {@code params} has another length
     */
    public TrainableModel(LongNetConfig config, double[] params) {
        this(config, params, new ParallelRows(1));
    }

    /**
     * A model as above whose pieces split their rows over {@code threads} (borrowed: its owner closes it). The
     * results are the same bits for any number of threads (docs/ARCHITECTURE.md §7).
     */
    public TrainableModel(LongNetConfig config, double[] params, ParallelRows threads) {
        this.threads = Objects.requireNonNull(threads, "threads");
        this.arrays = new ArrayPool(threads);
        this.config = Objects.requireNonNull(config, "config");
        this.layout = ParameterLayout.of(config);
        layout.checkLength("parameters", params);
        this.params = params;
        this.xpos = Xpos.of(config);
        this.embedOff = layout.offset(TensorNames.EMBED_TOKENS);
        this.finalLnW = layout.offset(TensorNames.FINAL_LN_WEIGHT);
        this.finalLnB = layout.offset(TensorNames.FINAL_LN_BIAS);
        this.layers = new LayerOffsets[config.layers()];
        boolean sub = config.subLn();
        for (int i = 0; i < layers.length; i++) {
            TensorNames.Layer n = TensorNames.layer(i);
            layers[i] = new LayerOffsets(at(n.attnLnWeight()), at(n.attnLnBias()), at(n.qWeight()), at(n.qBias()),
                    at(n.kWeight()), at(n.kBias()), at(n.vWeight()), at(n.vBias()),
                    sub ? at(n.innerAttnLnWeight()) : -1, sub ? at(n.innerAttnLnBias()) : -1,
                    at(n.outWeight()), at(n.outBias()), at(n.ffnLnWeight()), at(n.ffnLnBias()),
                    at(n.fc1Weight()), at(n.fc1Bias()), sub ? at(n.ffnInnerLnWeight()) : -1,
                    sub ? at(n.ffnInnerLnBias()) : -1, at(n.fc2Weight()), at(n.fc2Bias()));
        }
    }

    private int at(String name) {
        return layout.offset(name);
    }

    public LongNetConfig config() {
        return config;
    }

    public ParameterLayout layout() {
        return layout;
    }

    /** The threads the pieces split their rows over. */
    public ParallelRows threads() {
        return threads;
    }

    /** The parameter vector (held, not a copy). */
    public double[] params() {
        return params;
    }

    /**
     * {@code sum_{p < N-1} -log P(tokens[p+1] | tokens[0..p])}: the summed next-token cross-entropy of one
     * sequence (0 for a single token).
     *
     * @throws IllegalArgumentException for an empty sequence, a token outside the vocabulary, or an
     *     attention of other heads, head width or causality than the config's
     */
    public double loss(int[] tokens, TrainingAttention attention) {
        return run(tokens, attention, null);
    }

    /** {@link #loss}, and adds {@code d(loss)/d(params)} into {@code grad} (length {@code layout().size()}). */
    public double lossAndGradient(int[] tokens, TrainingAttention attention, double[] grad) {
        layout.checkLength("gradient", grad);
        return run(tokens, attention, grad);
    }

    private double run(int[] tokens, TrainingAttention attention, double[] grad) {
        checkAttention(attention);
        int n = tokens.length;
        arrays.startStep(n);
        int width = config.dModel();
        int count = config.layers();
        boolean backward = grad != null;
        AttentionInputs[] inputs = new AttentionInputs[backward ? count : 0];
        double[][] outputs = new double[backward ? count : 0][];
        double[][] lses = new double[backward ? count : 0][];
        AttentionOutput[] attended = new AttentionOutput[backward ? count : 0];
        FeedForward[] fed = new FeedForward[backward ? count : 0];

        double[] embedded = embed(tokens);
        double[] x = embedded;
        for (int l = 0; l < count; l++) {
            AttentionInputs in = attentionInputs(l, x, n, 0, n);
            double[] o = arrays.take(n * width);
            double[] lse = arrays.take(n * config.heads());
            attention.forward(in.q(), in.k(), in.v(), n, o, lse);
            AttentionOutput a = attentionOutput(l, x, o, n);
            FeedForward f = feedForward(l, a.y(), n);
            x = f.y();
            if (backward) {
                inputs[l] = in;
                outputs[l] = o;
                lses[l] = lse;
                attended[l] = a;
                fed[l] = f;
            }
        }
        Head head = head(x, n, Arrays.copyOfRange(tokens, 1, n), n - 1);
        if (!backward) {
            return head.loss();
        }

        double[] dx = headBackward(head, grad);
        for (int l = count - 1; l >= 0; l--) {
            double[] dMid = feedForwardBackward(fed[l], dx, grad);
            double[] dO = attentionOutputBackward(attended[l], dMid, grad);
            AttentionInputs in = inputs[l];
            double[] dq = arrays.zeros(n * width);
            double[] dk = arrays.zeros(n * width);
            double[] dv = arrays.zeros(n * width);
            attention.backward(in.q(), in.k(), in.v(), n, outputs[l], lses[l], dO, dq, dk, dv);
            arrays.give(dx, dO);
            dx = attentionInputsBackward(in, dq, dk, dv, grad);
            DoubleRowOps.addInto(threads, dx, dMid, width); // the residual around attention
            arrays.give(dq, dk, dv, dMid);
        }
        embedBackward(tokens, dx, grad);
        // Nothing of the step is referenced any more: all of it is the next step's.
        arrays.give(embedded, dx);
        arrays.give(head.xhat(), head.rstd(), head.lse());
        for (int l = 0; l < count; l++) {
            AttentionInputs in = inputs[l];
            arrays.give(in.q(), in.k(), in.v(), in.xhat(), in.rstd(), outputs[l], lses[l]);
            AttentionOutput a = attended[l];
            arrays.give(a.y(), a.u(), a.xhat(), a.rstd());
            FeedForward f = fed[l];
            arrays.give(f.y(), f.xhat1(), f.rstd1(), f.slope(), f.xhat2(), f.rstd2());
        }
        return head.loss();
    }

    private void checkAttention(TrainingAttention attention) {
        Objects.requireNonNull(attention, "attention");
        AttentionShape needed = new AttentionShape(config.heads(), config.headDim(), config.causal());
        if (!attention.shape().equals(needed)) {
            throw new IllegalArgumentException("attention has " + attention.shape().describe() + "; the model needs "
                    + needed.describe() + " (build it from config.attentionConfig())");
        }
    }

    // ---- embedding --------------------------------------------------------------------------------------

    /**
     * The token embeddings {@code [n][d_model]} of a block of tokens (no {@code sqrt(d_model)} factor).
     *
     * @throws IllegalArgumentException for no tokens or a token outside the vocabulary
     */
    public double[] embed(int[] tokens) {
        config.checkTokens(tokens, Math.max(config.dModel(), config.ffnDim()));
        int d = config.dModel();
        double[] x = arrays.take(tokens.length * d);
        for (int p = 0; p < tokens.length; p++) {
            System.arraycopy(params, embedOff + tokens[p] * d, x, p * d, d);
        }
        return x;
    }

    /** Adds the embedding's gradient for upstream gradient {@code dx} ({@code [n][d_model]}) into {@code grad}. */
    public void embedBackward(int[] tokens, double[] dx, double[] grad) {
        int d = config.dModel();
        checkRows("dx", dx, tokens.length, d);
        layout.checkLength("gradient", grad);
        for (int p = 0; p < tokens.length; p++) {
            int e = embedOff + tokens[p] * d;
            int r = p * d;
            for (int j = 0; j < d; j++) {
                grad[e + j] += dx[r + j];
            }
        }
    }

    // ---- attention sublayer ------------------------------------------------------------------------------

    /**
     * Layer {@code layer}'s attention inputs for rows {@code [start, start + n)} of a sequence of
     * {@code seqLen} positions: {@code q, k, v} projections of {@code LN(x)}, with xPos (centred as
     * {@link Xpos#table}) applied to {@code q} (upscaled) and {@code k} (downscaled).
     *
     * @throws IllegalArgumentException for a bad layer, {@code x} not {@code n x d_model}, or rows outside
     *     the sequence
     */
    public AttentionInputs attentionInputs(int layer, double[] x, int n, long start, long seqLen) {
        LayerOffsets w = layer(layer);
        int width = config.dModel();
        checkRows("x", x, n, width);
        Xpos.Table positions = positions(start, n, seqLen);
        double[] xhat = arrays.take(n * width);
        double[] rstd = arrays.take(n);
        double[] h = arrays.take(n * width);
        DoubleRowOps.layerNorm(threads, x, n, width, params, w.attnLnW(), w.attnLnB(), config.layerNormEps(), h, xhat, rstd);
        double[] q = arrays.take(n * width);
        double[] k = arrays.take(n * width);
        double[] v = arrays.take(n * width);
        DoubleRowOps.linear(threads, h, n, width, params, w.qW(), w.qB(), width, q);
        DoubleRowOps.linear(threads, h, n, width, params, w.kW(), w.kB(), width, k);
        DoubleRowOps.linear(threads, h, n, width, params, w.vW(), w.vB(), width, v);
        rotate(positions, q, n, false, false);
        rotate(positions, k, n, true, false);
        arrays.give(h);
        return new AttentionInputs(layer, n, start, seqLen, q, k, v, xhat, rstd, positions);
    }

    /**
     * xPos's table of rows {@code [start, start + n)}: the last one made when it is of the same rows. Why: it
     * takes a cosine, a sine and an exponential per row and pair, about 2 ms at 2,048 rows on the calling
     * thread while the others wait, and every layer of every step over a window of the same place needs the same.
     */
    private Xpos.Table positions(long start, int n, long seqLen) {
        PositionTable last = lastPositions;
        if (last != null && last.start() == start && last.rows() == n && last.sequenceLength() == seqLen) {
            return last.table();
        }
        Xpos.Table table = xpos.table(start, n, seqLen);
        lastPositions = new PositionTable(start, n, seqLen, table);
        return table;
    }

    /** xPos (or, {@code transposed}, its transpose) applied in place to {@code n} rows of {@code x}, split over the threads. */
    private void rotate(Xpos.Table positions, double[] x, int n, boolean downscale, boolean transposed) {
        threads.split(n, DoubleRowOps.MIN_ROWS,
                (r0, r1) -> positions.apply(x, config.heads(), downscale, transposed, r0, r1));
    }

    /**
     * The backward pass of {@link #attentionInputs}: given the gradients with respect to the (xPos'd)
     * {@code q, k} and {@code v}, adds the LayerNorm's and projections' parameter gradients into
     * {@code grad} and returns the gradient with respect to {@code x} through this path only (the residual
     * around attention is the caller's: {@code dx = dy + this}). The inputs are not modified.
     */
    public double[] attentionInputsBackward(AttentionInputs saved, double[] dq, double[] dk, double[] dv,
                                            double[] grad) {
        LayerOffsets w = layer(saved.layer());
        int n = saved.rows();
        int width = config.dModel();
        checkRows("dq", dq, n, width);
        checkRows("dk", dk, n, width);
        checkRows("dv", dv, n, width);
        layout.checkLength("gradient", grad);
        double[] gq = arrays.copyOf(dq);
        double[] gk = arrays.copyOf(dk);
        rotate(saved.positions(), gq, n, false, true);
        rotate(saved.positions(), gk, n, true, true);
        double[] h = arrays.take(n * width);
        DoubleRowOps.layerNormOutput(threads, saved.xhat(), n, width, params, w.attnLnW(), w.attnLnB(), h);
        double[] dh = arrays.zeros(n * width);
        DoubleRowOps.linearBackward(threads, h, n, width, params, w.qW(), w.qB(), width, gq, dh, grad);
        DoubleRowOps.linearBackward(threads, h, n, width, params, w.kW(), w.kB(), width, gk, dh, grad);
        DoubleRowOps.linearBackward(threads, h, n, width, params, w.vW(), w.vB(), width, dv, dh, grad);
        double[] dx = arrays.take(n * width);
        DoubleRowOps.layerNormBackward(threads, dh, n, width, params, w.attnLnW(), w.attnLnB(), saved.xhat(), saved.rstd(), dx, grad);
        arrays.give(gq, gk, h, dh);
        return dx;
    }

    /**
     * Finishes layer {@code layer}'s attention sublayer for {@code n} rows: {@code y = x + out_proj(subLN(o))}
     * (the sub-LN only with sub_ln) for the attention output {@code o} ({@code [n][H][d]}). Neither input is
     * modified.
     */
    public AttentionOutput attentionOutput(int layer, double[] x, double[] o, int n) {
        LayerOffsets w = layer(layer);
        int width = config.dModel();
        checkRows("x", x, n, width);
        checkRows("o", o, n, width);
        double[] u = arrays.take(n * width);
        double[] xhat = null;
        double[] rstd = null;
        if (config.subLn()) {
            xhat = arrays.take(n * width);
            rstd = arrays.take(n);
            DoubleRowOps.layerNorm(threads, o, n, width, params, w.innerLnW(), w.innerLnB(), config.layerNormEps(), u, xhat, rstd);
        } else {
            System.arraycopy(o, 0, u, 0, u.length);
        }
        double[] y = arrays.take(n * width);
        DoubleRowOps.linear(threads, u, n, width, params, w.outW(), w.outB(), width, y);
        DoubleRowOps.addInto(threads, y, x, width); // the residual
        if (config.subLn()) {
            arrays.give(u); // made again from xhat in the backward pass
        }
        return new AttentionOutput(layer, n, y, config.subLn() ? null : u, xhat, rstd);
    }

    /**
     * The backward pass of {@link #attentionOutput}: adds the sub-LN's and {@code out_proj}'s parameter
     * gradients into {@code grad} and returns {@code dO}, the gradient with respect to the attention output.
     * The gradient with respect to {@code x} is {@code dy} itself (the residual), the caller's.
     */
    public double[] attentionOutputBackward(AttentionOutput saved, double[] dy, double[] grad) {
        LayerOffsets w = layer(saved.layer());
        int n = saved.rows();
        int width = config.dModel();
        checkRows("dy", dy, n, width);
        layout.checkLength("gradient", grad);
        double[] u;
        if (config.subLn()) {
            u = arrays.take(n * width);
            DoubleRowOps.layerNormOutput(threads, saved.xhat(), n, width, params, w.innerLnW(), w.innerLnB(), u);
        } else {
            u = saved.u();
        }
        double[] du = arrays.zeros(n * width);
        DoubleRowOps.linearBackward(threads, u, n, width, params, w.outW(), w.outB(), width, dy, du, grad);
        if (!config.subLn()) {
            return du;
        }
        double[] dO = arrays.take(n * width);
        DoubleRowOps.layerNormBackward(threads, du, n, width, params, w.innerLnW(), w.innerLnB(), saved.xhat(), saved.rstd(),
                dO, grad);
        arrays.give(u, du);
        return dO;
    }

    // ---- feed-forward sublayer ---------------------------------------------------------------------------

    /** Layer {@code layer}'s feed-forward sublayer: {@code y = x + fc2(subLN(gelu(fc1(LN(x)))))}; {@code x} is not modified. */
    public FeedForward feedForward(int layer, double[] x, int n) {
        LayerOffsets w = layer(layer);
        int width = config.dModel();
        int ffn = config.ffnDim();
        checkRows("x", x, n, width);
        double[] xhat1 = arrays.take(n * width);
        double[] rstd1 = arrays.take(n);
        double[] h = arrays.take(n * width);
        DoubleRowOps.layerNorm(threads, x, n, width, params, w.ffnLnW(), w.ffnLnB(), config.layerNormEps(), h, xhat1, rstd1);
        double[] a = arrays.take(n * ffn);
        DoubleRowOps.linear(threads, h, n, width, params, w.fc1W(), w.fc1B(), ffn, a);
        double[] u = arrays.take(n * ffn);
        double[] slope = arrays.take(n * ffn);
        threads.split(n, DoubleRowOps.MIN_ROWS, (r0, r1) -> Gelu.withDerivative(a, u, slope, r0 * ffn, r1 * ffn));
        double[] xhat2 = u;
        double[] rstd2 = null;
        if (config.subLn()) {
            xhat2 = arrays.take(n * ffn);
            rstd2 = arrays.take(n);
            DoubleRowOps.layerNorm(threads, u, n, ffn, params, w.ffnInnerLnW(), w.ffnInnerLnB(), config.layerNormEps(), u,
                    xhat2, rstd2);
        }
        double[] y = arrays.take(n * width);
        DoubleRowOps.linear(threads, u, n, ffn, params, w.fc2W(), w.fc2B(), width, y);
        DoubleRowOps.addInto(threads, y, x, width); // the residual
        arrays.give(h, a);
        if (config.subLn()) {
            arrays.give(u); // made again from xhat2 in the backward pass
        }
        return new FeedForward(layer, n, y, xhat1, rstd1, slope, xhat2, rstd2);
    }

    /**
     * The backward pass of {@link #feedForward}: adds its parameter gradients into {@code grad} and returns
     * the gradient with respect to {@code x}, the residual included.
     */
    public double[] feedForwardBackward(FeedForward saved, double[] dy, double[] grad) {
        LayerOffsets w = layer(saved.layer());
        int n = saved.rows();
        int width = config.dModel();
        int ffn = config.ffnDim();
        checkRows("dy", dy, n, width);
        layout.checkLength("gradient", grad);
        // fc2's input: the sub-LN's output again from its saved state, or GELU's saved output.
        double[] u = saved.xhat2();
        if (config.subLn()) {
            u = arrays.take(n * ffn);
            DoubleRowOps.layerNormOutput(threads, saved.xhat2(), n, ffn, params, w.ffnInnerLnW(), w.ffnInnerLnB(), u);
        }
        double[] du = arrays.zeros(n * ffn);
        DoubleRowOps.linearBackward(threads, u, n, ffn, params, w.fc2W(), w.fc2B(), width, dy, du, grad);
        double[] da = du;
        if (config.subLn()) {
            da = u; // reused: u is no longer needed
            DoubleRowOps.layerNormBackward(threads, du, n, ffn, params, w.ffnInnerLnW(), w.ffnInnerLnB(), saved.xhat2(),
                    saved.rstd2(), da, grad);
        }
        double[] slope = saved.slope();
        double[] gelu = da;
        threads.split(n, DoubleRowOps.MIN_ROWS, (r0, r1) -> {
            for (int i = r0 * ffn, end = r1 * ffn; i < end; i++) {
                gelu[i] *= slope[i];
            }
        });
        double[] h = arrays.take(n * width);
        DoubleRowOps.layerNormOutput(threads, saved.xhat1(), n, width, params, w.ffnLnW(), w.ffnLnB(), h);
        double[] dh = arrays.zeros(n * width);
        DoubleRowOps.linearBackward(threads, h, n, width, params, w.fc1W(), w.fc1B(), ffn, da, dh, grad);
        double[] dx = arrays.take(n * width);
        DoubleRowOps.layerNormBackward(threads, dh, n, width, params, w.ffnLnW(), w.ffnLnB(), saved.xhat1(), saved.rstd1(), dx, grad);
        DoubleRowOps.addInto(threads, dx, dy, width); // the residual
        arrays.give(du, h, dh);
        if (config.subLn()) {
            arrays.give(u); // da
        }
        return dx;
    }

    // ---- head --------------------------------------------------------------------------------------------

    /**
     * The final LayerNorm of {@code n} rows of hidden states, logits against the tied embedding, and the
     * summed negative log-likelihood of the first {@code count} rows against {@code targets[0 .. count)}
     * (for a block whose next tokens are known; the sequence's last position has none). Logits are made a
     * block of rows at a time.
     *
     * @throws IllegalArgumentException when {@code count} is not in {@code [0, n]}, {@code targets} is shorter,
     *     or a target is outside the vocabulary
     */
    public Head head(double[] x, int n, int[] targets, int count) {
        int width = config.dModel();
        int vocab = config.vocabSize();
        checkRows("x", x, n, width);
        if (count < 0 || count > n) {
            throw new IllegalArgumentException("count " + count + " of scored rows is not in [0, " + n + "]");
        }
        if (targets.length < count) {
            throw new IllegalArgumentException(targets.length + " targets for " + count + " scored rows");
        }
        for (int i = 0; i < count; i++) {
            if (targets[i] < 0 || targets[i] >= vocab) {
                throw new IllegalArgumentException("target token " + targets[i] + " of row " + i
                        + " is outside the vocabulary [0, " + vocab + ")");
            }
        }
        double[] xhat = arrays.take(n * width);
        double[] rstd = arrays.take(n);
        double[] f = arrays.take(n * width);
        DoubleRowOps.layerNorm(threads, x, n, width, params, finalLnW, finalLnB, config.layerNormEps(), f, xhat, rstd);
        double[] embeddingT = embeddingTransposed();
        int block = logitRows();
        double[] lse = arrays.take(count);
        double[] nll = arrays.take(count);
        // Rows split over the threads, each making its logits a block at a time; the loss is summed in row order.
        threads.split(count, DoubleRowOps.MIN_ROWS, (c0, c1) -> {
            double[] logits = new double[vocab * Math.min(block, c1 - c0)];
            for (int r0 = c0; r0 < c1; r0 += block) {
                int rows = Math.min(block, c1 - r0);
                logits(f, r0, rows, embeddingT, logits, 0);
                for (int i = 0; i < rows; i++) {
                    int lo = i * vocab;
                    double max = Double.NEGATIVE_INFINITY;
                    for (int t = 0; t < vocab; t++) {
                        max = Math.max(max, logits[lo + t]);
                    }
                    double sum = 0;
                    for (int t = 0; t < vocab; t++) {
                        sum += Math.exp(logits[lo + t] - max);
                    }
                    lse[r0 + i] = max + Math.log(sum);
                    nll[r0 + i] = lse[r0 + i] - logits[lo + targets[r0 + i]];
                }
            }
        });
        double loss = 0;
        for (int i = 0; i < count; i++) {
            loss += nll[i];
        }
        arrays.give(f, nll);
        return new Head(n, count, Arrays.copyOf(targets, count), loss, xhat, rstd, lse);
    }

    /**
     * The backward pass of {@link #head}: adds the final LayerNorm's and the (tied) embedding's gradients of
     * {@code Head.loss()} into {@code grad}; returns the gradient with respect to {@code x}, all {@code n}
     * rows (zero for rows at or past {@code count}, which are not scored).
     */
    public double[] headBackward(Head saved, double[] grad) {
        layout.checkLength("gradient", grad);
        int width = config.dModel();
        int vocab = config.vocabSize();
        int count = saved.count();
        double[] f = arrays.take(count * width);
        DoubleRowOps.layerNormOutput(threads, saved.xhat(), count, width, params, finalLnW, finalLnB, f);
        double[] df = arrays.zeros(count * width);
        double[] embeddingT = embeddingTransposed();
        int block = logitRows();
        // A block of rows per thread at a time: the logits' gradient dl of a thread's rows and their features'
        // gradient dl E, then the embedding's dl^T f with the embedding's rows split over the threads, each
        // summing over all rows of the blocks in order.
        int span = block * threads.threads();
        double[] dl = arrays.take(vocab * Math.min(span, count));
        double[] lse = saved.lse();
        int[] targets = saved.targets();
        for (int s0 = 0; s0 < count; s0 += span) {
            int first = s0;
            int rows = Math.min(span, count - s0);
            threads.split(rows, DoubleRowOps.MIN_ROWS, (c0, c1) -> {
                for (int b0 = c0; b0 < c1; b0 += block) {
                    int b1 = Math.min(c1, b0 + block);
                    logits(f, first + b0, b1 - b0, embeddingT, dl, b0 * vocab);
                    // d loss / d logit = softmax - one-hot(target)
                    for (int i = b0; i < b1; i++) {
                        int lo = i * vocab;
                        double l = lse[first + i];
                        for (int t = 0; t < vocab; t++) {
                            dl[lo + t] = Math.exp(dl[lo + t] - l);
                        }
                        dl[lo + targets[first + i]] -= 1;
                    }
                    DoubleRowOps.mulAdd(dl, b0 * vocab, vocab, 1, b1 - b0, vocab, params, embedOff, width, width, df,
                            (first + b0) * width, width);
                }
            });
            threads.split(vocab, DoubleRowOps.MIN_COLUMNS, (v0, v1) -> DoubleRowOps.mulAdd(dl, v0, 1, vocab, v1 - v0,
                    rows, f, first * width, width, width, grad, embedOff + v0 * width, width));
        }
        double[] dx = arrays.zeros(saved.rows() * width); // rows past count are not scored: zero
        DoubleRowOps.layerNormBackward(threads, df, count, width, params, finalLnW, finalLnB, saved.xhat(), saved.rstd(), dx, grad);
        arrays.give(f, df, dl);
        return dx;
    }

    /**
     * Rows of logits a thread makes at once: at most 256, and at most about 8 MB of them. The embedding's
     * gradient passes over all of its rows once per block of all threads, so blocks are not made smaller than
     * they need be.
     */
    private int logitRows() {
        return Math.max(1, Math.min(256, (1 << 20) / config.vocabSize()));
    }

    /** The embedding transposed, {@code [d_model][vocab]}: the B operand of the logits' product. */
    private double[] embeddingTransposed() {
        int width = config.dModel();
        int vocab = config.vocabSize();
        double[] t = new double[width * vocab];
        for (int v = 0; v < vocab; v++) {
            int e = embedOff + v * width;
            for (int j = 0; j < width; j++) {
                t[j * vocab + v] = params[e + j];
            }
        }
        return t;
    }

    /** {@code logits[at + i vocab + t] = f[r0 + i] . E[t]} for {@code rows} rows, {@code [rows][vocab]}. */
    private void logits(double[] f, int r0, int rows, double[] embeddingT, double[] logits, int at) {
        int width = config.dModel();
        int vocab = config.vocabSize();
        Arrays.fill(logits, at, at + rows * vocab, 0.0);
        DoubleRowOps.mulAdd(f, r0 * width, width, 1, rows, width, embeddingT, 0, vocab, vocab, logits, at, vocab);
    }

    // ---- checks ------------------------------------------------------------------------------------------

    private LayerOffsets layer(int layer) {
        if (layer < 0 || layer >= layers.length) {
            throw new IllegalArgumentException("layer " + layer + " is not in [0, " + layers.length + ")");
        }
        return layers[layer];
    }

    private static void checkRows(String what, double[] a, int n, int width) {
        if (n < 1) {
            throw new IllegalArgumentException("a block needs at least one row (got " + n + ")");
        }
        if (a == null || a.length != (long) n * width) {
            throw new IllegalArgumentException(what + " has " + (a == null ? "null" : a.length) + " values, expected "
                    + n + " rows x " + width);
        }
    }
}
