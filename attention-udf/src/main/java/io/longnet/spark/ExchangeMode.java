package io.longnet.spark;

import io.longnet.attention.Branch;
import java.util.Locale;

/**
 * How a spanning branch's sparsified keys and values reach the partitions of its segment
 * (docs/ARCHITECTURE.md §4): {@code direct}, each partition sending its part to every partition that needs
 * it (one shuffle; {@code S^2} blocks for a segment over {@code S} partitions, {@code S(S+1)/2} causal), or
 * {@code gathered}, each partition sending its part to the segment's first partition, which shares the
 * assembled rows with the segment's partitions (two shuffles of {@code S} blocks each). {@code auto} gathers
 * segments that span at least {@link #GATHER_FROM} partitions. Both give the same parts in the same order,
 * hence the same results.
 */
public enum ExchangeMode {
    AUTO, DIRECT, GATHERED;

    /** Partitions per segment from which {@code auto} gathers: below it, one shuffle of few blocks is cheaper. */
    public static final int GATHER_FROM = 8;

    /** {@code auto}, {@code direct} or {@code gathered}, any case. */
    public static ExchangeMode parse(String name) {
        for (ExchangeMode m : values()) {
            if (m.toString().equalsIgnoreCase(name == null ? "" : name.strip())) {
                return m;
            }
        }
        throw new IllegalArgumentException("exchange '" + name + "': expected auto, direct or gathered");
    }

    /** Whether spanning {@code branch} of {@code plan} is gathered then shared. */
    public boolean gathers(PartitionPlan plan, Branch branch) {
        return switch (this) {
            case DIRECT -> false;
            case GATHERED -> true;
            case AUTO -> plan.partitionsPerSegment(branch) >= GATHER_FROM;
        };
    }

    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
