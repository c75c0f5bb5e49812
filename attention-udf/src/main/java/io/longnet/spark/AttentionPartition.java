package io.longnet.spark;

import java.io.Serializable;

/**
 * o ({@code length * H * d} floats) and lse ({@code length * H}) of one partition's positions, and the
 * name of the backend that computed them.
 */
public record AttentionPartition(int partition, long start, int length, float[] o, float[] lse, String backend)
        implements Serializable {
}
