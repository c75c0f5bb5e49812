package io.longnet.spark.ml;

import org.apache.spark.ml.param.IntParam;

/**
 * Shared param {@code checkpointEvery}: how many layers of a sequence-parallel sequence pass between
 * checkpoints of its hidden states (default 0: never). A shared params trait as {@link HasBackend}
 * describes.
 *
 * @param <S> the stage itself, so that the setter chains
 */
public interface HasCheckpointEvery<S extends HasCheckpointEvery<S>> extends StageParams<S> {

    default IntParam checkpointEvery() {
        return new IntParam(this, "checkpointEvery", "checkpoint the hidden states of sequence-parallel"
                + " sequences every this many layers (needs SparkContext.setCheckpointDir); 0: never");
    }

    default int getCheckpointEvery() {
        return (Integer) getOrDefault(checkpointEvery());
    }

    default S setCheckpointEvery(int value) {
        return setParam(checkpointEvery(), value);
    }

    /** Sets the default, 0 (never); called once by the stage's constructor. */
    default void declareCheckpointEvery() {
        setDefault(checkpointEvery(), 0);
    }

    /** Checks that the interval is not negative. */
    default void validateCheckpointEvery() {
        if (getCheckpointEvery() < 0) {
            throw new IllegalArgumentException("param checkpointEvery must be >= 0 (0: never), got "
                    + getCheckpointEvery());
        }
    }
}
