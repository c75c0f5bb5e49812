package io.longnet.spark.training;

import java.io.Serializable;

/**
 * q, k and v of one partition in float64, for training: positions {@code [start, start + length)},
 * {@code length * H * d} doubles each in {@code [N][H][d]} order. One record per partition.
 */
public record TrainingQkv(int partition, long start, int length, double[] q, double[] k, double[] v)
        implements Serializable {
}
