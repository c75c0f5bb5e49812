package io.longnet.training;

import io.longnet.attention.DilatedAttentionGradients;
import io.longnet.attention.TrainingAttention;
import io.longnet.model.AttentionPattern;
import io.longnet.model.LongNetConfig;

/** The float64 attention a model config trains with: its dilated branches, or the strided baseline. */
public final class TrainingAttentions {

    private TrainingAttentions() {
    }

    /**
     * The attention of {@code config}, on the caller's thread: Spark parallelises training over tasks, so
     * an engine inside a task owns no pool that would need closing.
     */
    public static TrainingAttention of(LongNetConfig config) {
        if (config.attentionPattern() == AttentionPattern.STRIDED) {
            return config.stridedAttention();
        }
        return new DilatedAttentionGradients(config.attentionConfig());
    }
}
