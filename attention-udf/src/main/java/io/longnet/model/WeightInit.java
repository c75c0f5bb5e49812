package io.longnet.model;

import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * Seeded random initialisation of a new model (docs/MODEL.md, "Initialisation"). Each tensor draws
 * from its own SplitMix64 stream seeded from the model seed and the tensor's name, so the values of a
 * tensor depend only on the seed, its name and its shape: reproducible across JVMs and Java versions
 * (nothing of {@code java.util.Random} is used), and unchanged when layers are added.
 *
 * <ul>
 *   <li>{@code embed_tokens.weight}: normal, mean 0, std {@code d_model^-0.5} (fairseq's and torchscale's
 *       LM embedding; also the tied LM head);</li>
 *   <li>{@code q_proj, k_proj, v_proj} weights: Xavier-uniform with gain {@code 1/sqrt(2)}; {@code out_proj},
 *       {@code fc1}, {@code fc2} weights: Xavier-uniform, gain 1 (torchscale's attention init);</li>
 *   <li>with sub-LN, MAGNETO's scaling: {@code v_proj, out_proj, fc1, fc2} weights times
 *       {@code sqrt(ln(2 * layers))} (torchscale's {@code Decoder} with {@code subln});</li>
 *   <li>every bias 0, every LayerNorm weight 1 and bias 0.</li>
 * </ul>
 */
public final class WeightInit {

    private WeightInit() {
    }

    public static ModelWeights initialize(LongNetConfig config, long seed) {
        ModelWeights w = new ModelWeights();
        double magneto = config.subLn() ? Math.sqrt(Math.log(2.0 * config.layers())) : 1.0;
        for (Map.Entry<String, int[]> e : config.tensorShapes().entrySet()) {
            String name = e.getKey();
            int[] shape = e.getValue();
            int count = 1;
            for (int s : shape) {
                count *= s;
            }
            float[] data = new float[count];
            SplitMix64 rng = new SplitMix64(seed, name);
            if (name.equals(TensorNames.EMBED_TOKENS)) {
                double std = 1 / Math.sqrt(config.dModel());
                for (int i = 0; i < count; i += 2) {
                    double[] z = rng.gaussianPair();
                    data[i] = (float) (std * z[0]);
                    if (i + 1 < count) {
                        data[i + 1] = (float) (std * z[1]);
                    }
                }
            } else if (name.endsWith("_proj.weight") || name.endsWith("fc1.weight") || name.endsWith("fc2.weight")) {
                boolean qkv = name.endsWith("q_proj.weight") || name.endsWith("k_proj.weight")
                        || name.endsWith("v_proj.weight");
                boolean scaled = name.endsWith("v_proj.weight") || name.endsWith("out_proj.weight")
                        || name.endsWith("fc1.weight") || name.endsWith("fc2.weight");
                double gain = (qkv ? 1 / Math.sqrt(2) : 1.0) * (scaled ? magneto : 1.0);
                // Xavier-uniform: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)); weight is [out, in].
                double a = gain * Math.sqrt(6.0 / (shape[0] + shape[1]));
                for (int i = 0; i < count; i++) {
                    data[i] = (float) (a * (2 * rng.nextDouble() - 1));
                }
            } else if (isLayerNormWeight(name)) {
                java.util.Arrays.fill(data, 1f);
            }
            // Biases (and LayerNorm biases) stay 0.
            w.put(name, shape, data);
        }
        return w;
    }

    private static boolean isLayerNormWeight(String name) {
        return name.endsWith("layer_norm.weight") || name.endsWith("inner_attn_ln.weight")
                || name.endsWith("ffn_layernorm.weight");
    }

    /**
     * SplitMix64 (Steele, Lea and Flood 2014): a 64-bit counter through a fixed mixing function; small,
     * fast, fully specified here so seeds give the same weights everywhere.
     */
    static final class SplitMix64 {
        private long state;

        SplitMix64(long seed, String stream) {
            // FNV-1a of the name, mixed with the seed, picks the stream.
            long h = 0xcbf29ce484222325L;
            for (byte b : stream.getBytes(StandardCharsets.UTF_8)) {
                h ^= b & 0xFF;
                h *= 0x100000001b3L;
            }
            this.state = mix(seed ^ mix(h));
        }

        long nextLong() {
            state += 0x9E3779B97F4A7C15L;
            return mix(state);
        }

        private static long mix(long z) {
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            return z ^ (z >>> 31);
        }

        /** Uniform in [0, 1), 53 random bits. */
        double nextDouble() {
            return (nextLong() >>> 11) * 0x1.0p-53;
        }

        /** Two independent standard normals (Box-Muller). */
        double[] gaussianPair() {
            double u1 = 1 - nextDouble(); // (0, 1]: log stays finite
            double u2 = nextDouble();
            double radius = Math.sqrt(-2 * Math.log(u1));
            double angle = 2 * Math.PI * u2;
            return new double[] {radius * Math.cos(angle), radius * Math.sin(angle)};
        }
    }
}
