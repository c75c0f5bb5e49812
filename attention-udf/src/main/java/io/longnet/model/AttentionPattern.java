package io.longnet.model;

import java.util.Locale;

/**
 * Which attention a model's layers run ({@code "attention"} in the config JSON). The model is LongNet, so
 * the default is dilated attention; the strided pattern exists as the baseline of the training comparison
 * (docs/MODEL.md) and only the float64 training path runs it.
 */
public enum AttentionPattern {

    /** LongNet's dilated branches ({@code "branches"}), mixed by lse: {@code DilatedAttentionConfig}. */
    DILATED,

    /**
     * The Sparse Transformer's strided pattern with stride {@code "stride"}:
     * {@link io.longnet.attention.StridedSparseAttention}.
     */
    STRIDED;

    /** The name the config JSON uses: {@code dilated}, {@code strided}. */
    public String jsonName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
