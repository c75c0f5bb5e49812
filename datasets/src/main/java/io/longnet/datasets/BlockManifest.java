package io.longnet.datasets;

import io.longnet.tensors.TensorFormatException;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;

/**
 * {@code _longnet.json} beside the Parquet files of a block dataset (docs/ARCHITECTURE.md §3): what the binary
 * columns hold. Rows are {@code (seq_id long, block long, <tensor> binary ...)}; each tensor column holds
 * {@code blockSize * width} little-endian float32 values of positions {@code [block * B, block * B + B)}
 * (the last block of a sequence may be shorter); {@code n} is the sequence length. Spark's readers skip
 * files starting with {@code _}, so the manifest never disturbs them.
 *
 * @param tensors column name to floats per position (e.g. q: H*d, lse: H)
 */
@JsonPropertyOrder({"format", "n", "heads", "head_dim", "block_size", "tensors", "properties"})
public record BlockManifest(@JsonProperty("n") long n, @JsonProperty("heads") int heads,
                            @JsonProperty("head_dim") int headDim, @JsonProperty("block_size") int blockSize,
                            @JsonProperty("tensors") Map<String, Integer> tensors,
                            @JsonProperty("properties") Map<String, String> properties) {

    public static final String FILE = ManifestFile.NAME;
    private static final String FORMAT = "longnet-blocks/1";

    public BlockManifest {
        // In the order given, so that _longnet.json is the same bytes on every run (Map.copyOf's order is
        // salted per JVM).
        tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
        properties = Collections.unmodifiableMap(new LinkedHashMap<>(properties));
    }

    /** Floats per position of column {@code name}; a clear error naming the dataset when absent. */
    public int width(String dataset, String name) {
        Integer w = tensors.get(name);
        if (w == null) {
            throw new TensorFormatException(dataset, name, "no such column (has: "
                    + String.join(", ", tensors.keySet()) + ")");
        }
        return w;
    }

    /** The manifest's format, written first so that a reader tells a block dataset from a token one. */
    @JsonProperty("format")
    String format() {
        return FORMAT;
    }

    public void write(String dir, Configuration conf) throws IOException {
        ManifestFile.write(dir, conf, this);
    }

    public static BlockManifest read(String dir, Configuration conf) throws IOException {
        JsonNode root = ManifestFile.read(dir, conf, dir + " is not a longnet block dataset (no " + FILE
                    + "; give a .safetensors file or a dataset written by longnet)");
        if (!FORMAT.equals(root.path("format").asText())) {
            throw new TensorFormatException(dir + ": " + FILE + " has format '" + root.path("format").asText()
                    + "', expected " + FORMAT);
        }
        Map<String, Integer> tensors = new LinkedHashMap<>();
        root.path("tensors").fields().forEachRemaining(e -> tensors.put(e.getKey(), e.getValue().asInt()));
        Map<String, String> properties = new LinkedHashMap<>();
        root.path("properties").fields().forEachRemaining(e -> properties.put(e.getKey(), e.getValue().asText()));
        BlockManifest m = new BlockManifest(root.path("n").asLong(), root.path("heads").asInt(),
                root.path("head_dim").asInt(), root.path("block_size").asInt(), tensors, properties);
        for (String key : List.of("n", "heads", "head_dim", "block_size")) {
            if (root.path(key).asLong() < 1) {
                throw new TensorFormatException(dir + ": " + FILE + " needs " + key + " >= 1");
            }
        }
        return m;
    }
}
