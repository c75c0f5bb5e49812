package io.longnet.datasets;

import io.longnet.tensors.TensorFormatException;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalInt;
import java.util.SortedMap;
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
 *               "replaced_sequences", "documents_without_tokens", "binary_files_skipped" },
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
        ManifestFile.write(dir, conf, new Json(FORMAT, blockSize, concatenated ? "concatenated" : "document", sequences,
                tokens, documents, DOCUMENTS, tokenizer, vocabSize,
                separator.isPresent() ? separator.getAsInt() : null,
                new CorpusJson(corpus.files(), corpus.bytes(), corpus.documents(), corpus.emptyDocuments(),
                        corpus.invalidUtf8Documents(), corpus.replacedSequences(), documentsWithoutTokens,
                        corpus.binaryFiles()),
                new TreeMap<>(properties)));
    }

    /** The manifest as written, in the order of the keys; {@code separator_id} is written null when absent. */
    @JsonPropertyOrder({"format", "block_size", "layout", "sequences", "tokens", "documents", "documents_path",
            "tokenizer", "vocab_size", "separator_id", "corpus", "properties"})
    private record Json(@JsonProperty("format") String format, @JsonProperty("block_size") int blockSize,
                        @JsonProperty("layout") String layout, @JsonProperty("sequences") long sequences,
                        @JsonProperty("tokens") long tokens, @JsonProperty("documents") long documents,
                        @JsonProperty("documents_path") String documentsPath,
                        @JsonProperty("tokenizer") String tokenizer, @JsonProperty("vocab_size") int vocabSize,
                        @JsonProperty("separator_id") Integer separatorId, @JsonProperty("corpus") CorpusJson corpus,
                        @JsonProperty("properties") SortedMap<String, String> properties) {
    }

    /** {@link CorpusStats} with the documents the tokenizer emptied, as the manifest's {@code corpus}. */
    @JsonPropertyOrder({"files", "bytes", "documents", "empty_documents", "invalid_utf8_documents",
            "replaced_sequences", "documents_without_tokens", "binary_files_skipped"})
    private record CorpusJson(@JsonProperty("files") long files, @JsonProperty("bytes") long bytes,
                              @JsonProperty("documents") long documents,
                              @JsonProperty("empty_documents") long emptyDocuments,
                              @JsonProperty("invalid_utf8_documents") long invalidUtf8Documents,
                              @JsonProperty("replaced_sequences") long replacedSequences,
                              @JsonProperty("documents_without_tokens") long documentsWithoutTokens,
                              @JsonProperty("binary_files_skipped") long binaryFilesSkipped) {
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
                c.path("invalid_utf8_documents").asLong(), c.path("replaced_sequences").asLong(),
                c.path("binary_files_skipped").asLong());
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
