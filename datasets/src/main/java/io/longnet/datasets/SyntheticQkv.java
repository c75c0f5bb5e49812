package io.longnet.datasets;

import io.longnet.tensors.DType;
import io.longnet.tensors.SafetensorsWriter;
import io.longnet.storage.HadoopSafetensors;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.hadoop.conf.Configuration;

/**
 * Writes a safetensors file of random {@code q}, {@code k}, {@code v} of shape {@code [N, H, d]}, uniform
 * in (-1, 1), seeded: sample inputs for {@code longnet attend} and benchmarks.
 *
 * <pre>java -cp ... io.longnet.datasets.SyntheticQkv OUT N H d [F32|F16|BF16] [seed]</pre>
 */
public final class SyntheticQkv {

    private SyntheticQkv() {
    }

    public static void write(String uri, Configuration conf, long n, int heads, int d, DType dtype, long seed)
            throws IOException {
        List<SafetensorsWriter.Spec> specs = List.of(
                SafetensorsWriter.Spec.of("q", dtype, n, heads, d),
                SafetensorsWriter.Spec.of("k", dtype, n, heads, d),
                SafetensorsWriter.Spec.of("v", dtype, n, heads, d));
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] chunk = new float[1 << 16];
        try (SafetensorsWriter writer = HadoopSafetensors.create(uri, conf, specs,
                Map.of("generator", "io.longnet.datasets.SyntheticQkv", "seed", Long.toString(seed)))) {
            long total = 3 * n * heads * d;
            for (long done = 0; done < total; done += chunk.length) {
                int len = (int) Math.min(chunk.length, total - done);
                for (int i = 0; i < len; i++) {
                    chunk[i] = (float) (rnd.nextDouble() * 2 - 1);
                }
                writer.writeFloats(FloatBuffer.wrap(chunk, 0, len));
            }
        }
    }

    public static void main(String[] args) throws IOException {
        if (args.length < 4) {
            System.err.println("usage: SyntheticQkv OUT N H d [F32|F16|BF16] [seed]");
            System.exit(2);
        }
        DType dtype = args.length > 4 ? DType.parse(args[4]) : DType.F32;
        long seed = args.length > 5 ? Long.parseLong(args[5]) : 42L;
        write(args[0], new Configuration(), Long.parseLong(args[1]), Integer.parseInt(args[2]),
                Integer.parseInt(args[3]), dtype, seed);
    }
}
