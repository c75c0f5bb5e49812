package io.longnet.spark.ml;

import java.util.Arrays;
import java.util.List;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.StructType;

/** The input and output column checks of the block-layout stages' {@code transformSchema}. */
final class StageColumns {

    private StageColumns() {
    }

    /** Checks that {@code schema} has column {@code name} of {@code type}; {@code hint} ends a type error. */
    static void requireColumn(StructType schema, String name, DataType type, String hint) {
        if (!Arrays.asList(schema.fieldNames()).contains(name)) {
            throw new IllegalArgumentException("input column '" + name + "' (" + type.simpleString()
                    + ") is missing; the input has " + String.join(", ", schema.fieldNames()));
        }
        DataType actual = schema.apply(name).dataType();
        if (!actual.equals(type)) {
            throw new IllegalArgumentException("input column '" + name + "' has type " + actual.simpleString()
                    + ", expected " + type.simpleString() + hint);
        }
    }

    /**
     * Checks that no output column is a key column ({@code keys}) or already in the input, except the
     * input columns in {@code replaced} (the output does not keep them).
     */
    static void requireNewOutputs(StructType schema, List<String> outputs, List<String> keys, List<String> replaced) {
        List<String> names = Arrays.asList(schema.fieldNames());
        for (String out : outputs) {
            if (keys.contains(out)) {
                throw new IllegalArgumentException("output column '" + out + "' clashes with a key column;"
                        + " choose another name");
            }
            if (names.contains(out) && !replaced.contains(out)) {
                throw new IllegalArgumentException("output column '" + out + "' already exists in the input ("
                        + String.join(", ", names) + "): choose another name or drop it first");
            }
        }
    }
}
