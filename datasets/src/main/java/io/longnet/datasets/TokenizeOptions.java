package io.longnet.datasets;

import java.util.Locale;
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
 * @param maxDocumentBytes a longer document (file or line, after gunzip) is refused, naming it (default
 *                    {@value #DEFAULT_MAX_DOCUMENT_BYTES}, 64 MiB); tokenizing a document of L bytes holds
 *                    about 8 L bytes of heap in its task
 */
public record TokenizeOptions(String tokenizer, DocumentMode mode, boolean concatenate, OptionalInt separator,
                              int blockSize, int partitions, boolean overwrite, Map<String, String> properties,
                              int maxDocumentBytes) {

    public static final int DEFAULT_BLOCK_SIZE = 4096;
    public static final int DEFAULT_MAX_DOCUMENT_BYTES = 64 << 20;
    /** The largest document a Java array (and so a string) can hold. */
    public static final int MAX_DOCUMENT_BYTES = Integer.MAX_VALUE - 16;

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
        checkMaxDocumentBytes(maxDocumentBytes);
        tokenizer = tokenizer == null || tokenizer.isBlank() ? Tokenizers.BYTE : tokenizer.strip();
        properties = Map.copyOf(properties);
    }

    static void checkMaxDocumentBytes(long bytes) {
        if (bytes < 1 || bytes > MAX_DOCUMENT_BYTES) {
            throw new IllegalArgumentException("--max-document-bytes must be between 1 and "
                    + formatBytes(MAX_DOCUMENT_BYTES) + " (what one Java array holds), got " + bytes);
        }
    }

    /**
     * A byte count as a user writes it: a whole number, optionally with a binary unit {@code k}, {@code m} or
     * {@code g} (any case, an optional {@code iB} or {@code B} after it): {@code 67108864}, {@code 64m},
     * {@code 64MiB}.
     */
    public static int parseBytes(String text) {
        String t = text.strip().toLowerCase(Locale.ROOT);
        String digits = t.replaceFirst("(?:([kmg])(?:ib|b)?|b)$", "");
        int shift = switch (t.length() > digits.length() ? t.charAt(digits.length()) : ' ') {
            case 'k' -> 10;
            case 'm' -> 20;
            case 'g' -> 30;
            default -> 0;
        };
        long value;
        try {
            value = Long.parseLong(digits.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--max-document-bytes '" + text + "': expected a size such as 64m,"
                    + " 512k or 1048576 (bytes)");
        }
        if (value > (Long.MAX_VALUE >> shift)) {
            value = Long.MAX_VALUE;
        } else {
            value <<= shift;
        }
        checkMaxDocumentBytes(value);
        return (int) value;
    }

    /** A byte count for messages: {@code 64 MiB}, {@code 1.5 KiB}, {@code 100 bytes}. */
    public static String formatBytes(long bytes) {
        String[] units = {"KiB", "MiB", "GiB"};
        if (bytes < 1024) {
            return bytes + " bytes";
        }
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        String number = String.format(Locale.ROOT, "%.1f", v);
        return (number.endsWith(".0") ? number.substring(0, number.length() - 2) : number) + " " + units[u];
    }

    /** The defaults: byte tokenizer, one sequence per document, B = 4096, no overwrite, documents up to 64 MiB. */
    public static TokenizeOptions defaults(DocumentMode mode) {
        return new TokenizeOptions(Tokenizers.BYTE, mode, false, OptionalInt.empty(), DEFAULT_BLOCK_SIZE, 0,
                false, Map.of(), DEFAULT_MAX_DOCUMENT_BYTES);
    }

    public TokenizeOptions withTokenizer(String spec) {
        return new TokenizeOptions(spec, mode, concatenate, separator, blockSize, partitions, overwrite, properties,
                maxDocumentBytes);
    }

    public TokenizeOptions withConcatenate(boolean on) {
        return new TokenizeOptions(tokenizer, mode, on, separator, blockSize, partitions, overwrite, properties,
                maxDocumentBytes);
    }

    public TokenizeOptions withSeparator(int id) {
        return new TokenizeOptions(tokenizer, mode, concatenate, OptionalInt.of(id), blockSize, partitions, overwrite,
                properties, maxDocumentBytes);
    }

    public TokenizeOptions withBlockSize(int b) {
        return new TokenizeOptions(tokenizer, mode, concatenate, separator, b, partitions, overwrite, properties,
                maxDocumentBytes);
    }

    public TokenizeOptions withPartitions(int n) {
        return new TokenizeOptions(tokenizer, mode, concatenate, separator, blockSize, n, overwrite, properties,
                maxDocumentBytes);
    }

    public TokenizeOptions withOverwrite(boolean on) {
        return new TokenizeOptions(tokenizer, mode, concatenate, separator, blockSize, partitions, on, properties,
                maxDocumentBytes);
    }

    public TokenizeOptions withMaxDocumentBytes(int bytes) {
        return new TokenizeOptions(tokenizer, mode, concatenate, separator, blockSize, partitions, overwrite,
                properties,
                bytes);
    }

    public TokenizeOptions withProperties(Map<String, String> p) {
        return new TokenizeOptions(tokenizer, mode, concatenate, separator, blockSize, partitions, overwrite, p,
                maxDocumentBytes);
    }
}
