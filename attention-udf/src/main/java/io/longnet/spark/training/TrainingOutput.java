package io.longnet.spark.training;

import java.io.Serializable;

/**
 * The mixed attention output of one partition in float64: o ({@code length * H * d} doubles) and lse
 * ({@code length * H}), which the backward pass needs.
 */
public record TrainingOutput(int partition, long start, int length, double[] o, double[] lse)
        implements Serializable {
}
