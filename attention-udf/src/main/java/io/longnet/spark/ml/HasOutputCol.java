package io.longnet.spark.ml;

import org.apache.spark.ml.param.Param;

/**
 * Shared param {@code outputCol}: the column a transformer writes its result to. A shared params trait as
 * {@link HasBackend} describes, but with no default of its own: each stage's constructor sets the name
 * that suits its output ({@code o} for attention, {@code hidden} for encoder states).
 *
 * @param <S> the stage itself, so that the setter chains
 */
public interface HasOutputCol<S extends HasOutputCol<S>> extends StageParams<S> {

    default Param<String> outputCol() {
        return new Param<>(this, "outputCol", "column to write the output to: o blocks (binary, float32, B x H x d)"
                + " for DilatedAttention; hidden states (array<array<float>>, d_model values per position of the"
                + " block) for LongNetEncoder");
    }

    default String getOutputCol() {
        return getOrDefault(outputCol());
    }

    default S setOutputCol(String value) {
        return setParam(outputCol(), value);
    }
}
