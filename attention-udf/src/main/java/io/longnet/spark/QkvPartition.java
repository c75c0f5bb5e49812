package io.longnet.spark;

import java.io.Serializable;

/**
 * q, k and v of one partition: positions {@code [start, start + length)}, {@code length * H * d} floats
 * each in {@code [N][H][d]} order. One record per partition, never one per token.
 */
public record QkvPartition(int partition, long start, int length, float[] q, float[] k, float[] v)
        implements Serializable {
}
