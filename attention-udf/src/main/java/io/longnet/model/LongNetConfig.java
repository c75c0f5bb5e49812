package io.longnet.model;

import io.longnet.attention.Branch;
import io.longnet.attention.DilatedAttentionConfig;
import io.longnet.attention.HeadOffset;
import io.longnet.attention.StridedSparseAttention;
import io.longnet.tensors.StrictJson;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Predicate;

/**
 * The shape of a LongNet decoder (docs/ARCHITECTURE.md §6): vocabulary, width, heads, layers, feed-forward width,
 * the dilated-attention branches, and the switches MAGNETO and xPos need. All validation of a model
 * shape happens here, with messages a user can act on; the JSON form ({@code config.json} beside the
 * weights) is read and written by {@link #fromJson}/{@link #toJson}. See docs/MODEL.md.
 *
 * <p>One extra mode exists for the training comparison: {@link AttentionPattern#STRIDED}, the Sparse
 * Transformer's strided attention with stride {@code stride} in place of the dilated branches (then
 * {@code branches} is empty and {@code headOffset}, which only places heads in dilated branches, stays
 * {@link HeadOffset#PAPER}). Only the float64 training path runs it; {@link LongNetModel} refuses it.
 *
 * @param vocabSize      tokens in the vocabulary; the embedding and the tied LM head have this many rows
 * @param dModel         width of the hidden states
 * @param heads          attention heads; {@code dModel / heads} is the head width, even (xPos works on pairs)
 * @param layers         decoder layers
 * @param ffnDim         inner width of the feed-forward block
 * @param branches       dilated-attention branches {@code (w, r)}, at least one with {@code r = 1}
 * @param causal         causal (decoder) attention; default true
 * @param subLn          MAGNETO's sub-LayerNorms before {@code out_proj} and {@code fc2}; default true
 * @param xposScaleBase  xPos decay scale base; default 512
 * @param layerNormEps   epsilon of every LayerNorm; default 1e-5
 * @param headOffset     which rows each head takes in a dilated branch; default the paper's {@code h mod r}
 * @param attentionPattern dilated (default) or the strided baseline
 * @param stride         the strided pattern's {@code l} ({@code >= 1}); 0 for dilated attention
 * @param xpos           xPos on queries and keys (default true); false for a model trained without positions in
 *                       attention (torchscale's {@code xpos_rel_pos = False})
 */
public record LongNetConfig(int vocabSize, int dModel, int heads, int layers, int ffnDim,
                            List<Branch> branches, boolean causal, boolean subLn, int xposScaleBase,
                            double layerNormEps, HeadOffset headOffset, AttentionPattern attentionPattern,
                            int stride, boolean xpos) implements Serializable {

    public static final boolean DEFAULT_CAUSAL = true;
    public static final boolean DEFAULT_SUB_LN = true;
    public static final int DEFAULT_XPOS_SCALE_BASE = 512;
    public static final double DEFAULT_LAYER_NORM_EPS = 1e-5;
    public static final boolean DEFAULT_XPOS = true;

    /**
     * JSON keys, in the order {@link #toJson} writes them. A dilated config has no {@code attention} and
     * {@code stride}; a strided one no {@code branches} and {@code head_offset}.
     */
    static final List<String> KEYS = List.of(Json.class.getAnnotation(JsonPropertyOrder.class).value());

    public LongNetConfig {
        positive("vocab_size", vocabSize);
        positive("d_model", dModel);
        positive("heads", heads);
        positive("layers", layers);
        positive("ffn_dim", ffnDim);
        if (dModel % heads != 0) {
            throw new IllegalArgumentException("d_model " + dModel + " is not divisible by heads " + heads
                    + ": the head width d_model/heads must be a whole number (e.g. heads "
                    + nearestDivisor(dModel, heads) + ")");
        }
        int headDim = dModel / heads;
        if (headDim % 2 != 0) {
            throw new IllegalArgumentException("head width d_model/heads = " + dModel + "/" + heads + " = "
                    + headDim + " is odd: xPos rotates pairs of dimensions, so it must be even");
        }
        if (xposScaleBase < 1) {
            throw new IllegalArgumentException("xpos_scale_base must be >= 1 (got " + xposScaleBase
                    + "; torchscale's default is 512)");
        }
        if (!(layerNormEps > 0) || Double.isInfinite(layerNormEps)) {
            throw new IllegalArgumentException("layer_norm_eps must be a positive finite number (got "
                    + layerNormEps + "; the default is 1e-5)");
        }
        if (headOffset == null) {
            throw new IllegalArgumentException("head_offset must be given (default: paper)");
        }
        fitsArray("embed_tokens.weight", vocabSize, dModel);
        fitsArray("ffn.fc1.weight", ffnDim, dModel);
        if (attentionPattern == null) {
            throw new IllegalArgumentException("attention pattern must be given (dilated, the default, or strided)");
        }
        if (attentionPattern == AttentionPattern.STRIDED) {
            if (stride < 1) {
                throw new IllegalArgumentException("stride must be >= 1 for \"attention\": \"strided\" (got " + stride
                        + "): the local window length and the distance between strided keys, e.g. about sqrt(N)");
            }
            if (branches != null && !branches.isEmpty()) {
                throw new IllegalArgumentException("branches apply to dilated attention only; a strided config"
                        + " (\"attention\": \"strided\") takes \"stride\" and no \"branches\"");
            }
            if (headOffset != HeadOffset.PAPER) {
                throw new IllegalArgumentException("head_offset places heads in dilated branches; a strided config"
                        + " (\"attention\": \"strided\") has none, so leave head_offset out");
            }
            branches = List.of();
        } else {
            if (stride != 0) {
                throw new IllegalArgumentException("stride " + stride + " applies to \"attention\": \"strided\" only;"
                        + " a dilated config takes \"branches\" and no \"stride\"");
            }
            // The engine validates the branches (r <= w, no duplicates, one with r = 1) with its own messages.
            branches = List.copyOf(new DilatedAttentionConfig(branches, heads, headDim, causal, headOffset).branches());
        }
    }

    /** A config with xPos (the default), as every config was before the switch existed. */
    public LongNetConfig(int vocabSize, int dModel, int heads, int layers, int ffnDim, List<Branch> branches,
                         boolean causal, boolean subLn, int xposScaleBase, double layerNormEps, HeadOffset headOffset,
                         AttentionPattern attentionPattern, int stride) {
        this(vocabSize, dModel, heads, layers, ffnDim, branches, causal, subLn, xposScaleBase, layerNormEps,
                headOffset, attentionPattern, stride, DEFAULT_XPOS);
    }

    /** A dilated config (the model's own attention): {@code attentionPattern} dilated, {@code stride} 0. */
    public LongNetConfig(int vocabSize, int dModel, int heads, int layers, int ffnDim, List<Branch> branches,
                         boolean causal, boolean subLn, int xposScaleBase, double layerNormEps, HeadOffset headOffset) {
        this(vocabSize, dModel, heads, layers, ffnDim, branches, causal, subLn, xposScaleBase, layerNormEps,
                headOffset, AttentionPattern.DILATED, 0);
    }

    /** A config with the defaults for causal, sub-LN, xPos scale base, LayerNorm eps and head offsets. */
    public static LongNetConfig of(int vocabSize, int dModel, int heads, int layers, int ffnDim, String branches) {
        return new LongNetConfig(vocabSize, dModel, heads, layers, ffnDim, Branch.parseList(branches),
                DEFAULT_CAUSAL, DEFAULT_SUB_LN, DEFAULT_XPOS_SCALE_BASE, DEFAULT_LAYER_NORM_EPS, HeadOffset.PAPER);
    }

    /**
     * A config of the strided baseline with the defaults for causal, sub-LN, xPos scale base and LayerNorm
     * eps: the same model with the Sparse Transformer's strided attention of stride {@code stride}.
     */
    public static LongNetConfig strided(int vocabSize, int dModel, int heads, int layers, int ffnDim, int stride) {
        return new LongNetConfig(vocabSize, dModel, heads, layers, ffnDim, List.of(), DEFAULT_CAUSAL, DEFAULT_SUB_LN,
                DEFAULT_XPOS_SCALE_BASE, DEFAULT_LAYER_NORM_EPS, HeadOffset.PAPER, AttentionPattern.STRIDED, stride);
    }

    /**
     * The same config with other branches, e.g. {@code "2048:1,4096:2"}: a dilated config (a strided one
     * becomes dilated, with the default head offset).
     */
    public LongNetConfig withBranches(String list) {
        return new LongNetConfig(vocabSize, dModel, heads, layers, ffnDim, Branch.parseList(list), causal, subLn,
                xposScaleBase, layerNormEps, headOffset, AttentionPattern.DILATED, 0, xpos);
    }

    /** The same model with the strided baseline's attention of stride {@code stride} in place of the branches. */
    public LongNetConfig withStride(int stride) {
        return new LongNetConfig(vocabSize, dModel, heads, layers, ffnDim, List.of(), causal, subLn, xposScaleBase,
                layerNormEps, HeadOffset.PAPER, AttentionPattern.STRIDED, stride, xpos);
    }

    /** The same config with sub-LN switched on or off. */
    public LongNetConfig withSubLn(boolean on) {
        return new LongNetConfig(vocabSize, dModel, heads, layers, ffnDim, branches, causal, on, xposScaleBase,
                layerNormEps, headOffset, attentionPattern, stride, xpos);
    }

    /** The same config with causal attention switched on or off. */
    public LongNetConfig withCausal(boolean on) {
        return new LongNetConfig(vocabSize, dModel, heads, layers, ffnDim, branches, on, subLn, xposScaleBase,
                layerNormEps, headOffset, attentionPattern, stride, xpos);
    }

    /** The same config with xPos switched on or off. */
    public LongNetConfig withXpos(boolean on) {
        return new LongNetConfig(vocabSize, dModel, heads, layers, ffnDim, branches, causal, subLn, xposScaleBase,
                layerNormEps, headOffset, attentionPattern, stride, on);
    }

    /** Width of one head, {@code d_model / heads}. */
    public int headDim() {
        return dModel / heads;
    }

    /** The branches as the config JSON writes them, e.g. {@code "2048:1,4096:2"}; empty for a strided config. */
    public String branchesSpec() {
        StringBuilder sb = new StringBuilder();
        for (Branch b : branches) {
            if (sb.length() > 0) {
                sb.append(',');
            }
            sb.append(b);
        }
        return sb.toString();
    }

    /**
     * Checks a run of token ids for this model: at least one, each inside the vocabulary, and few enough
     * that one array holds {@code rowWidth} values per token. One check for the float32 model, its float64
     * twin and the device decoder, each passing the widest row it keeps on the heap.
     *
     * @throws IllegalArgumentException naming the problem (and the first bad token with its position)
     */
    public void checkTokens(int[] tokens, int rowWidth) {
        int n = tokens.length;
        if (n == 0) {
            throw new IllegalArgumentException("empty sequence: give at least one token");
        }
        if ((long) n * rowWidth > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("sequence of " + n + " tokens is too long for one array of "
                    + "activations; split it over partitions (the Spark plan does)");
        }
        for (int p = 0; p < n; p++) {
            if (tokens[p] < 0 || tokens[p] >= vocabSize) {
                throw new IllegalArgumentException("token " + tokens[p] + " at position " + p
                        + " is outside the vocabulary [0, " + vocabSize + ")");
            }
        }
    }

    /**
     * The attention engine's config for one layer: these branches, {@code heads} heads of {@link #headDim}.
     *
     * @throws IllegalStateException for a strided config, which has no branches (see {@link #stridedAttention})
     */
    public DilatedAttentionConfig attentionConfig() {
        if (attentionPattern != AttentionPattern.DILATED) {
            throw new IllegalStateException("this config uses the strided sparse baseline (attention: strided),"
                    + " which has no dilated branches: use stridedAttention()");
        }
        return new DilatedAttentionConfig(branches, heads, headDim(), causal, headOffset);
    }

    /**
     * The float64 attention of one layer of a strided config: {@code heads} heads of {@link #headDim}, this
     * stride and causality.
     *
     * @throws IllegalStateException for a dilated config (see {@link #attentionConfig})
     */
    public StridedSparseAttention stridedAttention() {
        if (attentionPattern != AttentionPattern.STRIDED) {
            throw new IllegalStateException("this config uses dilated attention (branches " + branchesSpec()
                    + "), not the strided baseline: use attentionConfig()");
        }
        return new StridedSparseAttention(heads, headDim(), causal, stride);
    }

    /**
     * Every tensor of a model of this shape, name to shape ({@code torch.nn.Linear} layout: weight
     * {@code [out, in]}), in the order the weights file stores them. The table in docs/MODEL.md lists them.
     */
    public Map<String, int[]> tensorShapes() {
        Map<String, int[]> shapes = new LinkedHashMap<>();
        shapes.put(TensorNames.EMBED_TOKENS, new int[] {vocabSize, dModel});
        for (int i = 0; i < layers; i++) {
            TensorNames.Layer n = TensorNames.layer(i);
            shapes.put(n.attnLnWeight(), new int[] {dModel});
            shapes.put(n.attnLnBias(), new int[] {dModel});
            for (String proj : new String[] {n.qWeight(), n.kWeight(), n.vWeight()}) {
                shapes.put(proj, new int[] {dModel, dModel});
                shapes.put(TensorNames.biasOf(proj), new int[] {dModel});
            }
            if (subLn) {
                shapes.put(n.innerAttnLnWeight(), new int[] {dModel});
                shapes.put(n.innerAttnLnBias(), new int[] {dModel});
            }
            shapes.put(n.outWeight(), new int[] {dModel, dModel});
            shapes.put(n.outBias(), new int[] {dModel});
            shapes.put(n.ffnLnWeight(), new int[] {dModel});
            shapes.put(n.ffnLnBias(), new int[] {dModel});
            shapes.put(n.fc1Weight(), new int[] {ffnDim, dModel});
            shapes.put(n.fc1Bias(), new int[] {ffnDim});
            if (subLn) {
                shapes.put(n.ffnInnerLnWeight(), new int[] {ffnDim});
                shapes.put(n.ffnInnerLnBias(), new int[] {ffnDim});
            }
            shapes.put(n.fc2Weight(), new int[] {dModel, ffnDim});
            shapes.put(n.fc2Bias(), new int[] {dModel});
        }
        shapes.put(TensorNames.FINAL_LN_WEIGHT, new int[] {dModel});
        shapes.put(TensorNames.FINAL_LN_BIAS, new int[] {dModel});
        return shapes;
    }

    /** Number of parameters (the tied LM head counted once). */
    public long parameterCount() {
        long total = 0;
        for (int[] shape : tensorShapes().values()) {
            long n = 1;
            for (int s : shape) {
                n *= s;
            }
            total += n;
        }
        return total;
    }

    /**
     * What differs between this config and {@code other}, key by key as the JSON names them, e.g.
     * {@code layers 3 (checkpoint: 2)} for {@code otherName} "checkpoint"; empty when they are equal.
     */
    public List<String> differences(LongNetConfig other, String otherName) {
        JsonNode mine = StrictJson.parse(toJson());
        JsonNode theirs = StrictJson.parse(other.toJson());
        List<String> differ = new ArrayList<>();
        for (String key : KEYS) {
            JsonNode a = mine.get(key);
            JsonNode b = theirs.get(key);
            if (a == null ? b != null : !a.equals(b)) {
                differ.add(key + " " + (a == null ? "absent" : a) + " (" + otherName + ": " + (b == null ? "absent" : b)
                        + ")");
            }
        }
        return differ;
    }

    /**
     * The config as pretty-printed JSON, every key of its pattern written (defaults too), in {@link #KEYS}
     * order, except {@code xpos}, written only when false (so that a config with xPos reads as before the switch
     * existed). A dilated config is written as before the strided mode existed (no {@code attention} key); a
     * strided one has {@code "attention": "strided"} and {@code stride} in place of {@code branches} and
     * {@code head_offset}.
     */
    public String toJson() {
        boolean dilated = attentionPattern == AttentionPattern.DILATED;
        // layer_norm_eps is written as Double.toString writes it (1.0E-5): it round-trips exactly and is a valid
        // JSON number.
        return StrictJson.pretty(new Json(vocabSize, dModel, heads, layers, ffnDim,
                dilated ? null : attentionPattern.jsonName(), dilated ? branchesSpec() : null,
                dilated ? null : stride, causal, subLn, xpos ? null : Boolean.FALSE, xposScaleBase, layerNormEps,
                dilated ? headOffset.name().toLowerCase(Locale.ROOT) : null)) + "\n";
    }

    /** The JSON form of a config, in {@link #KEYS} order; the keys of the other pattern are left out (null). */
    @JsonPropertyOrder({"vocab_size", "d_model", "heads", "layers", "ffn_dim", "attention", "branches", "stride",
            "causal", "sub_ln", "xpos", "xpos_scale_base", "layer_norm_eps", "head_offset"})
    @JsonInclude(JsonInclude.Include.NON_NULL)
    private record Json(@JsonProperty("vocab_size") int vocabSize, @JsonProperty("d_model") int dModel,
                        @JsonProperty("heads") int heads, @JsonProperty("layers") int layers,
                        @JsonProperty("ffn_dim") int ffnDim, @JsonProperty("attention") String attention,
                        @JsonProperty("branches") String branches, @JsonProperty("stride") Integer stride,
                        @JsonProperty("causal") boolean causal, @JsonProperty("sub_ln") boolean subLn,
                        @JsonProperty("xpos") Boolean xpos,
                        @JsonProperty("xpos_scale_base") int xposScaleBase,
                        @JsonProperty("layer_norm_eps") double layerNormEps,
                        @JsonProperty("head_offset") String headOffset) {
    }

    /**
     * Parses a config JSON object. Required keys: {@code vocab_size, d_model, heads, layers, ffn_dim}, and
     * {@code branches} (dilated; {@code "2048:1,4096:2"} or {@code [[2048, 1], [4096, 2]]}) or {@code stride}
     * (with {@code "attention": "strided"}); optional:
     * {@code attention} (default {@code dilated}), {@code causal, sub_ln, xpos, xpos_scale_base, layer_norm_eps},
     * and {@code head_offset} (dilated only). Unknown keys are errors (a misspelt optional key would otherwise
     * be ignored silently), and so are the keys of the other pattern.
     *
     * @param source what is being read, for messages, e.g. {@code "model config /m/config.json"}
     * @throws ModelFormatException when the text is not JSON, a key is missing, unknown or of the wrong
     *     type, or the values describe an impossible model
     */
    public static LongNetConfig fromJson(String json, String source) {
        JsonNode map = jsonObject(json, source, "a JSON object");
        for (java.util.Iterator<String> keys = map.fieldNames(); keys.hasNext(); ) {
            String key = keys.next();
            if (!KEYS.contains(key)) {
                throw new ModelFormatException(source, "unknown key '" + key + "' (known keys: "
                        + String.join(", ", KEYS) + ")");
            }
        }
        AttentionPattern pattern = attentionPattern(source, string(source, map, "attention", "dilated"));
        boolean dilated = pattern == AttentionPattern.DILATED;
        for (String key : dilated ? List.of("stride") : List.of("branches", "head_offset")) {
            if (map.has(key)) {
                throw new ModelFormatException(source, dilated
                        ? "'stride' applies to \"attention\": \"strided\" only; dilated attention (the default)"
                                + " takes 'branches'"
                        : "'" + key + "' applies to dilated attention only; \"attention\": \"strided\" takes"
                                + " 'stride' in its place: remove '" + key + "'");
            }
        }
        if (!dilated && !map.has("stride")) {
            throw new ModelFormatException(source, "missing key 'stride': \"attention\": \"strided\" needs the"
                    + " stride l (local window length and distance between strided keys)");
        }
        try {
            return new LongNetConfig(
                    requiredInt(source, map, "vocab_size"),
                    requiredInt(source, map, "d_model"),
                    requiredInt(source, map, "heads"),
                    requiredInt(source, map, "layers"),
                    requiredInt(source, map, "ffn_dim"),
                    dilated ? branches(source, map) : List.of(),
                    bool(source, map, "causal", DEFAULT_CAUSAL),
                    bool(source, map, "sub_ln", DEFAULT_SUB_LN),
                    map.has("xpos_scale_base") ? requiredInt(source, map, "xpos_scale_base")
                            : DEFAULT_XPOS_SCALE_BASE,
                    number(source, map, "layer_norm_eps", DEFAULT_LAYER_NORM_EPS),
                    headOffset(source, string(source, map, "head_offset", "paper")),
                    pattern,
                    dilated ? 0 : requiredInt(source, map, "stride"),
                    bool(source, map, "xpos", DEFAULT_XPOS));
        } catch (ModelFormatException e) {
            throw e;
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(source, e.getMessage(), e);
        }
    }

    /**
     * The JSON object {@code json} of a config file.
     *
     * @param expected what the object is, for the message, e.g. {@code "a JSON object"}
     * @throws ModelFormatException naming {@code source} when the text is not JSON or not an object
     */
    static JsonNode jsonObject(String json, String source, String expected) {
        JsonNode node;
        try {
            node = StrictJson.parse(json);
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(source, "not valid JSON: " + e.getMessage(), e);
        }
        if (!node.isObject()) {
            throw new ModelFormatException(source, "expected " + expected + ", found " + StrictJson.typeName(node));
        }
        return node;
    }

    /**
     * The dilated branches as written: the string form {@code "2048:1,4096:2"} (what {@link #toJson} writes)
     * or a JSON array of {@code [w, r]} pairs, {@code [[2048, 1], [4096, 2]]}.
     */
    private static List<Branch> branches(String source, JsonNode map) {
        JsonNode v = map.get("branches");
        if (v == null || !v.isArray()) {
            return Branch.parseList(string(source, map, "branches", null));
        }
        if (v.isEmpty()) {
            throw new ModelFormatException(source, "'branches' is empty: give at least one [w, r] pair, one with r = 1,"
                    + " e.g. [[2048, 1], [4096, 2]]");
        }
        List<Branch> branches = new ArrayList<>(v.size());
        for (int i = 0; i < v.size(); i++) {
            JsonNode pair = v.get(i);
            boolean twoWholeNumbers = pair.isArray() && pair.size() == 2 && pair.get(0).isIntegralNumber()
                    && pair.get(1).isIntegralNumber();
            if (!twoWholeNumbers) {
                throw new ModelFormatException(source, "'branches' entry " + (i + 1) + " is " + pair
                        + ": expected a [w, r] pair of whole numbers, e.g. [[2048, 1], [4096, 2]]");
            }
            for (JsonNode number : pair) {
                if (!number.canConvertToInt()) {
                    throw new ModelFormatException(source, "'branches' entry " + (i + 1) + " is " + pair + ": "
                            + number.asText() + " is too large (at most " + Integer.MAX_VALUE + ")");
                }
            }
            branches.add(new Branch(pair.get(0).intValue(), pair.get(1).intValue()));
        }
        return branches;
    }

    /** Reads {@code config.json}-style file {@code file} (UTF-8). */
    public static LongNetConfig read(Path file) throws IOException {
        return fromJson(Files.readString(file, StandardCharsets.UTF_8), "model config " + file);
    }

    /**
     * Writes {@link #toJson} to {@code file} (straight into it: a caller wanting the file complete or absent
     * writes through io.longnet.storage.AtomicOutput).
     */
    public void write(Path file) throws IOException {
        Files.write(file, toJson().getBytes(StandardCharsets.UTF_8));
    }

    private static int requiredInt(String source, JsonNode map, String key) {
        JsonNode v = value(source, map, key, true, JsonType.WHOLE_NUMBER);
        if (!v.canConvertToInt()) {
            throw new ModelFormatException(source, "'" + key + "' = " + v.asText() + " is out of range");
        }
        return v.intValue();
    }

    /** The string at {@code key}; {@code fallback} when absent, or an error when {@code fallback} is null. */
    private static String string(String source, JsonNode map, String key, String fallback) {
        JsonNode v = value(source, map, key, fallback == null, JsonType.STRING);
        return v == null ? fallback : v.textValue();
    }

    private static boolean bool(String source, JsonNode map, String key, boolean fallback) {
        JsonNode v = value(source, map, key, false, JsonType.BOOLEAN);
        return v == null ? fallback : v.booleanValue();
    }

    private static double number(String source, JsonNode map, String key, double fallback) {
        JsonNode v = value(source, map, key, false, JsonType.NUMBER);
        return v == null ? fallback : v.doubleValue();
    }

    /** The JSON types a config's values have, as messages name them. */
    private enum JsonType {
        WHOLE_NUMBER("a whole number", JsonNode::isIntegralNumber),
        NUMBER("a number", JsonNode::isNumber),
        STRING("a string", JsonNode::isTextual),
        BOOLEAN("true or false", JsonNode::isBoolean);

        final String name;
        final Predicate<JsonNode> test;

        JsonType(String name, Predicate<JsonNode> test) {
            this.name = name;
            this.test = test;
        }
    }

    /**
     * The value at {@code key}, which must be of {@code type}; null when absent and not {@code required}.
     *
     * @throws ModelFormatException when it is missing but required, or of another type
     */
    private static JsonNode value(String source, JsonNode map, String key, boolean required, JsonType type) {
        if (!map.has(key)) {
            if (required) {
                throw new ModelFormatException(source, "missing key '" + key + "'");
            }
            return null;
        }
        JsonNode v = map.get(key);
        if (!type.test.test(v)) {
            // A fraction where a whole number belongs is shown as written (1.5), anything else by its type.
            String found = type == JsonType.WHOLE_NUMBER && v.isFloatingPointNumber() ? v.asText()
                    : StrictJson.typeName(v);
            throw new ModelFormatException(source, "'" + key + "' must be " + type.name
                    + ("branches".equals(key) ? " such as \"2048:1,4096:2\", or an array of [w, r] pairs such as"
                            + " [[2048, 1], [4096, 2]]" : "") + ", found " + found);
        }
        return v;
    }

    private static AttentionPattern attentionPattern(String source, String name) {
        List<String> known = new ArrayList<>();
        for (AttentionPattern p : AttentionPattern.values()) {
            if (p.jsonName().equals(name)) {
                return p;
            }
            known.add(p.jsonName());
        }
        throw new ModelFormatException(source, "'attention' = \"" + name + "\" is not one of "
                + String.join(", ", known));
    }

    private static HeadOffset headOffset(String source, String name) {
        for (HeadOffset h : HeadOffset.values()) {
            if (h.name().toLowerCase(Locale.ROOT).equals(name)) {
                return h;
            }
        }
        List<String> known = new ArrayList<>();
        for (HeadOffset h : HeadOffset.values()) {
            known.add(h.name().toLowerCase(Locale.ROOT));
        }
        throw new ModelFormatException(source, "'head_offset' = \"" + name + "\" is not one of "
                + String.join(", ", known));
    }

    private static void positive(String key, int value) {
        if (value < 1) {
            throw new IllegalArgumentException(key + " must be >= 1 (got " + value + ")");
        }
    }

    private static void fitsArray(String tensor, int rows, int cols) {
        long n = (long) rows * cols;
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("tensor '" + tensor + "' would hold " + n
                    + " floats, more than one Java array can (about 2^31)");
        }
    }

    /** The divisor of {@code n} closest to {@code near}, for a hint. */
    private static int nearestDivisor(int n, int near) {
        int best = 1;
        for (int c = 1; c <= n; c++) {
            if (n % c == 0 && Math.abs(c - near) < Math.abs(best - near)) {
                best = c;
            }
        }
        return best;
    }
}
