package io.longnet.model;

/**
 * The tensor names of a LongNet decoder's weights, mirroring torchscale's {@code Decoder} module paths
 * so that a checkpoint exported from it maps one to one (docs/MODEL.md lists them with shapes).
 */
public final class TensorNames {

    /** Token embedding {@code [vocab, d_model]}; also the (tied) LM head. */
    public static final String EMBED_TOKENS = "embed_tokens.weight";
    /** Final LayerNorm, after the last layer. */
    public static final String FINAL_LN_WEIGHT = "layer_norm.weight";
    public static final String FINAL_LN_BIAS = "layer_norm.bias";

    private TensorNames() {
    }

    /** The names of layer {@code i}'s tensors. */
    public static Layer layer(int i) {
        return new Layer("layers." + i + ".");
    }

    /** The bias beside a {@code ...weight} tensor. */
    static String biasOf(String weight) {
        return weight.substring(0, weight.length() - "weight".length()) + "bias";
    }

    /** Names of one layer's tensors, all starting {@code layers.<i>.}. */
    public record Layer(String prefix) {
        /** Pre-attention LayerNorm. */
        public String attnLnWeight() {
            return prefix + "self_attn_layer_norm.weight";
        }

        public String attnLnBias() {
            return prefix + "self_attn_layer_norm.bias";
        }

        public String qWeight() {
            return prefix + "self_attn.q_proj.weight";
        }

        public String qBias() {
            return prefix + "self_attn.q_proj.bias";
        }

        public String kWeight() {
            return prefix + "self_attn.k_proj.weight";
        }

        public String kBias() {
            return prefix + "self_attn.k_proj.bias";
        }

        public String vWeight() {
            return prefix + "self_attn.v_proj.weight";
        }

        public String vBias() {
            return prefix + "self_attn.v_proj.bias";
        }

        /** MAGNETO sub-LN on the attention output, before {@code out_proj} (only with sub_ln). */
        public String innerAttnLnWeight() {
            return prefix + "self_attn.inner_attn_ln.weight";
        }

        public String innerAttnLnBias() {
            return prefix + "self_attn.inner_attn_ln.bias";
        }

        public String outWeight() {
            return prefix + "self_attn.out_proj.weight";
        }

        public String outBias() {
            return prefix + "self_attn.out_proj.bias";
        }

        /** Pre-FFN LayerNorm (torchscale's {@code final_layer_norm} of a layer). */
        public String ffnLnWeight() {
            return prefix + "final_layer_norm.weight";
        }

        public String ffnLnBias() {
            return prefix + "final_layer_norm.bias";
        }

        public String fc1Weight() {
            return prefix + "ffn.fc1.weight";
        }

        public String fc1Bias() {
            return prefix + "ffn.fc1.bias";
        }

        /** MAGNETO sub-LN inside the FFN, after GELU and before {@code fc2} (only with sub_ln). */
        public String ffnInnerLnWeight() {
            return prefix + "ffn.ffn_layernorm.weight";
        }

        public String ffnInnerLnBias() {
            return prefix + "ffn.ffn_layernorm.bias";
        }

        public String fc2Weight() {
            return prefix + "ffn.fc2.weight";
        }

        public String fc2Bias() {
            return prefix + "ffn.fc2.bias";
        }
    }
}
