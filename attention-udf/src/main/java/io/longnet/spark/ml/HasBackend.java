package io.longnet.spark.ml;

import io.longnet.attention.Backend;
import org.apache.spark.ml.param.Param;

/**
 * Shared param {@code backend}: the attention backend, {@code auto}, {@code cpu} or {@code gpu} (default
 * {@code auto}). Like MLlib's shared params traits ({@code org.apache.spark.ml.param.shared}), written for
 * Java: the param is built on request (params are equal when their stage and name are), and the stage's
 * constructor calls {@link #declareBackend()}, since an interface has no constructor to set the default.
 *
 * @param <S> the stage itself, so that the setter chains
 */
public interface HasBackend<S extends HasBackend<S>> extends StageParams<S> {

    default Param<String> backend() {
        return new Param<>(this, "backend", "attention backend: auto, cpu or gpu");
    }

    default String getBackend() {
        return getOrDefault(backend());
    }

    default S setBackend(String value) {
        return setParam(backend(), value);
    }

    /** Sets the default, {@code auto}; called once by the stage's constructor. */
    default void declareBackend() {
        setDefault(backend(), Backend.AUTO.toString());
    }

    /** The backend the param names: the one place this param is parsed and validated. */
    default Backend parsedBackend() {
        return Backend.parse(getBackend());
    }

    /** Checks the backend's name (see {@link #parsedBackend()}). */
    default void validateBackend() {
        parsedBackend();
    }
}
