package io.longnet.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.longnet.attention.Branch;
import io.longnet.attention.CpuAttentionKernel;
import io.longnet.attention.HeadOffset;
import io.longnet.attention.TrainingAttention;
import io.longnet.training.ParameterLayout;
import io.longnet.training.TrainableModel;
import io.longnet.training.TrainingAttentions;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A torchscale checkpoint imported here computes what torchscale computed (the golden fixture of
 * {@link TorchscaleFixture}): float32 logits and hidden states within 1e-4, the float64 path within 5e-5 of
 * torchscale's float64 logits (torchscale's own float32 GELU and xPos tables bound it, docs/MODEL.md).
 */
class TorchscaleImportTest {

    @TempDir
    static Path dir;
    private static TorchscaleFixture fixture;
    private static TorchscaleImport.Result imported;

    @BeforeAll
    static void importFixture() throws IOException {
        fixture = TorchscaleFixture.copyTo(dir.resolve("fixture"));
        imported = TorchscaleImport.read(fixture.file(TorchscaleFixture.SAFETENSORS),
                fixture.file(TorchscaleFixture.ARGS));
    }

    @Test
    void configIsTorchscalesDecoder() {
        LongNetConfig c = imported.config();
        assertEquals(new LongNetConfig(258, 64, 4, 2, 128, Branch.parseList("128:1,256:2,512:4"), true, true, 512, 1e-5,
                HeadOffset.CONTIGUOUS_GROUPS), c);
        assertTrue(c.xpos());
        assertEquals(List.of("output_projection.weight", "layers.0.self_attn.xpos.scale",
                "layers.1.self_attn.xpos.scale"), imported.dropped());
        assertEquals(List.copyOf(c.tensorShapes().keySet()), List.copyOf(imported.weights().names()));
    }

    /** The torch.save checkpoint (fairseq layout, config in cfg.model) gives the same model, tensor for tensor. */
    @Test
    void torchSaveCheckpointGivesTheSameModel() throws IOException {
        TorchscaleImport.Result pt = TorchscaleImport.read(fixture.file(TorchscaleFixture.CHECKPOINT), null);
        assertEquals(imported.config(), pt.config());
        assertTrue(imported.weights().sameAs(pt.weights()));
        assertEquals(imported.dropped(), pt.dropped());
    }

    @Test
    void float32LogitsAndHiddenStatesEqualTorchscale() {
        try (CpuAttentionKernel kernel = new CpuAttentionKernel(2)) {
            LongNetModel model = new LongNetModel(imported.config(), imported.weights());
            LongNetModel.Output out = model.forward(fixture.tokens(), kernel, true);
            for (int l = 0; l <= 2; l++) {
                double err = TorchscaleFixture.maxAbsDifference(out.hiddenStates().get(l),
                        fixture.float32("inner_states_" + l));
                assertTrue(err <= 1e-4, "inner_states_" + l + ": max |difference| " + err);
            }
            double err = TorchscaleFixture.maxAbsDifference(model.logits(out), fixture.float32("logits"));
            assertTrue(err <= 1e-4, "logits: max |difference| " + err);
        }
    }

    /**
     * The paper's head offsets ({@code h mod r}) in place of torchscale's contiguous groups give other logits:
     * the comparison above would catch a wrong layout.
     */
    @Test
    void paperHeadOffsetsWouldDiffer() {
        try (CpuAttentionKernel kernel = new CpuAttentionKernel(2)) {
            LongNetModel paper = new LongNetModel(LongNetConfig.of(258, 64, 4, 2, 128, "128:1,256:2,512:4"),
                    imported.weights());
            assertEquals(HeadOffset.PAPER, paper.config().headOffset());
            double err = TorchscaleFixture.maxAbsDifference(paper.logits(fixture.tokens(), kernel),
                    fixture.float32("logits"));
            assertTrue(err > 0.1, "paper offsets: max |difference| " + err);
        }
    }

    /**
     * The float64 training model's logits against torchscale's: its layers, then the final LayerNorm and tied head
     * in float64 (the trainer folds those into its loss, checked too).
     */
    @Test
    void float64PathEqualsTorchscaleFloat64() {
        LongNetConfig c = imported.config();
        TrainableModel model = new TrainableModel(c, ParameterLayout.of(c).flatten(imported.weights()));
        TrainingAttention attention = TrainingAttentions.of(c);
        int[] tokens = fixture.tokens();
        int n = tokens.length;
        double[] x = model.embed(tokens);
        for (int l = 0; l < c.layers(); l++) {
            TrainableModel.AttentionInputs in = model.attentionInputs(l, x, n, 0, n);
            double[] o = new double[n * c.dModel()];
            attention.forward(in.q(), in.k(), in.v(), n, o, new double[n * c.heads()]);
            x = model.feedForward(l, model.attentionOutput(l, x, o, n).y(), n).y();
        }
        double[] expected = fixture.float64Logits();
        double[] logits = new ReferenceDecoder(c, imported.weights()).logits(x, n); // final LayerNorm, tied head
        double max = 0;
        for (int i = 0; i < logits.length; i++) {
            max = Math.max(max, Math.abs(logits[i] - expected[i]));
        }
        assertTrue(max <= 5e-5, "float64 logits: max |difference| " + max);
        // And the trainer's loss is the NLL of those logits.
        double nll = 0;
        int vocab = c.vocabSize();
        for (int p = 0; p < n - 1; p++) {
            double m = Double.NEGATIVE_INFINITY;
            for (int t = 0; t < vocab; t++) {
                m = Math.max(m, expected[p * vocab + t]);
            }
            double s = 0;
            for (int t = 0; t < vocab; t++) {
                s += Math.exp(expected[p * vocab + t] - m);
            }
            nll += m + Math.log(s) - expected[p * vocab + tokens[p + 1]];
        }
        assertEquals(nll, model.loss(tokens, attention), 5e-5 * n);
    }

    // ---- refusals ---------------------------------------------------------------------------------------

    private static Map<String, ModelWeights.Tensor> stateDict() {
        Map<String, ModelWeights.Tensor> sd = new LinkedHashMap<>();
        for (String name : imported.weights().names()) {
            sd.put(name, imported.weights().tensor(name));
        }
        return sd;
    }

    private static Map<String, Object> args() {
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("vocab_size", 258);
        a.put("decoder_embed_dim", 64);
        a.put("decoder_attention_heads", 4);
        a.put("decoder_layers", 2);
        a.put("decoder_ffn_embed_dim", 128);
        a.put("segment_length", "[128,256,512]");
        a.put("dilated_ratio", List.of(1, 2, 4));
        a.put("xpos_rel_pos", true);
        return a;
    }

    @Test
    void unsupportedSettingsAreRefusedByName() {
        Object[][] cases = {{"deepnorm", true}, {"moe_freq", 2}, {"multiway", true}, {"rel_pos_buckets", 32},
            {"layernorm_embedding", true}, {"no_scale_embedding", false}, {"decoder_normalize_before", false},
            {"activation_fn", "relu"}, {"no_output_layer", true}};
        for (Object[] c : cases) {
            Map<String, Object> a = args();
            a.put((String) c[0], c[1]);
            ModelFormatException e = assertThrows(ModelFormatException.class,
                    () -> TorchscaleImport.config(a, "torchscale config t.json", -1));
            assertTrue(e.getMessage().startsWith("torchscale config t.json: unsupported setting " + c[0] + " = "),
                    e.getMessage());
        }
    }

    @Test
    void argsWithoutVocabTakeItFromTheEmbedding() {
        Map<String, Object> a = args();
        a.remove("vocab_size");
        assertEquals(258, TorchscaleImport.config(a, "s", 258).vocabSize());
        a.remove("xpos_rel_pos");
        assertFalse(TorchscaleImport.config(a, "s", 258).xpos(), "DecoderConfig's default is no xPos");
    }

    @Test
    void untiedHeadIsRefused() {
        Map<String, ModelWeights.Tensor> sd = stateDict();
        float[] head = imported.weights().data(TensorNames.EMBED_TOKENS).clone();
        head[70] += 0.5f;
        sd.put(TorchscaleImport.OUTPUT_PROJECTION, new ModelWeights.Tensor(new int[] {258, 64}, head));
        ModelFormatException e = assertThrows(ModelFormatException.class,
                () -> TorchscaleImport.weights(sd, imported.config(), "checkpoint c"));
        assertTrue(e.getMessage().startsWith("checkpoint c: tensor 'output_projection.weight' differs at element 70"),
                e.getMessage());
    }

    @Test
    void wrongXposBufferIsRefused() {
        Map<String, ModelWeights.Tensor> sd = stateDict();
        sd.put("layers.1.self_attn.xpos.scale", new ModelWeights.Tensor(new int[] {8}, new float[8]));
        ModelFormatException e = assertThrows(ModelFormatException.class,
                () -> TorchscaleImport.weights(sd, imported.config(), "checkpoint c"));
        assertTrue(e.getMessage().contains("'layers.1.self_attn.xpos.scale' differs at element 0"), e.getMessage());
        ModelFormatException off = assertThrows(ModelFormatException.class,
                () -> TorchscaleImport.weights(sd, imported.config().withXpos(false), "checkpoint c"));
        assertTrue(off.getMessage().contains("xpos_rel_pos false"), off.getMessage());
    }

    @Test
    void missingAndMisshapenTensorsAreNamed() {
        Map<String, ModelWeights.Tensor> sd = stateDict();
        sd.remove("layers.1.ffn.fc2.bias");
        ModelFormatException e = assertThrows(ModelFormatException.class,
                () -> TorchscaleImport.weights(sd, imported.config(), "checkpoint c"));
        assertEquals("checkpoint c: missing tensor 'layers.1.ffn.fc2.bias'", e.getMessage());
        Map<String, ModelWeights.Tensor> shaped = stateDict();
        shaped.put("layer_norm.bias", new ModelWeights.Tensor(new int[] {32}, new float[32]));
        assertEquals("checkpoint c: tensor 'layer_norm.bias' has shape [32], expected [64]", assertThrows(
                ModelFormatException.class, () -> TorchscaleImport.weights(shaped, imported.config(), "checkpoint c"))
                .getMessage());
    }

    /** Without xPos the tables are the identity, bit for bit, and the config says so in its JSON. */
    @Test
    void modelWithoutXposIsRepresentable() {
        LongNetConfig off = imported.config().withXpos(false);
        assertTrue(off.toJson().contains("\"xpos\": false"), off.toJson());
        assertFalse(imported.config().toJson().contains("\"xpos\""), "the default is not written");
        assertEquals(off, LongNetConfig.fromJson(off.toJson(), "t"));
        float[] q = TestWeights.random(off, 3).data(TensorNames.EMBED_TOKENS).clone();
        float[] before = q.clone();
        Xpos.of(off).table(0, 258, 258).apply(q, 4, false); // [258][64] as 258 rows of 4 heads of 16
        assertArrayEquals(before, q);
        Xpos.of(imported.config()).table(0, 258, 258).apply(q, 4, false);
        assertFalse(java.util.Arrays.equals(before, q));
    }
}
