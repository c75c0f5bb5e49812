package io.longnet.model;

import io.longnet.attention.Branch;
import io.longnet.attention.HeadOffset;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A torchscale LongNet decoder ({@code torchscale.model.LongNet.LongNetDecoder}) as a model of this project
 * (docs/MODEL.md, "Importing torchscale checkpoints"): its {@code DecoderConfig} fields become a
 * {@link LongNetConfig} ({@code head_offset: contiguous_groups}, torchscale's layout of heads), every setting
 * this decoder does not compute refused by name; its state dict's names map one to one, except the two
 * tensors that are derived, which are checked and dropped: {@code output_projection.weight} (the tied LM
 * head, equal to {@code embed_tokens.weight}) and each layer's {@code self_attn.xpos.scale} (a buffer equal
 * to its formula). Everything else is checked as a model's weights are (missing, misshapen, unexpected,
 * non-finite tensors).
 */
public final class TorchscaleImport {

    /** The tied LM head torchscale keeps beside the embedding. */
    public static final String OUTPUT_PROJECTION = "output_projection.weight";
    private static final String XPOS_SCALE = "self_attn.xpos.scale";

    /** The model, and the names of the checkpoint's tensors that were checked and dropped. */
    public record Result(LongNetConfig config, ModelWeights weights, List<String> dropped) {
    }

    private TorchscaleImport() {
    }

    /**
     * Imports {@code checkpoint}: a {@code .safetensors} state dict, or the {@code .pt} file of
     * {@code torch.save} (a bare state dict, or fairseq's {@code {"model": state_dict, "cfg": {"model": args}}}
     * or {@code {"model": ..., "args": Namespace}}). The config comes from {@code configJson} (DecoderConfig
     * fields as JSON) when given, else from the checkpoint's args.
     *
     * @throws ModelFormatException naming the file and the problem (an unsupported setting, a missing or
     *     misshapen tensor, a derived tensor that is not what it must be)
     */
    public static Result read(Path checkpoint, Path configJson) throws IOException {
        String source = "checkpoint " + checkpoint;
        Map<String, ModelWeights.Tensor> stateDict;
        Map<String, Object> embeddedArgs = null;
        if (checkpoint.getFileName().toString().endsWith(".safetensors")) {
            ModelWeights w = ModelWeights.load(checkpoint);
            stateDict = new LinkedHashMap<>();
            for (String name : w.names()) {
                stateDict.put(name, w.tensor(name));
            }
        } else {
            Object top = TorchCheckpointFile.read(checkpoint);
            Map<?, ?> map = asMap(top);
            if (map == null) {
                throw new ModelFormatException(source, "holds a " + typeName(top) + ", expected a state dict or a"
                        + " {\"model\": state_dict, ...} checkpoint");
            }
            Map<?, ?> model = asMap(map.get("model"));
            stateDict = tensors(model != null ? model : map, source);
            if (model != null) {
                embeddedArgs = embeddedArgs(map);
            }
        }
        Map<String, Object> args;
        String argsSource;
        if (configJson != null) {
            argsSource = "torchscale config " + configJson;
            args = jsonArgs(Files.readString(configJson, StandardCharsets.UTF_8), argsSource);
        } else if (embeddedArgs != null) {
            argsSource = source + " (its stored args)";
            args = embeddedArgs;
        } else {
            throw new ModelFormatException(source, "holds no config (no 'cfg' or 'args' beside the state dict): give"
                    + " --config with torchscale's DecoderConfig fields as JSON");
        }
        stateDict = withoutPrefix(stateDict, "decoder.");
        ModelWeights.Tensor embed = stateDict.get(TensorNames.EMBED_TOKENS);
        int vocabFromWeights = embed != null && embed.shape().length == 2 ? embed.shape()[0] : -1;
        LongNetConfig config = config(args, argsSource, vocabFromWeights);
        return weights(stateDict, config, source);
    }

    /**
     * The config of a torchscale {@code DecoderConfig} given as its fields (absent ones take torchscale's
     * defaults; fields of training only, such as dropout, are ignored).
     *
     * @param vocabFromWeights the embedding's rows, for args without {@code vocab_size} (fairseq takes it from
     *                         the dictionary); -1 when unknown
     * @throws ModelFormatException naming the first unsupported setting, or a value of the wrong type
     */
    public static LongNetConfig config(Map<String, Object> args, String source, int vocabFromWeights) {
        Fields f = new Fields(args, source);
        // Each setting this decoder does not compute, refused by its DecoderConfig name.
        if (f.bool("deepnorm", false)) {
            f.refuse("deepnorm", "DeepNorm (post-LayerNorm with scaled residuals) is not supported; this decoder is"
                    + " pre-LayerNorm (with subln, MAGNETO)");
        }
        if (!f.bool("decoder_normalize_before", true)) {
            f.refuse("decoder_normalize_before", "false means post-LayerNorm, which is not supported; this decoder"
                    + " is pre-LayerNorm");
        }
        for (String moe : List.of("moe_freq", "moe_expert_count")) {
            if (f.integer(moe, 0) > 0) {
                f.refuse(moe, "mixture-of-experts layers are not supported");
            }
        }
        if (f.bool("multiway", false)) {
            f.refuse("multiway", "multiway (per-modality) layers are not supported");
        }
        for (String bias : List.of("rel_pos_buckets", "max_rel_pos")) {
            if (f.integer(bias, 0) > 0) {
                f.refuse(bias, "a learned relative position bias is not supported (xPos is)");
            }
        }
        if (f.bool("layernorm_embedding", false)) {
            f.refuse("layernorm_embedding", "a LayerNorm on the embeddings is not supported");
        }
        if (!f.bool("no_scale_embedding", true)) {
            f.refuse("no_scale_embedding", "false scales the embeddings by sqrt(d_model), which is not supported");
        }
        String activation = f.string("activation_fn", "gelu");
        if (!activation.equals("gelu")) {
            f.refuse("activation_fn", "'" + activation + "' is not supported; this decoder's feed-forward uses the"
                    + " exact (erf) gelu");
        }
        if (f.bool("no_output_layer", false)) {
            f.refuse("no_output_layer", "a decoder without its LM head is not supported (score needs it)");
        }
        List<Integer> segments = f.intList("segment_length");
        List<Integer> ratios = f.intList("dilated_ratio");
        if (segments.size() != ratios.size()) {
            f.refuse("segment_length", segments + " and dilated_ratio " + ratios + " differ in length; give one"
                    + " dilation per segment length");
        }
        List<Branch> branches = new ArrayList<>();
        for (int i = 0; i < segments.size(); i++) {
            branches.add(new Branch(segments.get(i), ratios.get(i)));
        }
        int vocab = f.integer("vocab_size", -1);
        if (vocab <= 0) {
            if (vocabFromWeights <= 0) {
                f.refuse("vocab_size", "is not set and the weights hold no embedding to take it from");
            }
            vocab = vocabFromWeights;
        }
        try {
            return new LongNetConfig(vocab, f.integer("decoder_embed_dim", 768), f.integer("decoder_attention_heads", 12),
                    f.integer("decoder_layers", 12), f.integer("decoder_ffn_embed_dim", 3072), branches,
                    true, f.bool("subln", true), f.integer("xpos_scale_base", 512),
                    f.number("layernorm_eps", LongNetConfig.DEFAULT_LAYER_NORM_EPS), HeadOffset.CONTIGUOUS_GROUPS,
                    AttentionPattern.DILATED, 0, f.bool("xpos_rel_pos", false));
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(source, e.getMessage(), e);
        }
    }

    /**
     * The weights of {@code config} from a torchscale state dict: {@link #OUTPUT_PROJECTION} checked equal to
     * the embedding and each {@code xpos.scale} to its formula, both dropped; the rest checked against the
     * config's tensors and kept in their order.
     */
    public static Result weights(Map<String, ModelWeights.Tensor> stateDict, LongNetConfig config, String source) {
        List<String> dropped = new ArrayList<>();
        Map<String, ModelWeights.Tensor> rest = new LinkedHashMap<>(stateDict);
        ModelWeights.Tensor head = rest.remove(OUTPUT_PROJECTION);
        if (head != null) {
            ModelWeights.Tensor embed = stateDict.get(TensorNames.EMBED_TOKENS);
            if (embed != null) {
                String differs = firstDifference(head, embed.shape(), embed.data(), 0);
                if (differs != null) {
                    throw new ModelFormatException(source, "tensor '" + OUTPUT_PROJECTION + "' " + differs
                            + " of '" + TensorNames.EMBED_TOKENS + "': an untied LM head is not supported (torchscale's"
                            + " share_decoder_input_output_embed must be true)");
                }
            }
            dropped.add(OUTPUT_PROJECTION);
        }
        int d = config.headDim();
        float[] scale = new float[d / 2];
        for (int i = 0; i < scale.length; i++) {
            scale[i] = (float) Xpos.scale(i, d);
        }
        for (int l = 0; l < config.layers(); l++) {
            String name = TensorNames.layer(l).prefix() + XPOS_SCALE;
            ModelWeights.Tensor t = rest.remove(name);
            if (t == null) {
                continue;
            }
            if (!config.xpos()) {
                throw new ModelFormatException(source, "tensor '" + name + "' is an xPos buffer, but the config has"
                        + " xpos_rel_pos false: set xpos_rel_pos true if the model was trained with xPos");
            }
            // torchscale computes the buffer in float32: allow its rounding, a few units in the last place.
            String differs = firstDifference(t, new int[] {scale.length}, scale, 1e-6);
            if (differs != null) {
                throw new ModelFormatException(source, "tensor '" + name + "' " + differs + " of xPos's scale"
                        + " (2i + 0.4 d) / (1.4 d) for head width d = " + d + ": not torchscale's XPOS buffer");
            }
            dropped.add(name);
        }
        ModelWeights weights = new ModelWeights();
        for (Map.Entry<String, ModelWeights.Tensor> e : rest.entrySet()) {
            weights.put(e.getKey(), e.getValue().shape(), e.getValue().data());
        }
        weights.validate(source, config.tensorShapes(), null);
        ModelWeights ordered = new ModelWeights();
        for (String name : config.tensorShapes().keySet()) {
            ordered.put(name, weights.shape(name), weights.data(name));
        }
        return new Result(config, ordered, List.copyOf(dropped));
    }

    /**
     * Where {@code t} is not {@code expected} (shape, or a value beyond {@code relative} tolerance), as
     * "has shape [..], not the shape [..]" or "differs at [i]: x instead of y"; null when equal.
     */
    private static String firstDifference(ModelWeights.Tensor t, int[] shape, float[] expected, double relative) {
        if (!Arrays.equals(t.shape(), shape)) {
            return "has shape " + Arrays.toString(t.shape()) + ", not the shape " + Arrays.toString(shape);
        }
        float[] data = t.data();
        for (int i = 0; i < data.length; i++) {
            if (!(Math.abs(data[i] - expected[i]) <= relative * Math.abs(expected[i]))) {
                return "differs at element " + i + " (" + data[i] + " instead of " + expected[i] + ")";
            }
        }
        return null;
    }

    /** The args a fairseq-style checkpoint stores: {@code cfg.model} (a dict or Namespace), else {@code args}. */
    private static Map<String, Object> embeddedArgs(Map<?, ?> checkpoint) {
        Map<?, ?> cfg = asMap(checkpoint.get("cfg"));
        Map<?, ?> args = cfg != null ? asMap(cfg.get("model")) : null;
        if (args == null) {
            args = asMap(checkpoint.get("args"));
        }
        if (args == null) {
            return null;
        }
        Map<String, Object> out = new LinkedHashMap<>();
        args.forEach((k, v) -> out.put(String.valueOf(k), v));
        return out;
    }

    private static Map<String, ModelWeights.Tensor> tensors(Map<?, ?> dict, String source) {
        Map<String, ModelWeights.Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : dict.entrySet()) {
            if (!(e.getValue() instanceof ModelWeights.Tensor t)) {
                throw new ModelFormatException(source, "state dict entry '" + e.getKey() + "' is a "
                        + typeName(e.getValue()) + ", not a tensor");
            }
            out.put(String.valueOf(e.getKey()), t);
        }
        return out;
    }

    /** fairseq prefixes a decoder's tensors with {@code decoder.}; torchscale's own state dict has none. */
    private static Map<String, ModelWeights.Tensor> withoutPrefix(Map<String, ModelWeights.Tensor> dict, String prefix) {
        for (String name : dict.keySet()) {
            if (!name.startsWith(prefix)) {
                return dict;
            }
        }
        Map<String, ModelWeights.Tensor> out = new LinkedHashMap<>();
        dict.forEach((k, v) -> out.put(k.substring(prefix.length()), v));
        return out;
    }

    private static Map<String, Object> jsonArgs(String json, String source) {
        JsonNode node = LongNetConfig.jsonObject(json, source, "a JSON object of DecoderConfig fields");
        @SuppressWarnings("unchecked")
        Map<String, Object> map = new ObjectMapper().convertValue(node, LinkedHashMap.class);
        return map;
    }

    private static Map<?, ?> asMap(Object value) {
        return value instanceof Map<?, ?> m ? m : null;
    }

    private static String typeName(Object value) {
        if (value == null) {
            return "None";
        }
        if (value instanceof Object[]) {
            return "tuple";
        }
        return value instanceof List<?> ? "list" : value.getClass().getSimpleName();
    }

    /** DecoderConfig fields, typed, with torchscale's defaults; errors name the field. */
    private record Fields(Map<String, Object> args, String source) {

        Object get(String key) {
            return args.get(key);
        }

        void refuse(String key, String why) {
            throw new ModelFormatException(source, "unsupported setting " + key + " = " + show(get(key)) + ": " + why);
        }

        boolean bool(String key, boolean fallback) {
            return typed(key, fallback, "true or false", v -> v instanceof Boolean b ? b : null);
        }

        int integer(String key, int fallback) {
            return typed(key, fallback, "a whole number", v -> (v instanceof Integer || v instanceof Long)
                    && ((Number) v).longValue() == ((Number) v).intValue() ? ((Number) v).intValue() : null);
        }

        double number(String key, double fallback) {
            return typed(key, fallback, "a number", v -> v instanceof Number n ? n.doubleValue() : null);
        }

        String string(String key, String fallback) {
            return typed(key, fallback, "a string", v -> v instanceof String s ? s : null);
        }

        /** The value at {@code key} as {@code convert} gives it (null: of another type); {@code fallback} when absent. */
        private <T> T typed(String key, T fallback, String expected, java.util.function.Function<Object, T> convert) {
            Object v = get(key);
            if (v == null) {
                return fallback;
            }
            T value = convert.apply(v);
            if (value == null) {
                throw wrongType(key, expected, v);
            }
            return value;
        }

        /**
         * A list of whole numbers: as torchscale takes it, a string it evaluates ({@code "[2048,4096]"}), or a
         * list.
         */
        List<Integer> intList(String key) {
            Object v = get(key);
            if (v == null) {
                throw new ModelFormatException(source, "missing '" + key + "': a LongNet config gives segment_length"
                        + " and dilated_ratio, e.g. \"[2048,4096]\" and \"[1,2]\"");
            }
            List<Object> items = TorchCheckpointFile.asList(v);
            if (items == null && v instanceof String s) {
                String body = s.strip();
                if (body.startsWith("[") && body.endsWith("]")) {
                    items = new ArrayList<>();
                    for (String part : body.substring(1, body.length() - 1).split(",")) {
                        if (!part.isBlank()) {
                            items.add(parseInt(key, part.strip(), s));
                        }
                    }
                }
            }
            if (items == null || items.isEmpty()) {
                throw wrongType(key, "a non-empty list of whole numbers such as \"[2048,4096]\"", v);
            }
            List<Integer> out = new ArrayList<>();
            for (Object item : items) {
                if (!(item instanceof Integer || item instanceof Long)) {
                    throw wrongType(key, "a list of whole numbers such as \"[2048,4096]\"", v);
                }
                out.add(((Number) item).intValue());
            }
            return out;
        }

        private Integer parseInt(String key, String text, String whole) {
            try {
                return Integer.valueOf(text);
            } catch (NumberFormatException e) {
                throw wrongType(key, "a list of whole numbers such as \"[2048,4096]\"", whole);
            }
        }

        private ModelFormatException wrongType(String key, String expected, Object found) {
            return new ModelFormatException(source, "'" + key + "' must be " + expected + ", found " + show(found));
        }

        private static String show(Object v) {
            if (v instanceof String s) {
                return "\"" + s + "\"";
            }
            if (v instanceof Object[] a) {
                return Arrays.deepToString(a);
            }
            return String.valueOf(v).toLowerCase(Locale.ROOT).equals("null") ? "absent" : String.valueOf(v);
        }
    }
}
