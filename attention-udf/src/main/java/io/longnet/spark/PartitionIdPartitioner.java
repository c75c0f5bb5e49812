package io.longnet.spark;

import org.apache.spark.Partitioner;

/**
 * Sends a record keyed by partition number {@code p} to partition {@code p}: the exchange's records are
 * addressed to the partitions that need them. Equal instances let Spark union the exchanges of several
 * branches partition by partition.
 */
public final class PartitionIdPartitioner extends Partitioner {

    private final int partitions;

    public PartitionIdPartitioner(int partitions) {
        this.partitions = partitions;
    }

    @Override
    public int numPartitions() {
        return partitions;
    }

    @Override
    public int getPartition(Object key) {
        return (Integer) key;
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof PartitionIdPartitioner p && p.partitions == partitions;
    }

    @Override
    public int hashCode() {
        return partitions;
    }
}
