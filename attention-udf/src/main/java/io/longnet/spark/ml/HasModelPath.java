package io.longnet.spark.ml;

import org.apache.spark.ml.param.Param;

/**
 * Shared param {@code modelPath}: the local directory of a LongNet model, the one a {@link LongNetModelStage}
 * reads or the one {@link LongNetTrainer} writes (and hands on to the scorer it returns); default empty,
 * which those stages refuse with a message. A shared params trait as {@link HasBackend} describes.
 *
 * @param <S> the stage itself, so that the setter chains
 */
public interface HasModelPath<S extends HasModelPath<S>> extends StageParams<S> {

    default Param<String> modelPath() {
        return new Param<>(this, "modelPath", "local directory of a LongNet model (config.json and"
                + " model.safetensors), on the driver: the model LongNetScorer and LongNetEncoder read (e.g. from"
                + " longnet init-model), or the one LongNetTrainer writes with checkpoints/, training.json and"
                + " log.csv (it must not exist unless resume or overwrite)");
    }

    default String getModelPath() {
        return getOrDefault(modelPath());
    }

    default S setModelPath(String value) {
        return setParam(modelPath(), value);
    }

    /** Sets the default, empty (not set); called once by the stage's constructor. */
    default void declareModelPath() {
        setDefault(modelPath(), "");
    }
}
