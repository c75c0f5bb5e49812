package io.longnet.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each way a model directory can be wrong gives its own message, naming the file and what to fix. */
class ModelLoadErrorsTest {

    @TempDir
    Path dir;

    private static final LongNetConfig CONFIG = LongNetConfig.of(50, 16, 2, 2, 32, "8:1,16:2");

    private ModelFormatException load(LongNetConfig config, ModelWeights weights) throws IOException {
        config.write(dir.resolve(LongNetModel.CONFIG_FILE));
        weights.save(dir.resolve(LongNetModel.WEIGHTS_FILE));
        return assertThrows(ModelFormatException.class, () -> LongNetModel.load(dir));
    }

    private String weightsFile() {
        return "model weights " + dir.resolve(LongNetModel.WEIGHTS_FILE) + ": ";
    }

    /** Weights of CONFIG without {@code drop}, in the same order. */
    private static ModelWeights without(String drop) {
        ModelWeights all = TestWeights.random(CONFIG, 3);
        ModelWeights w = new ModelWeights();
        for (String name : all.names()) {
            if (!name.equals(drop)) {
                w.put(name, all.shape(name), all.data(name));
            }
        }
        return w;
    }

    @Test
    void missingTensor() throws IOException {
        ModelFormatException e = load(CONFIG, without("layer_norm.bias"));
        assertEquals(weightsFile() + "missing tensor 'layer_norm.bias'", e.getMessage());
    }

    @Test
    void wrongShape() throws IOException {
        ModelWeights w = TestWeights.random(CONFIG, 4);
        w.put("layers.1.self_attn.q_proj.weight", new int[] {16, 8}, new float[128]);
        assertEquals(weightsFile() + "tensor 'layers.1.self_attn.q_proj.weight' has shape [16, 8], expected [16, 16]",
                load(CONFIG, w).getMessage());
    }

    @Test
    void unexpectedTensor() throws IOException {
        ModelWeights w = TestWeights.random(CONFIG, 5);
        w.put("foo", new int[] {3}, new float[] {1, 2, 3});
        assertEquals(weightsFile() + "unexpected tensor 'foo'", load(CONFIG, w).getMessage());
    }

    @Test
    void severalProblemsAreCountedAndListed() throws IOException {
        ModelWeights w = without("layers.0.ffn.fc1.bias");
        w.put("bar", new int[] {1}, new float[] {1});
        assertEquals(weightsFile() + "2 problems: missing tensor 'layers.0.ffn.fc1.bias'; unexpected tensor 'bar'",
                load(CONFIG, w).getMessage());
    }

    @Test
    void subLnMismatchGetsAHint() throws IOException {
        ModelWeights withSubLn = TestWeights.random(CONFIG, 6);
        String msg = load(CONFIG.withSubLn(false), withSubLn).getMessage();
        assertTrue(msg.startsWith(weightsFile() + "8 problems: unexpected tensor 'layers.0.self_attn.inner_attn_ln.weight'; "),
                msg);
        assertTrue(msg.endsWith("(these weights fit \"sub_ln\": true; the config says false)"), msg);
    }

    private ModelFormatException badConfig(String json) throws IOException {
        Files.writeString(dir.resolve(LongNetModel.CONFIG_FILE), json);
        TestWeights.random(CONFIG, 7).save(dir.resolve(LongNetModel.WEIGHTS_FILE));
        return assertThrows(ModelFormatException.class, () -> LongNetModel.load(dir));
    }

    private String configFile() {
        return "model config " + dir.resolve(LongNetModel.CONFIG_FILE) + ": ";
    }

    @Test
    void badConfigJson() throws IOException {
        assertEquals(configFile() + "not valid JSON: Unexpected character (',' (code 44)): was expecting double-quote"
                + " to start field name at character 18 (line 1, column 19)", badConfig("{\"vocab_size\": 50,,}").getMessage());
        assertEquals(configFile() + "not valid JSON: Unexpected end-of-input: expected close marker for Object (start"
                + " marker at line 1, column 1) at character 18 (line 2, column 1)",
                badConfig("{\"vocab_size\": 50\n").getMessage());
        assertEquals(configFile() + "expected a JSON object, found an array", badConfig("[1, 2]").getMessage());
    }

    @Test
    void configWithMissingUnknownOrMistypedKeys() throws IOException {
        String good = CONFIG.toJson();
        assertEquals(configFile() + "missing key 'ffn_dim'",
                badConfig(good.replace("  \"ffn_dim\": 32,\n", "")).getMessage());
        assertEquals(configFile() + "unknown key 'dmodel' (known keys: vocab_size, d_model, heads, layers, ffn_dim, "
                + "attention, branches, stride, causal, sub_ln, xpos, xpos_scale_base, layer_norm_eps, head_offset)",
                badConfig(good.replace("\"d_model\"", "\"dmodel\"")).getMessage());
        assertEquals(configFile() + "'heads' must be a whole number, found a string",
                badConfig(good.replace("\"heads\": 2", "\"heads\": \"2\"")).getMessage());
        assertEquals(configFile() + "'layers' must be a whole number, found 2.5",
                badConfig(good.replace("\"layers\": 2", "\"layers\": 2.5")).getMessage());
        assertEquals(configFile() + "'causal' must be true or false, found a string",
                badConfig(good.replace("\"causal\": true", "\"causal\": \"yes\"")).getMessage());
    }

    @Test
    void configDescribingAnImpossibleModel() throws IOException {
        String good = CONFIG.toJson();
        assertEquals(configFile() + "d_model 16 is not divisible by heads 3: the head width d_model/heads must be a "
                + "whole number (e.g. heads 2)", badConfig(good.replace("\"heads\": 2", "\"heads\": 3")).getMessage());
        assertEquals(configFile() + "branch 8:9: dilation 9 exceeds segment length 8 (need 1 <= r <= w)",
                badConfig(good.replace("8:1,16:2", "8:1,8:9")).getMessage());
        assertEquals(configFile() + "branch 'x': expected segment:dilation, e.g. 2048:1",
                badConfig(good.replace("8:1,16:2", "x")).getMessage());
    }

    @Test
    void stridedBaselineIsRefusedBeforeTheWeightsAreRead() throws IOException {
        // No weights file: the refusal comes from the config alone.
        LongNetConfig.strided(50, 16, 2, 2, 32, 4).write(dir.resolve(LongNetModel.CONFIG_FILE));
        assertEquals("model " + dir + " uses the strided sparse baseline (attention: strided), which only"
                + " `longnet train` evaluates; score and encode need a dilated model",
                assertThrows(IllegalArgumentException.class, () -> LongNetModel.load(dir)).getMessage());
        // The same model with dilated attention loads (its weights have the same tensors).
        LongNetConfig dilated = LongNetConfig.strided(50, 16, 2, 2, 32, 4).withBranches("4:1,8:2");
        TestWeights.random(dilated, 8).save(dir.resolve(LongNetModel.WEIGHTS_FILE));
        dilated.write(dir.resolve(LongNetModel.CONFIG_FILE));
        assertEquals(dilated, LongNetModel.load(dir).config());
    }

    @Test
    void stridedBaselineIsRefusedInMemory() {
        LongNetConfig strided = LongNetConfig.strided(50, 16, 2, 2, 32, 4);
        String expected = "model config uses the strided sparse baseline (attention: strided), which only"
                + " `longnet train` evaluates; score and encode need a dilated model";
        assertEquals(expected, assertThrows(IllegalArgumentException.class,
                () -> new LongNetModel(strided, TestWeights.random(strided, 9))).getMessage());
        assertEquals(expected, assertThrows(IllegalArgumentException.class,
                () -> LongNetModel.initialize(strided, 9)).getMessage());
    }
}
