package io.longnet.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.attention.Branch;
import io.longnet.attention.CpuAttentionKernel;
import io.longnet.attention.HeadOffset;
import io.longnet.attention.TrainingAttention;
import io.longnet.model.LongNetConfig;
import io.longnet.model.LongNetModel;
import io.longnet.model.ModelWeights;
import io.longnet.model.TensorNames;
import io.longnet.model.TestWeights;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.DoubleSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class TrainableModelTest {

    /**
     * Step of the five-point differences: their truncation error falls as h^4 (measured for the embedding
     * without sub-LN: relative 1.3e-6 at h = 1e-3, 1.4e-10 at 1e-4); rounding, ~1e-16 |loss| / h, stays far below.
     */
    private static final double STEP = 1e-4;

    /**
     * vocab 11, d_model 8, 2 heads of 4, 2 layers, FFN 16. One branch 8:1 makes the xPos window 8, so a
     * sequence longer than 8 is centred per window; scale base 4 makes the xPos factors far from 1 (up to
     * 3.5), so their gradient matters.
     */
    static LongNetConfig tiny(boolean subLn) {
        return new LongNetConfig(11, 8, 2, 2, 16, Branch.parseList("8:1"), true, subLn, 4, 1e-5, HeadOffset.PAPER);
    }

    private static double[] randomParams(LongNetConfig config, long seed) {
        return ParameterLayout.of(config).flatten(TestWeights.random(config, seed));
    }

    /**
     * {@code d f / d x} by the five-point central difference {@code (8 (f(h) - f(-h)) - (f(2h) - f(-2h))) / 12h}
     * (error O(h^4)), moving {@code x[i]} and putting it back.
     */
    private static double finiteDifference(double[] x, int i, double h, DoubleSupplier f) {
        double x0 = x[i];
        x[i] = x0 + h;
        double p1 = f.getAsDouble();
        x[i] = x0 - h;
        double m1 = f.getAsDouble();
        x[i] = x0 + 2 * h;
        double p2 = f.getAsDouble();
        x[i] = x0 - 2 * h;
        double m2 = f.getAsDouble();
        x[i] = x0;
        return (8 * (p1 - m1) - (p2 - m2)) / (12 * h);
    }

    /** {@code ||a - b|| / ||b||} over {@code [from, from + length)}. */
    private static double relativeError(double[] a, double[] b, int from, int length) {
        double diff = 0;
        double ref = 0;
        for (int i = from; i < from + length; i++) {
            diff += (a[i] - b[i]) * (a[i] - b[i]);
            ref += b[i] * b[i];
        }
        return Math.sqrt(diff) / Math.sqrt(ref);
    }

    private static double[] random(SplittableRandom rnd, int n) {
        double[] a = new double[n];
        for (int i = 0; i < n; i++) {
            a[i] = 2 * rnd.nextDouble() - 1;
        }
        return a;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    // ---- the test attention itself ------------------------------------------------------------------------

    /** The dense test attention's backward pass is the gradient of {@code sum(R o)}: finite differences. */
    @ParameterizedTest(name = "causal {0}")
    @ValueSource(booleans = {true, false})
    void denseAttentionBackwardMatchesFiniteDifferences(boolean causal) {
        long seed = causal ? 31 : 32;
        System.out.println("dense attention gradient check, seed " + seed);
        SplittableRandom rnd = new SplittableRandom(seed);
        int heads = 2;
        int d = 4;
        int n = 6;
        DenseTrainingAttention attention = new DenseTrainingAttention(heads, d, causal);
        int size = n * heads * d;
        double[] q = random(rnd, size);
        double[] k = random(rnd, size);
        double[] v = random(rnd, size);
        for (int i = 0; i < size; i++) {
            q[i] *= 2; // sharper softmax
        }
        double[] r = random(rnd, size);
        double[] o = new double[size];
        double[] lse = new double[n * heads];
        attention.forward(q, k, v, n, o, lse);
        double[] dq = new double[size];
        double[] dk = new double[size];
        double[] dv = new double[size];
        attention.backward(q, k, v, n, o, lse, r, dq, dk, dv);
        DoubleSupplier f = () -> {
            double[] out = new double[size];
            attention.forward(q, k, v, n, out, new double[n * heads]);
            return dot(r, out);
        };
        double[][] inputs = {q, k, v};
        double[][] grads = {dq, dk, dv};
        for (int t = 0; t < 3; t++) {
            double[] fd = new double[size];
            for (int i = 0; i < size; i++) {
                fd[i] = finiteDifference(inputs[t], i, STEP, f);
            }
            double err = relativeError(grads[t], fd, 0, size);
            assertTrue(err < 1e-8, "d" + "qkv".charAt(t) + ": relative error " + err);
        }
        // Causal: query 0 sees key 0 alone (weight 1 whatever its score), so its gradient is exactly 0.
        for (int c = 0; c < heads * d; c++) {
            assertEquals(causal, dq[c] == 0.0, "dq[0][" + c + "] = " + dq[c]);
        }
    }

    // ---- forward: float64 equals the float32 model -------------------------------------------------------

    /**
     * With one branch {@code (w >= N, r = 1)} the float32 model's attention is dense causal attention, so the
     * float64 loss on the same weights equals minus the sum of its next-token log-probabilities.
     */
    @ParameterizedTest(name = "sub_ln {0}, N {1}, seed {2}")
    @CsvSource({"true, 21, 1", "false, 21, 2", "true, 64, 3", "false, 64, 4"})
    void float64LossEqualsFloat32Model(boolean subLn, int n, long seed) {
        System.out.println("float64 vs float32 loss, seed " + seed);
        LongNetConfig config = LongNetConfig.of(50, 16, 2, 2, 32, "64:1").withSubLn(subLn);
        ModelWeights weights = TestWeights.random(config, seed);
        int[] tokens = TestWeights.tokens(n, config.vocabSize(), seed + 100);
        ParameterLayout layout = ParameterLayout.of(config);
        TrainableModel model = new TrainableModel(config, layout.flatten(weights));
        double loss = model.loss(tokens, DenseTrainingAttention.of(config));

        double expected = 0;
        try (CpuAttentionKernel kernel = new CpuAttentionKernel(1)) {
            for (float lp : new LongNetModel(config, weights).nextTokenLogProbs(tokens, kernel)) {
                expected -= lp;
            }
        }
        double err = Math.abs(loss - expected) / Math.abs(expected);
        assertTrue(err < 1e-5, "loss " + loss + " vs float32 " + expected + ": relative error " + err);
        assertTrue(expected > 0.5 * (n - 1), "a non-trivial loss: " + expected);
    }

    @Test
    void layoutFollowsTensorShapesAndConvertsExactly() {
        LongNetConfig config = tiny(true);
        ParameterLayout layout = ParameterLayout.of(config);
        int offset = 0;
        List<String> names = new ArrayList<>();
        for (var e : config.tensorShapes().entrySet()) {
            names.add(e.getKey());
            assertEquals(offset, layout.offset(e.getKey()), e.getKey());
            assertArrayEquals(e.getValue(), layout.shape(e.getKey()));
            offset += layout.length(e.getKey());
        }
        assertEquals(names, layout.names());
        assertEquals(offset, layout.size());
        assertEquals(config.parameterCount(), layout.size());

        ModelWeights w = TestWeights.random(config, 5);
        double[] flat = layout.flatten(w);
        assertEquals(w.data(TensorNames.FINAL_LN_BIAS)[3], flat[layout.offset(TensorNames.FINAL_LN_BIAS) + 3]);
        assertTrue(layout.toWeights(flat).sameAs(w), "float -> double -> float is exact");
        double[] nudged = flat.clone();
        nudged[7] = Math.nextUp(flat[7]); // rounds back to the float
        assertTrue(layout.toWeights(nudged).sameAs(w));

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ParameterLayout.of(tiny(false)).flatten(w));
        assertTrue(e.getMessage().contains("unexpected tensor 'layers.0.self_attn.inner_attn_ln.weight'"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new TrainableModel(config, new double[3]));
        assertEquals(layout, ParameterLayout.of(tiny(true)));
    }

    /** A Spark trainer ships the layout and the optimiser settings to executors. */
    @Test
    void layoutAndSettingsSerialize() throws Exception {
        ParameterLayout layout = ParameterLayout.of(tiny(false));
        AdamW.Settings settings = AdamW.Settings.defaults(1000);
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        try (java.io.ObjectOutputStream out = new java.io.ObjectOutputStream(bytes)) {
            out.writeObject(layout);
            out.writeObject(settings);
        }
        try (java.io.ObjectInputStream in = new java.io.ObjectInputStream(
                new java.io.ByteArrayInputStream(bytes.toByteArray()))) {
            ParameterLayout back = (ParameterLayout) in.readObject();
            assertEquals(layout, back);
            assertEquals(layout.offset(TensorNames.FINAL_LN_BIAS), back.offset(TensorNames.FINAL_LN_BIAS));
            assertEquals(settings, in.readObject());
        }
    }

    // ---- gradients -----------------------------------------------------------------------------------------

    /**
     * lossAndGradient against five-point central differences of loss, every coordinate of every tensor
     * (embedding, each LayerNorm, q/k/v/out projections and biases, fc1/fc2, sub-LNs, final LN): relative
     * error under 1e-6 per tensor. N = 11 exceeds the xPos window of 8, so windowed centring is included.
     */
    @ParameterizedTest(name = "sub_ln {0}")
    @CsvSource({"true, 41", "false, 42"})
    void gradientMatchesFiniteDifferences(boolean subLn, long seed) {
        System.out.println("gradient check, sub_ln " + subLn + ", seed " + seed);
        LongNetConfig config = tiny(subLn);
        double[] params = randomParams(config, seed);
        int[] tokens = TestWeights.tokens(11, config.vocabSize(), seed + 100);
        TrainableModel model = new TrainableModel(config, params);
        TrainingAttention attention = DenseTrainingAttention.of(config);
        double[] grad = new double[params.length];
        double loss = model.lossAndGradient(tokens, attention, grad);
        assertEquals(model.loss(tokens, attention), loss, 0.0, "the same loss with and without the gradient");

        double[] fd = new double[params.length];
        for (int i = 0; i < params.length; i++) {
            fd[i] = finiteDifference(params, i, STEP, () -> model.loss(tokens, attention));
        }
        ParameterLayout layout = model.layout();
        double worst = 0;
        for (String name : layout.names()) {
            double err = relativeError(grad, fd, layout.offset(name), layout.length(name));
            worst = Math.max(worst, err);
            assertTrue(err < 1e-6, name + ": relative error " + err);
        }
        System.out.println("  worst tensor relative error " + worst);
    }

    /**
     * The same check with the training engines the trainer uses: LongNet's dilated branches (three, one of
     * them {@code w = 8, r = 3}, not a multiple) and the strided baseline (stride 3), on N = 13.
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"dilated, 61", "strided, 62"})
    void gradientMatchesFiniteDifferencesWithTheTrainingEngines(String pattern, long seed) {
        LongNetConfig config = pattern.equals("dilated")
                ? new LongNetConfig(11, 8, 2, 2, 16, Branch.parseList("4:1,8:3,16:2"), true, true, 4, 1e-5,
                HeadOffset.PAPER)
                : LongNetConfig.strided(11, 8, 2, 2, 16, 3);
        TrainingAttention attention = pattern.equals("dilated")
                ? new io.longnet.attention.DilatedAttentionGradients(config.attentionConfig())
                : config.stridedAttention();
        System.out.println("gradient check, " + pattern + ", seed " + seed);
        double[] params = randomParams(config, seed);
        int[] tokens = TestWeights.tokens(13, config.vocabSize(), seed + 100);
        TrainableModel model = new TrainableModel(config, params);
        double[] grad = new double[params.length];
        model.lossAndGradient(tokens, attention, grad);
        double[] fd = new double[params.length];
        for (int i = 0; i < params.length; i++) {
            fd[i] = finiteDifference(params, i, STEP, () -> model.loss(tokens, attention));
        }
        ParameterLayout layout = model.layout();
        for (String name : layout.names()) {
            double err = relativeError(grad, fd, layout.offset(name), layout.length(name));
            assertTrue(err < 1e-6, pattern + ", " + name + ": relative error " + err);
        }
    }

    /**
     * The pieces at an offset: attentionInputs for rows [13, 19) of a sequence of 40 (two xPos windows of 8
     * inside the block), and its backward pass, against finite differences of {@code sum(Rq q + Rk k + Rv v)}
     * with respect to x and the layer's LayerNorm and projections.
     */
    @Test
    void attentionInputsBackwardAtAnOffsetMatchesFiniteDifferences() {
        long seed = 51;
        System.out.println("attention inputs at an offset, seed " + seed);
        SplittableRandom rnd = new SplittableRandom(seed);
        LongNetConfig config = tiny(true);
        double[] params = randomParams(config, seed);
        TrainableModel model = new TrainableModel(config, params);
        int n = 6;
        int width = config.dModel();
        double[] x = random(rnd, n * width);
        double[] rq = random(rnd, n * width);
        double[] rk = random(rnd, n * width);
        double[] rv = random(rnd, n * width);
        DoubleSupplier f = () -> {
            TrainableModel.AttentionInputs in = model.attentionInputs(1, x, n, 13, 40);
            return dot(rq, in.q()) + dot(rk, in.k()) + dot(rv, in.v());
        };
        TrainableModel.AttentionInputs in = model.attentionInputs(1, x, n, 13, 40);
        assertEquals(13, in.start());
        double[] grad = new double[params.length];
        double[] dx = model.attentionInputsBackward(in, rq, rk, rv, grad);

        double[] fdx = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            fdx[i] = finiteDifference(x, i, STEP, f);
        }
        double err = relativeError(dx, fdx, 0, x.length);
        assertTrue(err < 1e-8, "dx: relative error " + err);
        TensorNames.Layer names = TensorNames.layer(1);
        ParameterLayout layout = model.layout();
        for (String name : List.of(names.attnLnWeight(), names.attnLnBias(), names.qWeight(), names.qBias(),
                names.kWeight(), names.kBias(), names.vWeight(), names.vBias())) {
            double[] fd = new double[params.length];
            for (int i = layout.offset(name); i < layout.offset(name) + layout.length(name); i++) {
                fd[i] = finiteDifference(params, i, STEP, f);
            }
            double e = relativeError(grad, fd, layout.offset(name), layout.length(name));
            assertTrue(e < 1e-8, name + ": relative error " + e);
        }
        // Nothing else got a gradient.
        assertEquals(0.0, grad[layout.offset(TensorNames.layer(0).qWeight())]);
    }

    /**
     * The row-local pieces run block by block (rows [0, 5) and [5, 12), then [0, 3), [3, 8), [8, 12)), with
     * attention over the whole sequence between them, give lossAndGradient's loss and gradient.
     */
    @ParameterizedTest(name = "sub_ln {0}")
    @ValueSource(booleans = {true, false})
    void piecesOverBlocksEqualLossAndGradient(boolean subLn) {
        long seed = subLn ? 61 : 62;
        System.out.println("pieces over blocks, seed " + seed);
        LongNetConfig config = tiny(subLn);
        double[] params = randomParams(config, seed);
        int[] tokens = TestWeights.tokens(12, config.vocabSize(), seed + 100);
        TrainableModel model = new TrainableModel(config, params);
        TrainingAttention attention = DenseTrainingAttention.of(config);
        double[] expected = new double[params.length];
        double loss = model.lossAndGradient(tokens, attention, expected);
        for (int[] bounds : new int[][] {{0, 5, 12}, {0, 3, 8, 12}}) {
            double[] grad = new double[params.length];
            double blocked = piecesLossAndGradient(model, tokens, bounds, attention, grad);
            assertEquals(loss, blocked, 1e-12 * Math.abs(loss), Arrays.toString(bounds));
            double maxDiff = 0;
            double maxRef = 0;
            for (int i = 0; i < grad.length; i++) {
                maxDiff = Math.max(maxDiff, Math.abs(grad[i] - expected[i]));
                maxRef = Math.max(maxRef, Math.abs(expected[i]));
            }
            assertTrue(maxDiff <= 1e-12 * maxRef, Arrays.toString(bounds) + ": gradients differ by " + maxDiff);
            System.out.println("  blocks " + Arrays.toString(bounds) + ": loss difference " + (blocked - loss)
                    + ", largest gradient difference " + maxDiff);
        }
    }

    /** What a sequence-parallel trainer does, in one process: the pieces per block, attention over all rows. */
    static double piecesLossAndGradient(TrainableModel model, int[] tokens, int[] bounds, TrainingAttention attention,
                                        double[] grad) {
        LongNetConfig config = model.config();
        int total = tokens.length;
        int blocks = bounds.length - 1;
        int width = config.dModel();
        int layers = config.layers();
        double[][] x = new double[blocks][];
        for (int b = 0; b < blocks; b++) {
            x[b] = model.embed(Arrays.copyOfRange(tokens, bounds[b], bounds[b + 1]));
        }
        TrainableModel.AttentionInputs[][] ins = new TrainableModel.AttentionInputs[layers][blocks];
        TrainableModel.AttentionOutput[][] att = new TrainableModel.AttentionOutput[layers][blocks];
        TrainableModel.FeedForward[][] ffn = new TrainableModel.FeedForward[layers][blocks];
        double[][] os = new double[layers][];
        double[][] lses = new double[layers][];
        double[][] qs = new double[layers][];
        double[][] ks = new double[layers][];
        double[][] vs = new double[layers][];
        for (int l = 0; l < layers; l++) {
            double[] q = new double[total * width];
            double[] k = new double[total * width];
            double[] v = new double[total * width];
            for (int b = 0; b < blocks; b++) {
                int n = bounds[b + 1] - bounds[b];
                ins[l][b] = model.attentionInputs(l, x[b], n, bounds[b], total);
                System.arraycopy(ins[l][b].q(), 0, q, bounds[b] * width, n * width);
                System.arraycopy(ins[l][b].k(), 0, k, bounds[b] * width, n * width);
                System.arraycopy(ins[l][b].v(), 0, v, bounds[b] * width, n * width);
            }
            double[] o = new double[total * width];
            double[] lse = new double[total * config.heads()];
            attention.forward(q, k, v, total, o, lse);
            qs[l] = q;
            ks[l] = k;
            vs[l] = v;
            os[l] = o;
            lses[l] = lse;
            for (int b = 0; b < blocks; b++) {
                int n = bounds[b + 1] - bounds[b];
                att[l][b] = model.attentionOutput(l, x[b], Arrays.copyOfRange(o, bounds[b] * width, bounds[b + 1] * width), n);
                ffn[l][b] = model.feedForward(l, att[l][b].y(), n);
                x[b] = ffn[l][b].y();
            }
        }
        double loss = 0;
        double[][] dx = new double[blocks][];
        for (int b = 0; b < blocks; b++) {
            int n = bounds[b + 1] - bounds[b];
            int count = Math.min(bounds[b + 1], total - 1) - bounds[b];
            int[] targets = Arrays.copyOfRange(tokens, bounds[b] + 1, bounds[b] + 1 + count);
            TrainableModel.Head head = model.head(x[b], n, targets, count);
            loss += head.loss();
            dx[b] = model.headBackward(head, grad);
        }
        for (int l = layers - 1; l >= 0; l--) {
            double[][] dMid = new double[blocks][];
            double[] dO = new double[total * width];
            for (int b = 0; b < blocks; b++) {
                dMid[b] = model.feedForwardBackward(ffn[l][b], dx[b], grad);
                double[] d = model.attentionOutputBackward(att[l][b], dMid[b], grad);
                System.arraycopy(d, 0, dO, bounds[b] * width, d.length);
            }
            double[] dq = new double[total * width];
            double[] dk = new double[total * width];
            double[] dv = new double[total * width];
            attention.backward(qs[l], ks[l], vs[l], total, os[l], lses[l], dO, dq, dk, dv);
            for (int b = 0; b < blocks; b++) {
                int from = bounds[b] * width;
                int to = bounds[b + 1] * width;
                dx[b] = model.attentionInputsBackward(ins[l][b], Arrays.copyOfRange(dq, from, to),
                        Arrays.copyOfRange(dk, from, to), Arrays.copyOfRange(dv, from, to), grad);
                for (int i = 0; i < dx[b].length; i++) {
                    dx[b][i] += dMid[b][i];
                }
            }
        }
        for (int b = 0; b < blocks; b++) {
            model.embedBackward(Arrays.copyOfRange(tokens, bounds[b], bounds[b + 1]), dx[b], grad);
        }
        return loss;
    }

    /**
     * {@code lossAndGradient} keeps its step's arrays for the next step: later steps, with a window of another
     * length between them, give the first step's loss and gradient bit for bit; the arrays of a record the caller
     * holds are never reused; and with the pool's arrays dirty, the head's unscored rows still get zero gradient.
     */
    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void stepsReusingTheirArraysGiveTheSameBits(boolean subLn) {
        long seed = 91;
        System.out.println("steps reusing arrays, sub-LN " + subLn + ", seed " + seed);
        LongNetConfig config = tiny(subLn);
        TrainableModel model = new TrainableModel(config, randomParams(config, seed));
        TrainingAttention attention = DenseTrainingAttention.of(config);
        int n = 20;
        int[] tokens = TestWeights.tokens(n, config.vocabSize(), seed);
        TrainableModel.FeedForward held = model.feedForward(0, model.embed(tokens), n);
        double[] heldY = held.y().clone();
        double[] heldSlope = held.slope().clone();
        double[] first = new double[model.layout().size()];
        double loss = model.lossAndGradient(tokens, attention, first);
        for (int step = 2; step <= 4; step++) {
            if (step == 3) { // a window of another length: the pool starts again
                model.lossAndGradient(TestWeights.tokens(13, config.vocabSize(), seed + step), attention,
                        new double[model.layout().size()]);
            }
            double[] again = new double[model.layout().size()];
            assertEquals(loss, model.lossAndGradient(tokens, attention, again), "loss of step " + step);
            assertArrayEquals(first, again, "gradient of step " + step);
        }
        assertArrayEquals(heldY, held.y(), "a held record's output");
        assertArrayEquals(heldSlope, held.slope(), "a held record's GELU slope");
        double[] x = random(new SplittableRandom(seed), n * config.dModel());
        double[] dx = model.headBackward(model.head(x, n, tokens, n - 2), new double[model.layout().size()]);
        for (int i = (n - 2) * config.dModel(); i < dx.length; i++) {
            assertEquals(0.0, dx[i], "unscored row " + i / config.dModel());
        }
    }

    @Test
    void headScoresOnlyTheFirstCountRows() {
        LongNetConfig config = tiny(true);
        TrainableModel model = new TrainableModel(config, randomParams(config, 71));
        double[] x = random(new SplittableRandom(71), 4 * config.dModel());
        double[] grad = new double[model.layout().size()];
        TrainableModel.Head head = model.head(x, 4, new int[] {3, 5}, 2);
        assertEquals(2, head.count());
        double[] dx = model.headBackward(head, grad);
        for (int i = 2 * config.dModel(); i < dx.length; i++) {
            assertEquals(0.0, dx[i], "unscored row " + i / config.dModel());
        }
        TrainableModel.Head none = model.head(x, 4, new int[0], 0);
        assertEquals(0.0, none.loss());
        assertThrows(IllegalArgumentException.class, () -> model.head(x, 4, new int[] {11}, 1));
        assertThrows(IllegalArgumentException.class, () -> model.head(x, 4, new int[] {1}, 2));
    }

    /**
     * The head makes logits a block of rows at a time (256 rows for a small vocabulary): over 600 rows, three
     * blocks, its loss equals a plain evaluation (final LayerNorm, logits against the embedding, log-sum-exp),
     * and its gradients (embedding, final LayerNorm, and rows of x from every block) match finite differences.
     */
    @Test
    void headOverSeveralLogitBlocksMatchesPlainEvaluationAndFiniteDifferences() {
        long seed = 73;
        System.out.println("head over logit blocks, seed " + seed);
        LongNetConfig config = tiny(true);
        int width = config.dModel();
        int vocab = config.vocabSize();
        int n = 600;
        int count = n - 1;
        double[] params = randomParams(config, seed);
        TrainableModel model = new TrainableModel(config, params);
        ParameterLayout layout = model.layout();
        SplittableRandom rnd = new SplittableRandom(seed);
        double[] x = random(rnd, n * width);
        int[] targets = TestWeights.tokens(count, vocab, seed + 100);

        int g = layout.offset(TensorNames.FINAL_LN_WEIGHT);
        int b = layout.offset(TensorNames.FINAL_LN_BIAS);
        int e = layout.offset(TensorNames.EMBED_TOKENS);
        double expected = 0;
        for (int i = 0; i < count; i++) {
            double mean = 0;
            for (int j = 0; j < width; j++) {
                mean += x[i * width + j] / width;
            }
            double var = 0;
            for (int j = 0; j < width; j++) {
                var += (x[i * width + j] - mean) * (x[i * width + j] - mean) / width;
            }
            double[] f = new double[width];
            for (int j = 0; j < width; j++) {
                f[j] = (x[i * width + j] - mean) / Math.sqrt(var + config.layerNormEps()) * params[g + j] + params[b + j];
            }
            double[] logits = new double[vocab];
            double max = Double.NEGATIVE_INFINITY;
            for (int t = 0; t < vocab; t++) {
                for (int j = 0; j < width; j++) {
                    logits[t] += f[j] * params[e + t * width + j];
                }
                max = Math.max(max, logits[t]);
            }
            double sum = 0;
            for (int t = 0; t < vocab; t++) {
                sum += Math.exp(logits[t] - max);
            }
            expected += max + Math.log(sum) - logits[targets[i]];
        }
        TrainableModel.Head head = model.head(x, n, targets, count);
        assertEquals(expected, head.loss(), 1e-12 * Math.abs(expected), "loss over " + count + " rows");

        double[] grad = new double[layout.size()];
        double[] dx = model.headBackward(head, grad);
        DoubleSupplier loss = () -> model.head(x, n, targets, count).loss();
        double[] fd = new double[layout.size()];
        for (int i = e; i < e + vocab * width; i++) {
            fd[i] = finiteDifference(params, i, STEP, loss);
        }
        for (int i = 0; i < width; i++) {
            fd[g + i] = finiteDifference(params, g + i, STEP, loss);
            fd[b + i] = finiteDifference(params, b + i, STEP, loss);
        }
        double embedErr = relativeError(grad, fd, e, vocab * width);
        double lnErr = Math.max(relativeError(grad, fd, g, width), relativeError(grad, fd, b, width));
        double[] fdx = new double[dx.length];
        int[] rows = {0, 255, 256, 511, 512, 598};
        double xErr = 0;
        for (int row : rows) {
            for (int j = 0; j < width; j++) {
                fdx[row * width + j] = finiteDifference(x, row * width + j, STEP, loss);
            }
            xErr = Math.max(xErr, relativeError(dx, fdx, row * width, width));
        }
        System.out.println("  relative errors: embedding " + embedErr + ", final LN " + lnErr + ", rows of x " + xErr);
        assertTrue(embedErr < 1e-6 && lnErr < 1e-6 && xErr < 1e-6,
                "embedding " + embedErr + ", final LN " + lnErr + ", x " + xErr);
        for (int i = count * width; i < dx.length; i++) {
            assertEquals(0.0, dx[i], "the unscored last row");
        }
    }

    @Test
    void mismatchedAttentionIsRejected() {
        LongNetConfig config = tiny(true);
        TrainableModel model = new TrainableModel(config, randomParams(config, 81));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> model.loss(new int[] {1, 2, 3}, new DenseTrainingAttention(2, 4, false)));
        assertTrue(e.getMessage().contains("the model needs 2 heads of width 4, causal"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> model.loss(new int[] {1, 11}, DenseTrainingAttention.of(config)));
        assertThrows(IllegalArgumentException.class, () -> model.loss(new int[0], DenseTrainingAttention.of(config)));
        assertEquals(0.0, model.loss(new int[] {4}, DenseTrainingAttention.of(config)), "one token predicts nothing");
    }
    /**
     * A step's loss and gradient are the same bits on 1, 2 and 3 threads (docs/ARCHITECTURE.md §7): every row,
     * weight-gradient row and LayerNorm column is one thread's, summed in the same order. N = 300 makes
     * several chunks of rows, and two blocks of the head's logits on one thread against one on three; the
     * widths (64, 128, vocabulary 50) several chunks of columns. On a native BLAS, whose dgemm may sum
     * differently for a different number of rows in a call, the same to float64 rounding instead (the build
     * also runs this test with {@code -Dlongnet.blas=java}, so the bits are checked on the project's own
     * products).
     */
    @ParameterizedTest(name = "{0} threads")
    @ValueSource(ints = {2, 3})
    void lossAndGradientAreTheSameBitsOnSeveralThreads(int threads) {
        long seed = 91;
        System.out.println("threads against one, seed " + seed);
        LongNetConfig config = new LongNetConfig(50, 64, 2, 2, 128, Branch.parseList("32:1,64:2,128:4"), true, true,
                512, 1e-5, HeadOffset.PAPER);
        double[] params = randomParams(config, seed);
        int[] tokens = TestWeights.tokens(300, config.vocabSize(), seed + 1);
        double[] one = new double[params.length];
        double lossOne = new TrainableModel(config, params).lossAndGradient(tokens, TrainingAttentions.of(config), one);
        double[] many = new double[params.length];
        double lossMany;
        try (io.longnet.attention.ParallelRows pool = new io.longnet.attention.ParallelRows(threads)) {
            lossMany = new TrainableModel(config, params, pool).lossAndGradient(tokens,
                    TrainingAttentions.of(config, pool), many);
        }
        boolean sameBits = !io.longnet.model.NetlibBlas.forDouble();
        System.out.println("products: " + io.longnet.model.NetlibBlas.describe() + (sameBits ? ", the same bits"
                : ", the same to rounding"));
        double scale = Arrays.stream(one).map(Math::abs).max().orElse(0);
        if (sameBits) {
            assertEquals(Double.doubleToLongBits(lossOne), Double.doubleToLongBits(lossMany),
                    "loss " + lossOne + " on one thread, " + lossMany + " on " + threads);
        } else {
            assertEquals(lossOne, lossMany, 1e-13 * Math.abs(lossOne), "loss on one thread and on " + threads);
        }
        for (int i = 0; i < one.length; i++) {
            if (sameBits ? Double.doubleToLongBits(one[i]) != Double.doubleToLongBits(many[i])
                    : Math.abs(one[i] - many[i]) > 1e-12 * scale) {
                ParameterLayout layout = ParameterLayout.of(config);
                int at = i;
                String tensor = layout.names().stream()
                        .filter(name -> at >= layout.offset(name) && at < layout.offset(name) + layout.length(name))
                        .findFirst().orElse("?");
                throw new AssertionError("gradient[" + i + "] (" + tensor + ") is " + one[i] + " on one thread, "
                        + many[i] + " on " + threads);
            }
        }
        assertTrue(Arrays.stream(one).filter(g -> g != 0).count() > one.length / 2, "a gradient mostly non-zero");
    }
}
