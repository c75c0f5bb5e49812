package io.longnet.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.attention.CpuAttentionKernel;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class LongNetModelTest {

    private static final double TOLERANCE = 1e-5;
    private static CpuAttentionKernel kernel;

    @BeforeAll
    static void start() {
        kernel = new CpuAttentionKernel(2);
    }

    @AfterAll
    static void stop() {
        kernel.close();
    }

    /** vocab 50, d_model 16, 2 heads of 8, 2 layers, FFN 32. */
    private static LongNetConfig tiny(String branches) {
        return LongNetConfig.of(50, 16, 2, 2, 32, branches);
    }

    private static void assertClose(String what, float[] actual, double[] expected, double tolerance) {
        double err = io.longnet.attention.Tensors.relativeError(actual, expected);
        assertTrue(err < tolerance, what + ": relative error " + err + " >= " + tolerance);
    }

    /**
     * One branch with w >= N and r = 1 is plain causal attention: the model equals the float64 dense
     * reference, hidden states and logits, with and without sub-LN.
     */
    @ParameterizedTest(name = "sub_ln {0}, N {1}, seed {2}")
    @CsvSource({"true, 21, 1", "false, 21, 2", "true, 64, 3", "true, 1, 4"})
    void singleBranchEqualsDenseReference(boolean subLn, int n, long seed) {
        LongNetConfig config = tiny("64:1").withSubLn(subLn);
        ModelWeights weights = TestWeights.random(config, seed);
        int[] tokens = TestWeights.tokens(n, config.vocabSize(), seed + 100);

        LongNetModel model = new LongNetModel(config, weights);
        LongNetModel.Output out = model.forward(tokens, kernel, true);
        ReferenceDecoder.Result ref = new ReferenceDecoder(config, weights).run(tokens, ReferenceDecoder.Attention.DENSE);

        assertEquals(config.layers() + 1, out.hiddenStates().size());
        for (int l = 0; l <= config.layers(); l++) {
            assertClose("hidden state " + l, out.hiddenStates().get(l), ref.hidden().get(l), TOLERANCE);
        }
        assertClose("logits", model.logits(out), ref.logits(), TOLERANCE);
    }

    /**
     * Several branches, N not a multiple of any segment: the model equals the float64 brute-force dilated
     * decoder (docs/ARCHITECTURE.md §1 inside §6), and clearly differs from dense attention.
     */
    @ParameterizedTest(name = "causal {0}, seed {1}")
    @CsvSource({"true, 11", "false, 12", "true, 13"})
    void severalBranchesEqualDilatedReference(boolean causal, long seed) {
        LongNetConfig config = tiny("8:1,16:2,32:4").withCausal(causal);
        ModelWeights weights = TestWeights.random(config, seed);
        int[] tokens = TestWeights.tokens(50, config.vocabSize(), seed + 100);

        LongNetModel model = new LongNetModel(config, weights);
        LongNetModel.Output out = model.forward(tokens, kernel, true);
        ReferenceDecoder reference = new ReferenceDecoder(config, weights);
        ReferenceDecoder.Result dilated = reference.run(tokens, ReferenceDecoder.Attention.DILATED);
        for (int l = 0; l <= config.layers(); l++) {
            assertClose("hidden state " + l, out.hiddenStates().get(l), dilated.hidden().get(l), TOLERANCE);
        }
        float[] logits = model.logits(out);
        assertClose("logits", logits, dilated.logits(), TOLERANCE);

        ReferenceDecoder.Result dense = reference.run(tokens, ReferenceDecoder.Attention.DENSE);
        double fromDense = io.longnet.attention.Tensors.relativeError(logits, dense.logits());
        assertTrue(fromDense > 1e-2, "dilated logits should differ from dense ones, relative difference " + fromDense);
    }

    /**
     * A sequence longer than the blocks of rows that the row-wise sublayers and the head work in: the model still
     * equals the float64 dilated decoder on both sides of every block boundary, hidden states, logits and
     * next-token log-probabilities.
     */
    @Test
    void sequencesLongerThanABlockOfRowsEqualTheReference() {
        // One layer and a narrow FFN: the reference's exact GELU (an integral per value) is the test's cost.
        LongNetConfig config = LongNetConfig.of(50, 16, 2, 1, 8, "8:1,16:2,32:4");
        ModelWeights weights = TestWeights.random(config, 41);
        int n = LongNetModel.ROWS + 29;
        int[] tokens = TestWeights.tokens(n, config.vocabSize(), 42);
        LongNetModel model = new LongNetModel(config, weights);
        LongNetModel.Output out = model.forward(tokens, kernel, true);
        ReferenceDecoder.Result ref = new ReferenceDecoder(config, weights).run(tokens, ReferenceDecoder.Attention.DILATED);
        for (int l = 0; l <= config.layers(); l++) {
            assertClose("hidden state " + l, out.hiddenStates().get(l), ref.hidden().get(l), TOLERANCE);
        }
        assertClose("logits", model.logits(out), ref.logits(), TOLERANCE);
        float[] lp = model.nextTokenLogProbs(tokens, kernel);
        double[] expected = new double[n - 1];
        int vocab = config.vocabSize();
        for (int p = 0; p < n - 1; p++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int t = 0; t < vocab; t++) {
                max = Math.max(max, ref.logits()[p * vocab + t]);
            }
            double sum = 0;
            for (int t = 0; t < vocab; t++) {
                sum += Math.exp(ref.logits()[p * vocab + t] - max);
            }
            expected[p] = ref.logits()[p * vocab + tokens[p + 1]] - max - Math.log(sum);
        }
        assertClose("log-probabilities", lp, expected, TOLERANCE);
    }

    @Test
    void forwardIsDeterministicAcrossThreadCounts() {
        LongNetConfig config = tiny("8:1,16:2,32:4");
        LongNetModel model = new LongNetModel(config, TestWeights.random(config, 21));
        int[] tokens = TestWeights.tokens(50, 50, 22);
        float[] a = model.logits(tokens, kernel);
        try (CpuAttentionKernel one = new CpuAttentionKernel(1)) {
            assertArrayEquals(a, model.logits(tokens, one));
        }
        assertArrayEquals(a, model.logits(tokens, kernel));
    }

    @Test
    void nextTokenLogProbsAreLogSoftmaxOfReferenceLogits() {
        LongNetConfig config = tiny("8:1,16:2");
        ModelWeights weights = TestWeights.random(config, 31);
        int[] tokens = TestWeights.tokens(30, 50, 32);
        float[] lp = new LongNetModel(config, weights).nextTokenLogProbs(tokens, kernel);
        double[] logits = new ReferenceDecoder(config, weights).run(tokens, ReferenceDecoder.Attention.DILATED).logits();
        double[] expected = new double[tokens.length - 1];
        for (int p = 0; p < expected.length; p++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int t = 0; t < 50; t++) {
                max = Math.max(max, logits[p * 50 + t]);
            }
            double sum = 0;
            for (int t = 0; t < 50; t++) {
                sum += Math.exp(logits[p * 50 + t] - max);
            }
            expected[p] = logits[p * 50 + tokens[p + 1]] - max - Math.log(sum);
            assertTrue(lp[p] < 0, "log-probability must be negative");
        }
        assertClose("log-probabilities", lp, expected, TOLERANCE);
        assertEquals(0, new LongNetModel(config, weights).nextTokenLogProbs(new int[] {3}, kernel).length);
    }

    @Test
    void tokensOutsideTheVocabularyAreRejected() {
        LongNetModel model = LongNetModel.initialize(tiny("8:1"), 1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> model.forward(new int[] {1, 2, 50}, kernel, false));
        assertEquals("token 50 at position 2 is outside the vocabulary [0, 50)", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> model.forward(new int[] {-1}, kernel, false));
        assertThrows(IllegalArgumentException.class, () -> model.forward(new int[0], kernel, false));
    }

    @Test
    void seededInitialisationIsDeterministicAndDiffersAcrossSeeds() {
        LongNetConfig config = tiny("8:1,16:2");
        ModelWeights a = LongNetModel.initialize(config, 42).weights();
        ModelWeights b = LongNetModel.initialize(config, 42).weights();
        ModelWeights c = LongNetModel.initialize(config, 43).weights();
        assertTrue(a.sameAs(b), "same seed, same weights");
        for (String name : a.names()) {
            boolean random = a.shape(name).length == 2;
            if (random) {
                assertFalse(java.util.Arrays.equals(a.data(name), c.data(name)), name + " should differ across seeds");
            } else {
                assertArrayEquals(a.data(name), c.data(name), name + " is constant (bias 0, LayerNorm 1/0)");
            }
        }
        // The scheme: embeddings N(0, d^-1/2); q,k: Xavier gain 1/sqrt(2); v, out, fc1, fc2 scaled by sqrt(ln 2L).
        float[] embed = a.data(TensorNames.EMBED_TOKENS);
        double sq = 0;
        for (float v : embed) {
            sq += v * v;
        }
        double std = Math.sqrt(sq / embed.length);
        assertEquals(0.25, std, 0.025, "embedding std d_model^-0.5");
        double xavierQ = Math.sqrt(6.0 / 32) / Math.sqrt(2);
        double magneto = Math.sqrt(Math.log(4));
        assertBound(a.data("layers.0.self_attn.q_proj.weight"), xavierQ);
        assertBound(a.data("layers.1.self_attn.v_proj.weight"), xavierQ * magneto);
        assertBound(a.data("layers.1.self_attn.out_proj.weight"), Math.sqrt(6.0 / 32) * magneto);
        assertBound(a.data("layers.0.ffn.fc1.weight"), Math.sqrt(6.0 / 48) * magneto);
        assertEquals(1f, a.data("layers.0.ffn.ffn_layernorm.weight")[5]);
        // A tensor's values depend on the seed and its name only: adding layers leaves layer 0 alone.
        ModelWeights deeper = LongNetModel.initialize(LongNetConfig.of(50, 16, 2, 3, 32, "8:1,16:2").withSubLn(false), 42)
                .weights();
        assertArrayEquals(a.data("layers.0.self_attn.q_proj.weight"), deeper.data("layers.0.self_attn.q_proj.weight"));
        assertArrayEquals(a.data(TensorNames.EMBED_TOKENS), deeper.data(TensorNames.EMBED_TOKENS));
    }

    /** Uniform(-a, a) values: all inside, and some near the edge (so the bound is the right one). */
    private static void assertBound(float[] values, double a) {
        double max = 0;
        for (float v : values) {
            max = Math.max(max, Math.abs(v));
        }
        assertTrue(max <= a && max > 0.9 * a, "max |w| " + max + " for bound " + a);
    }

    @Test
    void saveAndLoadRoundTripExactly(@TempDir Path dir) throws IOException {
        LongNetConfig config = tiny("8:1,16:2,32:4");
        LongNetModel model = new LongNetModel(config, TestWeights.random(config, 51));
        model.save(dir);
        LongNetModel loaded = LongNetModel.load(dir);
        assertEquals(config, loaded.config());
        assertTrue(model.weights().sameAs(loaded.weights()));
        assertEquals(List.copyOf(model.weights().names()), List.copyOf(loaded.weights().names()));
        int[] tokens = TestWeights.tokens(40, 50, 52);
        assertArrayEquals(model.logits(tokens, kernel), loaded.logits(tokens, kernel));
    }
}
