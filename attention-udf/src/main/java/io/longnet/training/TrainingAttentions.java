package io.longnet.training;

import io.longnet.attention.DilatedAttentionGradients;
import io.longnet.attention.ParallelRows;
import io.longnet.attention.TrainingAttention;
import io.longnet.model.AttentionPattern;
import io.longnet.model.LongNetConfig;

/** The float64 attention a model config trains with: its dilated branches, or the strided baseline. */
public final class TrainingAttentions {

    private TrainingAttentions() {
    }

    /** The attention of {@code config}, on the caller's thread; it owns no pool that would need closing. */
    public static TrainingAttention of(LongNetConfig config) {
        return of(config, new ParallelRows(1));
    }

    /**
     * The attention of {@code config}, its dilated branches' work items on {@code threads} (borrowed: the
     * training step's model pieces share them, and their owner closes them); the strided baseline runs on
     * the caller's thread.
     */
    public static TrainingAttention of(LongNetConfig config, ParallelRows threads) {
        if (config.attentionPattern() == AttentionPattern.STRIDED) {
            return config.stridedAttention();
        }
        return new DilatedAttentionGradients(config.attentionConfig(), threads);
    }
}
