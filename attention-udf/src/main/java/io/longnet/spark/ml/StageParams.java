package io.longnet.spark.ml;

import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.Params;

/**
 * The chained setter of every stage of this package and of its shared params traits: MLlib's Scala
 * setters return {@code this.type}, which Java sees as {@link Params}, so the one unchecked cast back to the
 * stage lives here instead of in each setter.
 *
 * @param <S> the stage itself, so that the setters chain
 */
public interface StageParams<S extends StageParams<S>> extends Params {

    /** Sets {@code param} to {@code value}; returns the stage. */
    @SuppressWarnings("unchecked")
    default <T> S setParam(Param<T> param, T value) {
        set(param, value);
        return (S) this;
    }
}
