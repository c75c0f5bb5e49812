package io.longnet.datasets;

import java.util.Locale;

/**
 * What {@link TokenBlocks#write} wrote.
 *
 * @param out      the dataset's path
 * @param manifest its manifest: sequences, tokens, documents, tokenizer, corpus counts
 * @param blocks   Parquet rows of tokens
 * @param seconds  wall time of the whole job
 */
public record TokenizeResult(String out, TokenManifest manifest, long blocks, double seconds) {

    /** One line for logs and the CLI. */
    public String summary() {
        TokenManifest m = manifest;
        return String.format(Locale.ROOT, "%s: %d documents -> %d sequences, %d tokens in %d blocks of %d (%s,"
                        + " vocab %d), %s; %.1f s, %.0f tokens/s", out, m.documents(), m.sequences(), m.tokens(),
                blocks, m.blockSize(), m.tokenizer(), m.vocabSize(), m.corpus(), seconds,
                seconds > 0 ? m.tokens() / seconds : 0.0);
    }
}
