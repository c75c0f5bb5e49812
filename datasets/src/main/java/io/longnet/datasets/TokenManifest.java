package io.longnet.datasets;

import io.longnet.tensors.StrictJson;
import io.longnet.tensors.TensorFormatException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalInt;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;

/**
 * {@code _longnet.json} of a token block dataset (format {@value #FORMAT}), beside its Parquet files: the
 * same file name as a {@link BlockManifest} of vectors, with a format of its own, so each reader tells the
 * other kind apart with a clear message. A token dataset differs from a vector one in what the manifest
 * must say (many sequences, an {@code array<int>} column, the tokenizer and the document index), which is
 * why it is not a {@link BlockManifest}.
 * <pre>
 * {
 *   "format": "longnet-tokens/1",
 *   "block_size": 4096,                 B: positions per row (the last block of a sequence may be shorter)
 *   "layout": "document",               or "concatenated" (one sequence, seq_id 0)
 *   "sequences": 12, "tokens": 345678,  positions in all sequences (separators included)
 *   "documents": 12,                    rows of the document index
 *   "documents_path": "_documents",     the document index, a Parquet dataset inside this one
 *   "tokenizer": "byte", "vocab_size": 258, "separator_id": 256 (null in "document" layout),
 *   "corpus": { "files", "bytes", "documents", "empty_documents", "invalid_utf8_documents",
 *               "replaced_sequences", "documents_without_tokens" },
 *   "properties": { ... }
 * }
 * </pre>
 *
 * @param separator              the id between documents in the concatenated layout; empty otherwise
 * @param documentsWithoutTokens non-blank documents the tokenizer turned into no tokens (skipped)
 */
public record TokenManifest(int blockSize, boolean concatenated, long sequences, long tokens, long documents,
                            String tokenizer, int vocabSize, OptionalInt separator, CorpusStats corpus,
                            long documentsWithoutTokens, Map<String, String> properties) {

    public static final String FILE = BlockManifest.FILE;
    public static final String FORMAT = "longnet-tokens/1";
    /** The document index's folder inside the dataset; Spark's readers skip names starting with {@code _}. */
    public static final String DOCUMENTS = "_documents";

    public TokenManifest {
        properties = Map.copyOf(properties);
    }

    public void write(String dir, Configuration conf) throws IOException {
        ObjectNode root = StrictJson.object();
        root.put("format", FORMAT);
        root.put("block_size", blockSize);
        root.put("layout", concatenated ? "concatenated" : "document");
        root.put("sequences", sequences);
        root.put("tokens", tokens);
        root.put("documents", documents);
        root.put("documents_path", DOCUMENTS);
        root.put("tokenizer", tokenizer);
        root.put("vocab_size", vocabSize);
        if (separator.isPresent()) {
            root.put("separator_id", separator.getAsInt());
        } else {
            root.putNull("separator_id");
        }
        ObjectNode c = root.putObject("corpus");
        c.put("files", corpus.files());
        c.put("bytes", corpus.bytes());
        c.put("documents", corpus.documents());
        c.put("empty_documents", corpus.emptyDocuments());
        c.put("invalid_utf8_documents", corpus.invalidUtf8Documents());
        c.put("replaced_sequences", corpus.replacedSequences());
        c.put("documents_without_tokens", documentsWithoutTokens);
        ObjectNode p = root.putObject("properties");
        new TreeMap<>(properties).forEach(p::put);
        ManifestFile.write(dir, conf, root);
    }

    /**
     * Reads the manifest of the token dataset {@code dir}.
     *
     * @throws FileNotFoundException when {@code dir} has no manifest
     * @throws TensorFormatException when it is not a token dataset's manifest
     */
    public static TokenManifest read(String dir, Configuration conf) throws IOException {
        JsonNode root = ManifestFile.read(dir, conf, dir + " is not a longnet token dataset (no " + FILE + "; make one with"
                    + " longnet tokenize)");
        String format = root.path("format").asText();
        if (!FORMAT.equals(format)) {
            throw new TensorFormatException(dir + ": " + FILE + " has format '" + format + "', expected " + FORMAT
                    + ("longnet-blocks/1".equals(format) ? " (this is a dataset of vectors, not of tokens)" : ""));
        }
        String layout = root.path("layout").asText();
        if (!"document".equals(layout) && !"concatenated".equals(layout)) {
            throw new TensorFormatException(dir + ": " + FILE + " has layout '" + layout
                    + "', expected document or concatenated");
        }
        if (root.path("block_size").asInt() < 1 || root.path("vocab_size").asInt() < 1) {
            throw new TensorFormatException(dir + ": " + FILE + " needs block_size >= 1 and vocab_size >= 1");
        }
        JsonNode c = root.path("corpus");
        CorpusStats corpus = new CorpusStats(c.path("files").asLong(), c.path("bytes").asLong(),
                c.path("documents").asLong(), c.path("empty_documents").asLong(),
                c.path("invalid_utf8_documents").asLong(), c.path("replaced_sequences").asLong());
        Map<String, String> properties = new LinkedHashMap<>();
        root.path("properties").properties().forEach(e -> properties.put(e.getKey(), e.getValue().asText()));
        JsonNode sep = root.path("separator_id");
        return new TokenManifest(root.path("block_size").asInt(), "concatenated".equals(layout),
                root.path("sequences").asLong(), root.path("tokens").asLong(), root.path("documents").asLong(),
                root.path("tokenizer").asText(), root.path("vocab_size").asInt(),
                sep.isIntegralNumber() ? OptionalInt.of(sep.asInt()) : OptionalInt.empty(), corpus,
                c.path("documents_without_tokens").asLong(), properties);
    }
}
