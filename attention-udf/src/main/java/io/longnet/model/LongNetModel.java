package io.longnet.model;

import io.longnet.attention.AttentionKernel;
import io.longnet.attention.DilatedAttentionConfig;
import io.longnet.storage.AtomicOutput;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * The LongNet decoder (docs/ARCHITECTURE.md §6, docs/MODEL.md): token embedding; {@code layers} pre-LayerNorm
 * blocks
 * <pre>
 *   x = x + out_proj(subLN(DilatedAttention(xPos(q), xPos'(k), v))),   q, k, v = projections of LN(x)
 *   x = x + fc2(subLN(gelu(fc1(LN(x)))))
 * </pre>
 * (the sub-LNs only with {@code sub_ln}); a final LayerNorm; logits against the tied embedding.
 * Attention runs through an {@link AttentionKernel} the caller passes in: the model owns no threads.
 *
 * <p>Arrays are row-major and flat: hidden states {@code [N][d_model]}, q/k/v {@code [N][H][d]} (head
 * {@code h} is columns {@code [h d, (h+1) d)} of a projection, as torchscale's {@code view}), logits
 * {@code [N][vocab]}. The pieces of a layer ({@link #attentionInputs}, {@link #attentionOutput},
 * {@link #feedForward}) are public so that the sequence-parallel plan can run attention between them.
 */
public final class LongNetModel {

    /** File names inside a model directory. */
    public static final String CONFIG_FILE = "config.json";
    public static final String WEIGHTS_FILE = "model.safetensors";

    /** One layer's arrays, resolved once. */
    private record Layer(float[] attnLnW, float[] attnLnB, float[] qW, float[] qB, float[] kW, float[] kB,
                         float[] vW, float[] vB, float[] innerLnW, float[] innerLnB, float[] outW, float[] outB,
                         float[] ffnLnW, float[] ffnLnB, float[] fc1W, float[] fc1B, float[] ffnInnerLnW,
                         float[] ffnInnerLnB, float[] fc2W, float[] fc2B) {
    }

    /**
     * Result of {@link #forward}: {@code features} are the final-LayerNorm outputs {@code [N][d_model]};
     * {@code hiddenStates} (when asked for) are torchscale's {@code inner_states}: the embeddings, then the
     * output of each layer, before the final LayerNorm ({@code layers + 1} arrays).
     */
    public record Output(int length, float[] features, List<float[]> hiddenStates) {
    }

    private final LongNetConfig config;
    private final ModelWeights weights;
    private final DilatedAttentionConfig attention;
    private final Xpos xpos;
    private final float[] embed;
    private final float[] finalLnW;
    private final float[] finalLnB;
    private final Layer[] layers;

    /**
     * A model of shape {@code config} on {@code weights} (held, not copied).
     *
     * @throws ModelFormatException when the weights do not fit the config (missing, unexpected or
     *     misshapen tensors, non-finite values)
     * @throws IllegalArgumentException when the config is the strided baseline, which this float32 model
     *     does not run
     */
    public LongNetModel(LongNetConfig config, ModelWeights weights) {
        this(config, weights, "model weights");
    }

    private LongNetModel(LongNetConfig config, ModelWeights weights, String source) {
        requireDilated(config, "model config");
        this.config = config;
        this.weights = weights;
        if (!weights.problems(config.tensorShapes()).isEmpty()) {
            weights.validate(source, config.tensorShapes(), subLnHint(config, weights));
        }
        this.attention = config.attentionConfig();
        this.xpos = Xpos.of(config);
        this.embed = weights.data(TensorNames.EMBED_TOKENS);
        this.finalLnW = weights.data(TensorNames.FINAL_LN_WEIGHT);
        this.finalLnB = weights.data(TensorNames.FINAL_LN_BIAS);
        this.layers = new Layer[config.layers()];
        for (int i = 0; i < layers.length; i++) {
            TensorNames.Layer n = TensorNames.layer(i);
            boolean sub = config.subLn();
            layers[i] = new Layer(weights.data(n.attnLnWeight()), weights.data(n.attnLnBias()),
                    weights.data(n.qWeight()), weights.data(n.qBias()), weights.data(n.kWeight()),
                    weights.data(n.kBias()), weights.data(n.vWeight()), weights.data(n.vBias()),
                    sub ? weights.data(n.innerAttnLnWeight()) : null, sub ? weights.data(n.innerAttnLnBias()) : null,
                    weights.data(n.outWeight()), weights.data(n.outBias()), weights.data(n.ffnLnWeight()),
                    weights.data(n.ffnLnBias()), weights.data(n.fc1Weight()), weights.data(n.fc1Bias()),
                    sub ? weights.data(n.ffnInnerLnWeight()) : null, sub ? weights.data(n.ffnInnerLnBias()) : null,
                    weights.data(n.fc2Weight()), weights.data(n.fc2Bias()));
        }
    }

    /**
     * This float32 model, and so the Spark model and the score and encode jobs built on it, runs dilated
     * attention only: the strided baseline exists for the training comparison, in float64.
     */
    private static void requireDilated(LongNetConfig config, String what) {
        if (config.attentionPattern() != AttentionPattern.DILATED) {
            throw new IllegalArgumentException(what + " uses the strided sparse baseline (attention: "
                    + config.attentionPattern().jsonName() + "), which only `longnet train` evaluates; score and encode"
                    + " need a dilated model");
        }
    }

    /** A hint when the only mismatch is the presence or absence of the sub-LayerNorms. */
    private static String subLnHint(LongNetConfig config, ModelWeights weights) {
        Map<String, int[]> other = config.withSubLn(!config.subLn()).tensorShapes();
        if (!weights.problems(config.tensorShapes()).isEmpty() && weights.problems(other).isEmpty()) {
            return "these weights fit \"sub_ln\": " + !config.subLn() + "; the config says " + config.subLn();
        }
        return null;
    }

    /** A new model with seeded random weights (see {@link WeightInit} and docs/MODEL.md). */
    public static LongNetModel initialize(LongNetConfig config, long seed) {
        return new LongNetModel(config, WeightInit.initialize(config, seed));
    }

    /**
     * Loads {@code dir/config.json} and {@code dir/model.safetensors}.
     *
     * @throws IllegalArgumentException when the config is the strided baseline (before the weights are read)
     */
    public static LongNetModel load(Path dir) throws IOException {
        LongNetConfig config = LongNetConfig.read(dir.resolve(CONFIG_FILE));
        requireDilated(config, "model " + dir);
        Path file = dir.resolve(WEIGHTS_FILE);
        return new LongNetModel(config, ModelWeights.load(file), "model weights " + file);
    }

    /** Writes {@code dir/model.safetensors} then {@code dir/config.json}, each atomically. */
    public void save(Path dir) throws IOException {
        save(dir, config, weights);
    }

    /**
     * Writes a model directory without building the model: what training does, for every attention pattern
     * (the strided baseline's weights are saved though this class cannot run them).
     */
    public static void save(Path dir, LongNetConfig config, ModelWeights weights) throws IOException {
        Files.createDirectories(dir);
        AtomicOutput.writeFile(dir.resolve(WEIGHTS_FILE), weights::save);
        AtomicOutput.writeFile(dir.resolve(CONFIG_FILE), config::write);
    }

    /**
     * Positions xPos centres together: the least common multiple of the segment lengths (every segment of
     * every branch lies inside one such window, so re-centring per window changes nothing exactly). The
     * strided baseline's keys span the whole sequence: one window, torchscale's centring.
     */
    public static long xposWindow(LongNetConfig config) {
        if (config.attentionPattern() == AttentionPattern.STRIDED) {
            return Long.MAX_VALUE;
        }
        long lcm = 1;
        for (io.longnet.attention.Branch b : config.branches()) {
            long w = b.segmentLength();
            long g = lcm;
            for (long x = w; x != 0; ) {
                long t = g % x;
                g = x;
                x = t;
            }
            lcm = lcm / g * w;
            if (lcm > (1L << 40)) {
                return Long.MAX_VALUE; // a window longer than any sequence: torchscale's centring
            }
        }
        return lcm;
    }

    public LongNetConfig config() {
        return config;
    }

    /** The weights (the arrays the model computes with). */
    public ModelWeights weights() {
        return weights;
    }

    /** The xPos of this model's head width and scale base (the identity for a model without xPos). */
    public Xpos xpos() {
        return xpos;
    }

    /**
     * Runs the decoder over one sequence.
     *
     * @param kernel           computes the dilated attention of every layer
     * @param keepHiddenStates also return the embeddings and each layer's output
     * @throws IllegalArgumentException for an empty sequence or a token outside the vocabulary
     */
    public Output forward(int[] tokens, AttentionKernel kernel, boolean keepHiddenStates) {
        int n = tokens.length;
        float[] x = embed(tokens);
        List<float[]> hidden = keepHiddenStates ? new ArrayList<>() : Collections.emptyList();
        if (keepHiddenStates) {
            hidden.add(x.clone());
        }
        runLayers(x, n, xpos.table(0, n, n), kernel, layers.length, keepHiddenStates ? hidden : null);
        finalNorm(x, n);
        return new Output(n, x, keepHiddenStates ? Collections.unmodifiableList(hidden) : hidden);
    }

    /**
     * A run of tokens computed alone, as {@link SequenceWindow} allows: the hidden states after
     * {@code layers} layers (0: the embeddings), or, for {@code layers = -1}, the final features (all
     * layers, then the final LayerNorm). For a whole sequence these are {@link #forward}'s.
     *
     * @throws IllegalArgumentException when the run does not fit {@code where}, or no such layer exists
     */
    public float[] hiddenStates(int[] tokens, SequenceWindow where, AttentionKernel kernel, int layers) {
        float[] x = embed(tokens);
        where.check(tokens.length, config);
        ModelDecoders.checkLayers(layers, this.layers.length);
        int n = tokens.length;
        runLayers(x, n, xpos.table(where.start(), n, where.total()), kernel, layers < 0 ? this.layers.length : layers,
                null);
        if (layers < 0) {
            finalNorm(x, n);
        }
        return x;
    }

    /**
     * {@code lp[p] = log P(next token | tokens up to p)} for the positions of a run computed alone whose next
     * token is known ({@link SequenceWindow#scored}): the run's own tokens, then {@code where.nextToken()}.
     */
    public float[] nextTokenLogProbs(int[] tokens, SequenceWindow where, AttentionKernel kernel) {
        float[] features = hiddenStates(tokens, where, kernel, -1);
        return nextTokenLogProbs(features, where.scored(tokens.length), targets(tokens, where));
    }

    /** The next token of each scored position of a run: its own tokens from the second on, then the one after it. */
    public static int[] targets(int[] tokens, SequenceWindow where) {
        int[] targets = java.util.Arrays.copyOfRange(tokens, 1, where.scored(tokens.length) + 1);
        if (where.nextToken() >= 0) {
            targets[tokens.length - 1] = where.nextToken();
        }
        return targets;
    }

    /** The first {@code count} layers over {@code n} rows, in place; each output kept in {@code keep} when given. */
    private void runLayers(float[] x, int n, Xpos.Table positions, AttentionKernel kernel, int count,
                           List<float[]> keep) {
        Scratch scratch = new Scratch(n);
        for (int l = 0; l < count; l++) {
            attentionBlock(l, x, n, positions, kernel, scratch);
            feedForward(l, x, n, scratch.rows, scratch.ffn);
            if (keep != null) {
                keep.add(x.clone());
            }
        }
    }

    /** Logits {@code [N][vocab]} of a sequence. */
    public float[] logits(int[] tokens, AttentionKernel kernel) {
        return logits(forward(tokens, kernel, false));
    }

    /** Logits {@code [N][vocab]}: the features times the embedding, transposed (the tied LM head). */
    public float[] logits(Output out) {
        long size = (long) out.length() * config.vocabSize();
        if (size > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(out.length() + " positions x " + config.vocabSize()
                    + " logits exceed one array; use nextTokenLogProbs, which works a block of rows at a time");
        }
        float[] logits = new float[(int) size];
        RowOps.linear(out.features(), out.length(), config.dModel(), embed, null, config.vocabSize(), logits, false);
        return logits;
    }

    /**
     * {@code lp[p] = log P(tokens[p + 1] | tokens[0..p])} for {@code p < N - 1}: the scores of a sequence
     * under the model ({@code N - 1} values; their negated mean is the cross-entropy loss). Logits are
     * made a block of rows at a time, never all {@code N x vocab} at once.
     */
    public float[] nextTokenLogProbs(int[] tokens, AttentionKernel kernel) {
        return nextTokenLogProbs(tokens, SequenceWindow.whole(tokens.length), kernel);
    }

    /**
     * {@code lp[i] = log softmax(features[i] . embed^T)[targets[i]]} for the first {@code count} rows of
     * final features: scores of a block of positions whose next tokens are {@code targets} (the
     * sequence-parallel plan scores each partition this way). Logits are made a block of rows at a time.
     */
    public float[] nextTokenLogProbs(float[] features, int count, int[] targets) {
        int vocab = config.vocabSize();
        int d = config.dModel();
        // Blocks of rows as large as the products like, as long as a block's logits stay a few MiB.
        int block = Math.max(1, Math.min(ROWS, (1 << 22) / vocab));
        float[] rows = new float[block * vocab];
        float[] lp = new float[count];
        for (int p0 = 0; p0 < count; p0 += block) {
            int rowsNow = Math.min(block, count - p0);
            RowOps.linear(features, p0, rowsNow, d, embed, null, vocab, rows, 0, false);
            for (int i = 0; i < rowsNow; i++) {
                int target = targets[p0 + i];
                if (target < 0 || target >= vocab) {
                    throw new IllegalArgumentException("token " + target + " is outside the vocabulary [0, " + vocab + ")");
                }
                lp[p0 + i] = (float) (rows[i * vocab + target] - RowOps.logSumExp(rows, i * vocab, vocab));
            }
        }
        return lp;
    }

    /**
     * The token embeddings {@code [N][d_model]} (torchscale's default {@code no_scale_embedding}: no
     * {@code sqrt(d_model)} factor).
     *
     * @throws IllegalArgumentException for an empty sequence or a token outside the vocabulary
     */
    public float[] embed(int[] tokens) {
        config.checkTokens(tokens, Math.max(config.dModel(), config.ffnDim()));
        int d = config.dModel();
        float[] x = new float[tokens.length * d];
        for (int p = 0; p < tokens.length; p++) {
            System.arraycopy(embed, tokens[p] * d, x, p * d, d);
        }
        return x;
    }

    /**
     * The attention sublayer of layer {@code layer}, in place on {@code x} ({@code n} rows): projections,
     * xPos by {@code positions}, dilated attention through {@code kernel}, sub-LN, output projection,
     * residual.
     */
    public void attentionBlock(int layer, float[] x, int n, Xpos.Table positions, AttentionKernel kernel) {
        attentionBlock(layer, x, n, positions, kernel, new Scratch(n));
    }

    private void attentionBlock(int layer, float[] x, int n, Xpos.Table positions, AttentionKernel kernel,
                                Scratch s) {
        attentionInputs(layer, x, n, positions, s.q, s.k, s.v, s.rows);
        kernel.forward(attention, FloatBuffer.wrap(s.q), FloatBuffer.wrap(s.k), FloatBuffer.wrap(s.v), n,
                FloatBuffer.wrap(s.o), FloatBuffer.wrap(s.lse));
        attentionOutput(layer, s.o, n, x);
    }

    /**
     * The attention inputs of layer {@code layer} for {@code n} rows of hidden states {@code x}:
     * {@code q, k, v} ({@code [N][H][d]}) projections of {@code LN(x)}, with xPos applied to {@code q}
     * (upscaled) and {@code k} (downscaled) before they are sparsified, as torchscale does.
     * {@code positions} must cover the same {@code n} rows.
     */
    public void attentionInputs(int layer, float[] x, int n, Xpos.Table positions, float[] q, float[] k, float[] v) {
        attentionInputs(layer, x, n, positions, q, k, v, new float[Math.min(n, ROWS) * config.dModel()]);
    }

    /** {@link #attentionInputs}, {@code LN(x)} a block of {@link #ROWS} rows at a time in {@code h}. */
    private void attentionInputs(int layer, float[] x, int n, Xpos.Table positions, float[] q, float[] k, float[] v,
                                 float[] h) {
        if (positions.count() != n) {
            throw new IllegalArgumentException("xPos table covers " + positions.count() + " positions, the block has " + n);
        }
        Layer w = layers[layer];
        int width = config.dModel();
        for (int r0 = 0; r0 < n; r0 += ROWS) {
            int rows = Math.min(ROWS, n - r0);
            int at = r0 * width;
            RowOps.layerNorm(x, at, rows, width, w.attnLnW(), w.attnLnB(), config.layerNormEps(), h, 0);
            RowOps.linear(h, 0, rows, width, w.qW(), w.qB(), width, q, at, false);
            RowOps.linear(h, 0, rows, width, w.kW(), w.kB(), width, k, at, false);
            RowOps.linear(h, 0, rows, width, w.vW(), w.vB(), width, v, at, false);
        }
        positions.apply(q, config.heads(), false);
        positions.apply(k, config.heads(), true);
    }

    /**
     * Finishes layer {@code layer}'s attention sublayer: {@code x += out_proj(subLN(o))} for the
     * attention output {@code o} ({@code [N][H][d]}, which is {@code [N][d_model]}). {@code o} is used as
     * scratch.
     */
    public void attentionOutput(int layer, float[] o, int n, float[] x) {
        Layer w = layers[layer];
        int width = config.dModel();
        if (config.subLn()) {
            RowOps.layerNorm(o, n, width, w.innerLnW(), w.innerLnB(), config.layerNormEps(), o);
        }
        RowOps.linear(o, n, width, w.outW(), w.outB(), width, x, true);
    }

    /** The feed-forward sublayer of layer {@code layer}, in place: {@code x += fc2(subLN(gelu(fc1(LN(x)))))}. */
    public void feedForward(int layer, float[] x, int n) {
        int rows = Math.min(n, ROWS);
        feedForward(layer, x, n, new float[rows * config.dModel()], new float[rows * config.ffnDim()]);
    }

    /**
     * {@link #feedForward} a block of {@link #ROWS} rows at a time: the block's {@code [ROWS][ffn]} activations
     * stay in the caches from {@code fc1} through GELU to {@code fc2} instead of going to memory and back,
     * which two tasks on one socket share (docs/ARCHITECTURE.md §6).
     */
    private void feedForward(int layer, float[] x, int n, float[] h, float[] f) {
        Layer w = layers[layer];
        int width = config.dModel();
        int ffn = config.ffnDim();
        for (int r0 = 0; r0 < n; r0 += ROWS) {
            int rows = Math.min(ROWS, n - r0);
            int at = r0 * width;
            RowOps.layerNorm(x, at, rows, width, w.ffnLnW(), w.ffnLnB(), config.layerNormEps(), h, 0);
            RowOps.linear(h, 0, rows, width, w.fc1W(), w.fc1B(), ffn, f, 0, false);
            RowOps.gelu(f, rows * ffn);
            if (config.subLn()) {
                RowOps.layerNorm(f, 0, rows, ffn, w.ffnInnerLnW(), w.ffnInnerLnB(), config.layerNormEps(), f, 0);
            }
            RowOps.linear(f, 0, rows, ffn, w.fc2W(), w.fc2B(), width, x, at, true);
        }
    }

    /**
     * Rows per block of the row-wise sublayers: large enough that every product stays large (a few hundred
     * rows already fill the GEMM's blocks) and the weights' packing is paid rarely; small enough that a
     * block's feed-forward activations ({@code ROWS x ffn} floats, 4 MiB at ffn 1024) stay in the last-level
     * cache.
     */
    static final int ROWS = 1024;

    /** A forward pass's arrays, allocated once for all its layers. */
    private final class Scratch {
        final float[] q;
        final float[] k;
        final float[] v;
        final float[] o;
        final float[] lse;
        /** A block of {@link #ROWS} rows of width d_model (LayerNorm's output). */
        final float[] rows;
        /** A block of {@link #ROWS} rows of width ffn. */
        final float[] ffn;

        Scratch(int n) {
            int width = config.dModel();
            q = new float[n * width];
            k = new float[n * width];
            v = new float[n * width];
            o = new float[n * width];
            lse = new float[n * config.heads()];
            rows = new float[Math.min(n, ROWS) * width];
            ffn = new float[Math.min(n, ROWS) * config.ffnDim()];
        }
    }

    /** The final LayerNorm of {@code n} rows, in place. */
    public void finalNorm(float[] x, int n) {
        RowOps.layerNorm(x, n, config.dModel(), finalLnW, finalLnB, config.layerNormEps(), x);
    }
}
