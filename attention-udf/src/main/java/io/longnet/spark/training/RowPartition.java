package io.longnet.spark.training;

import java.io.Serializable;

/**
 * Rows of one partition in float64, {@code length * H * d} doubles in {@code [N][H][d]} order: e.g. the
 * loss's gradient with respect to the attention output.
 */
public record RowPartition(int partition, long start, int length, double[] values) implements Serializable {
}
