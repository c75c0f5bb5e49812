package io.longnet.spark.ml;

import io.longnet.attention.DilatedAttentionConfig;
import io.longnet.spark.PartitionPlan;
import org.apache.spark.ml.param.IntParam;

/**
 * Shared param {@code partitionLength}: positions per Spark partition of a sequence run through the
 * sequence-parallel plan (default 0: chosen by {@link PartitionPlan}). A shared params trait as {@link
 * HasBackend} describes.
 *
 * @param <S> the stage itself, so that the setter chains
 */
public interface HasPartitionLength<S extends HasPartitionLength<S>> extends StageParams<S> {

    default IntParam partitionLength() {
        return new IntParam(this, "partitionLength", "positions per Spark partition of a sequence run"
                + " sequence-parallel (a multiple of the block size B that divides or is a multiple of every"
                + " segment length); 0: chosen");
    }

    default int getPartitionLength() {
        return (Integer) getOrDefault(partitionLength());
    }

    default S setPartitionLength(int value) {
        return setParam(partitionLength(), value);
    }

    /** Sets the default, 0 (chosen); called once by the stage's constructor. */
    default void declarePartitionLength() {
        setDefault(partitionLength(), 0);
    }

    /** Checks the length: 0, or a positive length that fits the branches of {@code config}. */
    default void validatePartitionLength(DilatedAttentionConfig config) {
        int length = getPartitionLength();
        if (length < 0) {
            throw new IllegalArgumentException("param partitionLength must be >= 0 (0: chosen), got " + length);
        }
        if (length > 0) {
            PartitionPlan.of(config, 1, length, PartitionPlan.DEFAULT_TASK_BYTES); // checks it fits the branches
        }
    }
}
