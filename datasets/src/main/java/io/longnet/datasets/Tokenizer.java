package io.longnet.datasets;

import java.util.OptionalInt;

/**
 * Text to token ids and back. Implementations are not thread-safe: open one per task (Spark) or per
 * thread, through {@link Tokenizers#open(String)} or a {@link TokenizerSource}, and close it after use
 * (a Hugging Face tokenizer holds native memory).
 */
public interface Tokenizer extends AutoCloseable {

    /** What was opened, for logs and the dataset manifest: {@code byte} or the tokenizer file's name. */
    String name();

    /** One more than the largest id this tokenizer can produce (ids are {@code 0 .. vocabSize() - 1}). */
    int vocabSize();

    /** The ids of {@code text}, with the special tokens the tokenizer itself adds (none for bytes). */
    int[] encode(String text);

    /**
     * The ids of UTF-8 bytes. The default decodes them first, replacing each invalid UTF-8 sequence by
     * U+FFFD; {@link ByteTokenizer} overrides it to keep every byte exactly.
     */
    default int[] encode(byte[] utf8) {
        return encode(Utf8Text.decode(utf8, 0, utf8.length).text());
    }

    /**
     * The text of {@code ids}, special tokens (separator, padding) left out.
     *
     * @throws IllegalArgumentException for an id outside {@code [0, vocabSize())}
     */
    String decode(int[] ids);

    /**
     * The id put between documents when a corpus is concatenated into one sequence: the tokenizer's
     * end-of-text token; empty when it has none (then the caller must name one).
     */
    OptionalInt separatorId();

    @Override
    void close();
}
