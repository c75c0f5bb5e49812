package io.longnet.datasets;

import java.util.Map;
import java.util.OptionalInt;

/**
 * How {@link TokenBlocks#write} turns a corpus into a token block dataset.
 *
 * @param tokenizer   {@code byte} or the path of a Hugging Face {@code tokenizer.json} ({@link Tokenizers})
 * @param mode        one document per file or per line
 * @param concatenate one sequence for the whole corpus, documents in corpus order with the separator
 *                    between consecutive documents; otherwise one sequence per document
 * @param separator   the separator id for {@code concatenate}; empty: the tokenizer's end-of-text token
 * @param blockSize   positions per Parquet row, {@code B} (default {@value #DEFAULT_BLOCK_SIZE})
 * @param partitions  read the corpus in at least this many tasks (where it has that many files); 0: Spark's
 *                    default parallelism
 * @param overwrite   replace an existing output (only once the new one is complete)
 * @param properties  free-form strings stored in the manifest (e.g. the command that made it)
 */
public record TokenizeOptions(String tokenizer, DocumentMode mode, boolean concatenate, OptionalInt separator,
                              int blockSize, int partitions, boolean overwrite, Map<String, String> properties) {

    public static final int DEFAULT_BLOCK_SIZE = 4096;

    public TokenizeOptions {
        if (mode == null) {
            throw new IllegalArgumentException("document mode is required (file or line)");
        }
        if (blockSize < 1) {
            throw new IllegalArgumentException("block size must be >= 1, got " + blockSize);
        }
        if (partitions < 0) {
            throw new IllegalArgumentException("partitions must be >= 0 (0: Spark's default), got " + partitions);
        }
        if (separator.isPresent() && separator.getAsInt() < 0) {
            throw new IllegalArgumentException("separator id must be >= 0, got " + separator.getAsInt());
        }
        tokenizer = tokenizer == null || tokenizer.isBlank() ? Tokenizers.BYTE : tokenizer.strip();
        properties = Map.copyOf(properties);
    }

    /** The defaults: byte tokenizer, one sequence per document, B = 4096, no overwrite. */
    public static TokenizeOptions defaults(DocumentMode mode) {
        return new TokenizeOptions(Tokenizers.BYTE, mode, false, OptionalInt.empty(), DEFAULT_BLOCK_SIZE, 0,
                false, Map.of());
    }

    public TokenizeOptions withTokenizer(String spec) {
        return new TokenizeOptions(spec, mode, concatenate, separator, blockSize, partitions, overwrite, properties);
    }

    public TokenizeOptions withConcatenate(boolean on) {
        return new TokenizeOptions(tokenizer, mode, on, separator, blockSize, partitions, overwrite, properties);
    }

    public TokenizeOptions withSeparator(int id) {
        return new TokenizeOptions(tokenizer, mode, concatenate, OptionalInt.of(id), blockSize, partitions, overwrite,
                properties);
    }

    public TokenizeOptions withBlockSize(int b) {
        return new TokenizeOptions(tokenizer, mode, concatenate, separator, b, partitions, overwrite, properties);
    }

    public TokenizeOptions withPartitions(int n) {
        return new TokenizeOptions(tokenizer, mode, concatenate, separator, blockSize, n, overwrite, properties);
    }

    public TokenizeOptions withOverwrite(boolean on) {
        return new TokenizeOptions(tokenizer, mode, concatenate, separator, blockSize, partitions, on, properties);
    }

    public TokenizeOptions withProperties(Map<String, String> p) {
        return new TokenizeOptions(tokenizer, mode, concatenate, separator, blockSize, partitions, overwrite, p);
    }
}
