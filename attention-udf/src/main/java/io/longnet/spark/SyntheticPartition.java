package io.longnet.spark;

import io.longnet.attention.OutputChecksum;
import java.io.Serializable;

/**
 * What attention over synthetic inputs keeps of one partition (docs/ARCHITECTURE.md §4, synthetic inputs): the
 * checksum of its o and lse, its sampled rows (positions; o, {@code H * d} floats each; lse, {@code H} each),
 * the worst relative error of those rows against the float64 reference and where it was, and the backend that
 * computed them.
 */
public record SyntheticPartition(int partition, long start, int length, OutputChecksum checksum,
                                 long[] samplePositions, float[] sampleO, float[] sampleLse, double worstError,
                                 long worstPosition, String backend) implements Serializable {
}
