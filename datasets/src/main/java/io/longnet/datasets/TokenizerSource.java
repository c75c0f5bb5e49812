package io.longnet.datasets;

import java.io.Serializable;

/**
 * What it takes to open a {@link Tokenizer} anywhere: the kind and, for a Hugging Face tokenizer, the
 * bytes of its {@code tokenizer.json}, read once on the driver (so executors need no access to the
 * file). Serializable, for Spark closures; each task opens its own tokenizer from it.
 */
public final class TokenizerSource implements Serializable {

    private static final long serialVersionUID = 1L;

    private final String name;
    private final byte[] tokenizerJson;

    private TokenizerSource(String name, byte[] tokenizerJson) {
        this.name = name;
        this.tokenizerJson = tokenizerJson;
    }

    /** The byte tokenizer. */
    public static TokenizerSource bytes() {
        return new TokenizerSource(ByteTokenizer.NAME, null);
    }

    /** A Hugging Face tokenizer from the contents of its {@code tokenizer.json}. */
    public static TokenizerSource huggingFace(String name, byte[] tokenizerJson) {
        return new TokenizerSource(name, tokenizerJson.clone());
    }

    /** {@code byte}, or the tokenizer file as the user named it. */
    public String name() {
        return name;
    }

    /** Opens a new tokenizer; the caller closes it. */
    public Tokenizer open() {
        return tokenizerJson == null ? new ByteTokenizer() : HuggingFaceTokenizer.load(name, tokenizerJson);
    }

    @Override
    public String toString() {
        return name;
    }
}
