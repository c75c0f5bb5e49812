package io.longnet.model;

import java.util.Map;
import java.util.SplittableRandom;

/** Random weights for tests: every tensor non-trivial (biases and LayerNorm parameters too), never zeros. */
public final class TestWeights {

    private TestWeights() {
    }

    public static ModelWeights random(LongNetConfig config, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        ModelWeights w = new ModelWeights();
        for (Map.Entry<String, int[]> e : config.tensorShapes().entrySet()) {
            String name = e.getKey();
            int[] shape = e.getValue();
            int count = 1;
            for (int s : shape) {
                count *= s;
            }
            float[] data = new float[count];
            boolean lnWeight = shape.length == 1 && name.endsWith(".weight");
            for (int i = 0; i < count; i++) {
                double u = 2 * rnd.nextDouble() - 1;
                if (name.equals(TensorNames.EMBED_TOKENS)) {
                    data[i] = (float) u;
                } else if (lnWeight) {
                    data[i] = (float) (1 + 0.3 * u);
                } else if (shape.length == 1) {
                    data[i] = (float) (0.2 * u);
                } else {
                    // q and k larger, so that attention is far from uniform and positions matter.
                    double gain = name.contains("q_proj") || name.contains("k_proj") ? 3.0 : 1.5;
                    data[i] = (float) (gain * u / Math.sqrt(shape[1]));
                }
            }
            w.put(name, shape, data);
        }
        return w;
    }

    public static int[] tokens(int n, int vocab, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = rnd.nextInt(vocab);
        }
        return t;
    }
}
