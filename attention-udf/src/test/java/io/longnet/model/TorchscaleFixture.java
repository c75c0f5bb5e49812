package io.longnet.model;

import io.longnet.tensors.SafetensorsFile;
import io.longnet.tensors.StrictJson;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The golden fixture made by running torchscale's own {@code LongNetDecoder} (vocab 258, d_model 64, 4 heads,
 * 2 layers, FFN 128, branches 128:1,256:2,512:4, xPos, sub-LN) on 1,000 tokens: its state dict (safetensors and
 * the {@code torch.save} checkpoint), its {@code DecoderConfig} fields, and its float32 and float64 outputs.
 * Test resources under {@code io/longnet/model/torchscale-longnet-tiny}; {@link #copyTo} puts them in a folder.
 */
public final class TorchscaleFixture {

    public static final String SAFETENSORS = "model.safetensors";
    public static final String CHECKPOINT = "model.pt";
    public static final String ARGS = "torchscale-args.json";
    static final String TOKENS = "tokens.json";
    static final String LOGITS_F32 = "logits.safetensors";
    static final String LOGITS_F64 = "logits-f64.safetensors";
    private static final String[] FILES = {SAFETENSORS, CHECKPOINT, ARGS, TOKENS, LOGITS_F32, LOGITS_F64};

    private final Path dir;

    private TorchscaleFixture(Path dir) {
        this.dir = dir;
    }

    /** The fixture's files, copied from the test resources into {@code dir}. */
    public static TorchscaleFixture copyTo(Path dir) {
        try {
            Files.createDirectories(dir);
            for (String name : FILES) {
                try (InputStream in = TorchscaleFixture.class.getResourceAsStream("torchscale-longnet-tiny/" + name)) {
                    if (in == null) {
                        throw new IllegalStateException("test resource torchscale-longnet-tiny/" + name + " is missing");
                    }
                    Files.copy(in, dir.resolve(name));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new TorchscaleFixture(dir);
    }

    public Path file(String name) {
        return dir.resolve(name);
    }

    /** The 1,000 token ids the fixture ran on. */
    public int[] tokens() {
        try {
            JsonNode list = StrictJson.parse(Files.readString(file(TOKENS), StandardCharsets.UTF_8)).get("tokens");
            int[] tokens = new int[list.size()];
            for (int i = 0; i < tokens.length; i++) {
                tokens[i] = list.get(i).intValue();
            }
            return tokens;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** torchscale's float32 run: {@code logits} [1000, 258], {@code inner_states_0..2} [1000, 64]. */
    public double[] float32(String tensor) {
        return doubles(LOGITS_F32, tensor);
    }

    /** torchscale's float64 run ({@code model.double()}): {@code logits} [1000, 258]. */
    public double[] float64Logits() {
        return doubles(LOGITS_F64, "logits");
    }

    private double[] doubles(String file, String tensor) {
        try (SafetensorsFile f = SafetensorsFile.open(file(file))) {
            long count = 1;
            for (long s : f.tensor(tensor).shape()) {
                count *= s;
            }
            double[] out = new double[(int) count];
            f.readDoubles(tensor, out, 0);
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The largest |a[i] - b[i]|. */
    public static double maxAbsDifference(float[] a, double[] b) {
        if (a.length != b.length) {
            throw new AssertionError(a.length + " values against " + b.length);
        }
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }
}
