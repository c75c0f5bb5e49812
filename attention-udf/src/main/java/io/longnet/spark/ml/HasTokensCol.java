package io.longnet.spark.ml;

import java.util.Arrays;
import org.apache.spark.ml.param.Param;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Shared param {@code tokensCol}: the input column of token ids ({@code array<int>}, a block of B
 * positions per row beside {@code seq_id} and {@code block}; default {@code tokens}). A shared params
 * trait as {@link HasBackend} describes.
 *
 * @param <S> the stage itself, so that the setter chains
 */
public interface HasTokensCol<S extends HasTokensCol<S>> extends StageParams<S> {

    default Param<String> tokensCol() {
        return new Param<>(this, "tokensCol", "column of token ids (array<int>), a block of B positions per"
                + " row beside seq_id and block");
    }

    default String getTokensCol() {
        return getOrDefault(tokensCol());
    }

    default S setTokensCol(String value) {
        return setParam(tokensCol(), value);
    }

    /** Sets the default, {@code tokens}; called once by the stage's constructor. */
    default void declareTokensCol() {
        setDefault(tokensCol(), "tokens");
    }

    /** Checks that {@code schema} has the tokens column, of type {@code array<int>}. */
    default void validateTokensCol(StructType schema) {
        String tokens = getTokensCol();
        if (!Arrays.asList(schema.fieldNames()).contains(tokens)) {
            throw new IllegalArgumentException("input column '" + tokens + "' (array<int>) is missing; the input has "
                    + String.join(", ", schema.fieldNames()) + " (set tokensCol to the column of token ids)");
        }
        DataType type = schema.apply(tokens).dataType();
        if (!(type instanceof ArrayType a) || !a.elementType().equals(DataTypes.IntegerType)) {
            throw new IllegalArgumentException("input column '" + tokens + "' has type " + type.simpleString()
                    + ", expected array<int> (cast it with .cast(\"array<int>\"))");
        }
    }
}
