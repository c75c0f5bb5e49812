package io.longnet.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.longnet.attention.AttentionShape;
import io.longnet.attention.Branch;
import io.longnet.attention.DilatedAttentionConfig;
import io.longnet.attention.HeadOffset;
import io.longnet.attention.StridedSparseAttention;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LongNetConfigTest {

    @Test
    void jsonRoundTripIsExact(@TempDir Path dir) throws IOException {
        LongNetConfig c = new LongNetConfig(32000, 768, 12, 12, 3072, Branch.parseList("2048:1,4096:2,16384:6"),
                false, false, 1024, 1.25e-6, HeadOffset.CONTIGUOUS_GROUPS);
        assertEquals(c, LongNetConfig.fromJson(c.toJson(), "test"));
        Path file = dir.resolve("config.json");
        c.write(file);
        assertEquals(c, LongNetConfig.read(file));
    }

    @Test
    void writesEveryKeyInOrder() {
        assertEquals("{\n"
                + "  \"vocab_size\": 50,\n"
                + "  \"d_model\": 16,\n"
                + "  \"heads\": 2,\n"
                + "  \"layers\": 2,\n"
                + "  \"ffn_dim\": 32,\n"
                + "  \"branches\": \"8:1,16:2\",\n"
                + "  \"causal\": true,\n"
                + "  \"sub_ln\": true,\n"
                + "  \"xpos_scale_base\": 512,\n"
                + "  \"layer_norm_eps\": 1.0E-5,\n"
                + "  \"head_offset\": \"paper\"\n"
                + "}\n", LongNetConfig.of(50, 16, 2, 2, 32, "8:1,16:2").toJson());
    }

    @Test
    void optionalKeysTakeTheirDefaults() {
        LongNetConfig c = LongNetConfig.fromJson("{\"vocab_size\": 50, \"d_model\": 16, \"heads\": 2, \"layers\": 2,"
                + " \"ffn_dim\": 32, \"branches\": \"8:1, 16:2\"}", "test");
        assertEquals(LongNetConfig.of(50, 16, 2, 2, 32, "8:1,16:2"), c);
        assertEquals(true, c.causal());
        assertEquals(true, c.subLn());
        assertEquals(512, c.xposScaleBase());
        assertEquals(1e-5, c.layerNormEps());
        assertEquals(HeadOffset.PAPER, c.headOffset());
        // Integers are numbers too.
        assertEquals(1.0, LongNetConfig.fromJson(c.toJson().replace("1.0E-5", "1"), "t").layerNormEps());
    }

    @Test
    void attentionConfigAndTensorShapes() {
        LongNetConfig c = LongNetConfig.of(50, 16, 2, 2, 32, "8:1,16:2");
        assertEquals(new DilatedAttentionConfig(List.of(new Branch(8, 1), new Branch(16, 2)), 2, 8, true,
                HeadOffset.PAPER), c.attentionConfig());
        Map<String, int[]> shapes = c.tensorShapes();
        assertEquals(3 + 2 * 20, shapes.size());
        assertEquals(List.of(32, 16), List.of(shapes.get("layers.1.ffn.fc1.weight")[0], shapes.get("layers.1.ffn.fc1.weight")[1]));
        assertEquals(32, shapes.get("layers.0.ffn.ffn_layernorm.bias")[0]);
        assertEquals(3 + 2 * 16, c.withSubLn(false).tensorShapes().size());
        // The paper's base model: 12 layers, d 768, 12 heads, FFN 3072, vocab 32k (sub-LN included).
        LongNetConfig base = LongNetConfig.of(32000, 768, 12, 12, 3072, "2048:1");
        assertEquals(32000L * 768 + 12L * (4 * 768 * 768 + 2 * 768 * 3072 + 3072 + 768 + 4 * 768 + 3 * 2 * 768
                + 2 * 3072) + 2 * 768, base.parameterCount());
    }

    @Test
    void validationMessages() {
        assertEquals("head width d_model/heads = 30/2 = 15 is odd: xPos rotates pairs of dimensions, so it must be even",
                assertThrows(IllegalArgumentException.class, () -> LongNetConfig.of(50, 30, 2, 2, 32, "8:1"))
                        .getMessage());
        assertEquals("d_model 100 is not divisible by heads 12: the head width d_model/heads must be a whole number "
                + "(e.g. heads 10)",
                assertThrows(IllegalArgumentException.class, () -> LongNetConfig.of(50, 100, 12, 2, 32, "8:1"))
                        .getMessage());
        assertEquals("vocab_size must be >= 1 (got 0)",
                assertThrows(IllegalArgumentException.class, () -> LongNetConfig.of(0, 16, 2, 2, 32, "8:1")).getMessage());
        assertEquals("no branch has dilation 1, so some positions would have no output: add one, e.g. 8:1",
                assertThrows(IllegalArgumentException.class, () -> LongNetConfig.of(50, 16, 2, 2, 32, "8:2"))
                        .getMessage());
        assertEquals("layer_norm_eps must be a positive finite number (got 0.0; the default is 1e-5)",
                assertThrows(IllegalArgumentException.class, () -> new LongNetConfig(50, 16, 2, 2, 32,
                        Branch.parseList("8:1"), true, true, 512, 0.0, HeadOffset.PAPER)).getMessage());
        assertEquals("model config c.json: 'head_offset' = \"groups\" is not one of paper, contiguous_groups",
                assertThrows(ModelFormatException.class, () -> LongNetConfig.fromJson(
                        LongNetConfig.of(50, 16, 2, 2, 32, "8:1").toJson().replace("\"paper\"", "\"groups\""),
                        "model config c.json")).getMessage());
    }

    // ---- the strided baseline ("attention": "strided") ---------------------------------------------

    @Test
    void stridedJsonRoundTripIsExact(@TempDir Path dir) throws IOException {
        LongNetConfig c = new LongNetConfig(32000, 768, 12, 12, 3072, List.of(), false, false, 1024, 1.25e-6,
                HeadOffset.PAPER, AttentionPattern.STRIDED, 181);
        assertEquals(AttentionPattern.STRIDED, c.attentionPattern());
        assertEquals(181, c.stride());
        assertEquals(List.of(), c.branches());
        assertEquals(c, LongNetConfig.fromJson(c.toJson(), "test"));
        Path file = dir.resolve("config.json");
        c.write(file);
        assertEquals(c, LongNetConfig.read(file));
        LongNetConfig s = LongNetConfig.strided(50, 16, 2, 2, 32, 8);
        assertEquals(s, LongNetConfig.fromJson(s.toJson(), "test"));
        assertEquals(s, s.withCausal(false).withSubLn(false).withCausal(true).withSubLn(true));
    }

    @Test
    void writesStridedKeysInOrder() {
        assertEquals("{\n"
                + "  \"vocab_size\": 50,\n"
                + "  \"d_model\": 16,\n"
                + "  \"heads\": 2,\n"
                + "  \"layers\": 2,\n"
                + "  \"ffn_dim\": 32,\n"
                + "  \"attention\": \"strided\",\n"
                + "  \"stride\": 8,\n"
                + "  \"causal\": true,\n"
                + "  \"sub_ln\": true,\n"
                + "  \"xpos_scale_base\": 512,\n"
                + "  \"layer_norm_eps\": 1.0E-5\n"
                + "}\n", LongNetConfig.strided(50, 16, 2, 2, 32, 8).toJson());
    }

    @Test
    void dilatedIsTheDefaultPattern() {
        LongNetConfig c = LongNetConfig.of(50, 16, 2, 2, 32, "8:1,16:2");
        assertEquals(AttentionPattern.DILATED, c.attentionPattern());
        assertEquals(0, c.stride());
        assertEquals(c, LongNetConfig.fromJson(c.toJson().replace("{\n", "{\n  \"attention\": \"dilated\",\n"), "t"));
        assertEquals(c, new LongNetConfig(50, 16, 2, 2, 32, Branch.parseList("8:1,16:2"), true, true, 512, 1e-5,
                HeadOffset.PAPER, AttentionPattern.DILATED, 0));
    }

    @Test
    void switchingPatternsKeepsTheRest() {
        LongNetConfig dilated = LongNetConfig.of(50, 16, 2, 2, 32, "8:1,16:2").withCausal(false).withSubLn(false);
        LongNetConfig strided = dilated.withStride(4);
        assertEquals(new LongNetConfig(50, 16, 2, 2, 32, List.of(), false, false, 512, 1e-5, HeadOffset.PAPER,
                AttentionPattern.STRIDED, 4), strided);
        assertEquals(dilated, strided.withBranches("8:1,16:2"));
        // Same model otherwise: the same tensors.
        assertEquals(dilated.tensorShapes().keySet(), strided.tensorShapes().keySet());
    }

    @Test
    void eachPatternGivesItsOwnAttention() {
        StridedSparseAttention a = LongNetConfig.strided(50, 16, 2, 2, 32, 8).withCausal(false).stridedAttention();
        assertEquals(new AttentionShape(2, 8, false), a.shape());
        assertEquals(8, a.stride());
        assertEquals("this config uses the strided sparse baseline (attention: strided), which has no dilated"
                        + " branches: use stridedAttention()",
                assertThrows(IllegalStateException.class,
                        () -> LongNetConfig.strided(50, 16, 2, 2, 32, 8).attentionConfig()).getMessage());
        assertEquals("this config uses dilated attention (branches 8:1), not the strided baseline: use"
                        + " attentionConfig()",
                assertThrows(IllegalStateException.class,
                        () -> LongNetConfig.of(50, 16, 2, 2, 32, "8:1").stridedAttention()).getMessage());
    }

    @Test
    void branchesAsJsonPairsEqualTheStringForm() {
        String base = "{\"vocab_size\": 50, \"d_model\": 16, \"heads\": 2, \"layers\": 2, \"ffn_dim\": 32, ";
        LongNetConfig pairs = LongNetConfig.fromJson(base + "\"branches\": [[8, 1], [16, 2], [32, 4]]}", "c.json");
        LongNetConfig string = LongNetConfig.fromJson(base + "\"branches\": \"8:1,16:2,32:4\"}", "c.json");
        assertEquals(string, pairs);
        assertEquals(LongNetConfig.of(50, 16, 2, 2, 32, "8:1,16:2,32:4"), pairs);
        assertEquals(pairs, LongNetConfig.fromJson(pairs.toJson(), "round trip"), "written in the string form");
    }

    @Test
    void malformedBranchPairsEndInOneLine() {
        String base = "{\"vocab_size\": 50, \"d_model\": 16, \"heads\": 2, \"layers\": 2, \"ffn_dim\": 32, "
                + "\"branches\": ";
        String pairs = "expected a [w, r] pair of whole numbers, e.g. [[2048, 1], [4096, 2]]";
        assertEquals("c.json: 'branches' is empty: give at least one [w, r] pair, one with r = 1, e.g. [[2048, 1],"
                + " [4096, 2]]", parseError(base + "[]}"));
        assertEquals("c.json: 'branches' entry 2 is [16]: " + pairs, parseError(base + "[[8, 1], [16]]}"));
        assertEquals("c.json: 'branches' entry 1 is [8,1,2]: " + pairs, parseError(base + "[[8, 1, 2]]}"));
        assertEquals("c.json: 'branches' entry 1 is 8: " + pairs, parseError(base + "[8, 1]}"));
        assertEquals("c.json: 'branches' entry 1 is [8,1.5]: " + pairs, parseError(base + "[[8, 1.5]]}"));
        assertEquals("c.json: 'branches' entry 1 is [\"8\",1]: " + pairs, parseError(base + "[[\"8\", 1]]}"));
        assertEquals("c.json: 'branches' entry 1 is [99999999999,1]: 99999999999 is too large (at most 2147483647)",
                parseError(base + "[[99999999999, 1]]}"));
        assertEquals("c.json: 'branches' must be a string such as \"2048:1,4096:2\", or an array of [w, r] pairs"
                + " such as [[2048, 1], [4096, 2]], found an object", parseError(base + "{\"8\": 1}}"));
        // The engine's own rules apply to either form, with its messages.
        assertEquals(parseError(base + "\"8:2\"}"), parseError(base + "[[8, 2]]}"));
        for (String json : List.of("[]}", "[[8, 1], [16]]}", "[[99999999999, 1]]}", "[[8, 2]]}", "{\"8\": 1}}")) {
            assertEquals(1, parseError(base + json).lines().count(), json);
        }
    }

    @Test
    void stridedValidationMessages() {
        String base = "{\"vocab_size\": 50, \"d_model\": 16, \"heads\": 2, \"layers\": 2, \"ffn_dim\": 32, ";
        assertEquals("c.json: missing key 'stride': \"attention\": \"strided\" needs the stride l (local window"
                + " length and distance between strided keys)", parseError(base + "\"attention\": \"strided\"}"));
        assertEquals("c.json: stride must be >= 1 for \"attention\": \"strided\" (got 0): the local window length"
                + " and the distance between strided keys, e.g. about sqrt(N)",
                parseError(base + "\"attention\": \"strided\", \"stride\": 0}"));
        assertEquals("c.json: 'stride' must be a whole number, found a string",
                parseError(base + "\"attention\": \"strided\", \"stride\": \"8\"}"));
        assertEquals("c.json: 'branches' applies to dilated attention only; \"attention\": \"strided\" takes"
                + " 'stride' in its place: remove 'branches'",
                parseError(base + "\"attention\": \"strided\", \"stride\": 8, \"branches\": \"8:1\"}"));
        assertEquals("c.json: 'head_offset' applies to dilated attention only; \"attention\": \"strided\" takes"
                + " 'stride' in its place: remove 'head_offset'",
                parseError(base + "\"attention\": \"strided\", \"stride\": 8, \"head_offset\": \"paper\"}"));
        assertEquals("c.json: 'stride' applies to \"attention\": \"strided\" only; dilated attention (the default)"
                + " takes 'branches'", parseError(base + "\"branches\": \"8:1\", \"stride\": 8}"));
        assertEquals("c.json: 'attention' = \"sparse\" is not one of dilated, strided",
                parseError(base + "\"attention\": \"sparse\", \"stride\": 8}"));
        assertEquals("c.json: missing key 'branches'", parseError(base + "\"attention\": \"dilated\"}"));

        // The record itself, for callers that build configs in code.
        assertEquals("branches apply to dilated attention only; a strided config (\"attention\": \"strided\") takes"
                + " \"stride\" and no \"branches\"",
                assertThrows(IllegalArgumentException.class, () -> new LongNetConfig(50, 16, 2, 2, 32,
                        Branch.parseList("8:1"), true, true, 512, 1e-5, HeadOffset.PAPER, AttentionPattern.STRIDED, 8))
                        .getMessage());
        assertEquals("head_offset places heads in dilated branches; a strided config (\"attention\": \"strided\") has"
                + " none, so leave head_offset out",
                assertThrows(IllegalArgumentException.class, () -> new LongNetConfig(50, 16, 2, 2, 32, List.of(),
                        true, true, 512, 1e-5, HeadOffset.CONTIGUOUS_GROUPS, AttentionPattern.STRIDED, 8)).getMessage());
        assertEquals("stride 8 applies to \"attention\": \"strided\" only; a dilated config takes \"branches\" and no"
                + " \"stride\"",
                assertThrows(IllegalArgumentException.class, () -> new LongNetConfig(50, 16, 2, 2, 32,
                        Branch.parseList("8:1"), true, true, 512, 1e-5, HeadOffset.PAPER, AttentionPattern.DILATED, 8))
                        .getMessage());
        assertEquals("attention pattern must be given (dilated, the default, or strided)",
                assertThrows(IllegalArgumentException.class, () -> new LongNetConfig(50, 16, 2, 2, 32,
                        Branch.parseList("8:1"), true, true, 512, 1e-5, HeadOffset.PAPER, null, 0)).getMessage());
        // The shape checks still come first and read the same.
        assertEquals("vocab_size must be >= 1 (got 0)",
                assertThrows(IllegalArgumentException.class, () -> LongNetConfig.strided(0, 16, 2, 2, 32, 8))
                        .getMessage());
    }

    private static String parseError(String json) {
        return assertThrows(ModelFormatException.class, () -> LongNetConfig.fromJson(json, "c.json")).getMessage();
    }
}
