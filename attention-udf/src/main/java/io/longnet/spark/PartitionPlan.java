package io.longnet.spark;

import io.longnet.attention.AttentionKernelProvider;
import io.longnet.attention.Backend;
import io.longnet.attention.Branch;
import io.longnet.attention.DilatedAttentionConfig;
import io.longnet.attention.DilatedSelection;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.NavigableSet;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.ToIntFunction;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * How one sequence of {@code n} positions is cut for the sequence-parallel plan (docs/ARCHITECTURE.md §3-4):
 * partitions of {@code partitionLength} (L) consecutive positions; branches whose segment length divides
 * L are computed inside a partition ({@link #local()}), branches whose segment length L divides span
 * {@code w / L} partitions and exchange their sparsified keys/values ({@link #spanning()}).
 */
public record PartitionPlan(DilatedAttentionConfig config, long n, int partitionLength,
                            List<Branch> local, List<Branch> spanning) implements Serializable {

    /** Default bytes of q, k and v per task when L is chosen automatically. */
    public static final long DEFAULT_TASK_BYTES = 96L << 20;
    /**
     * Bytes of q, k and v per task when L is chosen for tasks that run the whole model on a GPU: a call
     * long enough to keep the device busy (a million positions of a 256-wide model), its other activations
     * (about four times that) still within a 40 GB device; the per-device budget makes tasks take turns.
     */
    public static final long GPU_TASK_BYTES = 4L << 30;

    public PartitionPlan {
        local = List.copyOf(local);
        spanning = List.copyOf(spanning);
    }

    /**
     * Plans {@code n} positions with partition length {@code requested}, or, when {@code requested} is
     * 0, with the length nearest to {@code taskBytes} of q, k, v per task that fits every branch.
     */
    public static PartitionPlan of(DilatedAttentionConfig config, long n, int requested, long taskBytes) {
        return of(config, n, requested, taskBytes, 1);
    }

    /**
     * As {@link #of(DilatedAttentionConfig, long, int, long)}, a chosen length also a multiple of
     * {@code multipleOf} where one fits (the token datasets' blocks must not straddle partitions).
     */
    public static PartitionPlan of(DilatedAttentionConfig config, long n, int requested, long taskBytes,
                                   int multipleOf) {
        if (n < 1) {
            throw new IllegalArgumentException("sequence length must be >= 1 (got " + n + ")");
        }
        if (requested < 0) {
            throw new IllegalArgumentException("partition length must be >= 1, or 0 to choose (got "
                    + requested + ")");
        }
        int length = requested == 0 ? automaticLength(config, n, taskBytes, multipleOf) : requested;
        List<Branch> local = new ArrayList<>();
        List<Branch> spanning = new ArrayList<>();
        for (Branch b : config.branches()) {
            int w = b.segmentLength();
            if (length % w == 0) {
                local.add(b);
            } else if (w % length == 0) {
                spanning.add(b);
            } else {
                throw new IllegalArgumentException("partition length " + length + " does not fit branch " + b
                        + ": L must divide or be a multiple of every segment length; valid: "
                        + validLengths(config, length, multipleOf));
            }
        }
        // A sequence of one partition has no block boundary to respect; a longer one's blocks must not straddle.
        if (requested != 0 && length % multipleOf != 0 && n > length) {
            throw new IllegalArgumentException("partition length " + length + " is not a multiple of the "
                    + multipleOf + "-position blocks of the input: valid: " + validLengths(config, length, multipleOf));
        }
        if ((long) length * config.rowWidth() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("partition length " + length + " x H x d exceeds one buffer"
                    + " per task: choose a smaller L; valid: " + validLengths(config, length, multipleOf));
        }
        return new PartitionPlan(config, n, length, local, spanning);
    }

    /**
     * Plans attention of {@code n} positions for {@code backend} on {@code sc}: partition length
     * {@code requested}, or, when 0, sized for the tasks that will run it ({@link #GPU_TASK_BYTES} when they
     * run on GPUs, so that one partition of a million-token sequence keeps the device busy and few spanning
     * branches, if any, remain; {@link #DEFAULT_TASK_BYTES} on CPUs). docs/ARCHITECTURE.md, the plan.
     */
    public static PartitionPlan forAttention(SparkContext sc, Backend backend, DilatedAttentionConfig config, long n,
                                             int requested) {
        long taskBytes = requested == 0 && TaskGpu.planned(sc, backend, AttentionKernelProvider.class, "backend")
                ? GPU_TASK_BYTES : DEFAULT_TASK_BYTES;
        return of(config, n, requested, taskBytes);
    }

    /**
     * One element per partition, {@code p} in partition {@code p} of the RDD: where the tasks start that read
     * or make their own rows of the plan.
     */
    public JavaRDD<Integer> partitionIds(SparkContext sc) {
        List<Integer> ids = new ArrayList<>(partitions());
        for (int p = 0; p < partitions(); p++) {
            ids.add(p);
        }
        return JavaSparkContext.fromSparkContext(sc).parallelize(ids, partitions());
    }

    /** Number of partitions (the last may be short). */
    public int partitions() {
        return Math.toIntExact((n + partitionLength - 1) / partitionLength);
    }

    /** First position of partition {@code p}. */
    public long start(int p) {
        return (long) p * partitionLength;
    }

    /** Positions in partition {@code p}. */
    public int length(int p) {
        return (int) Math.min(partitionLength, n - start(p));
    }

    /** Partitions covered by a segment of {@code branch} (1 for local branches). */
    public int partitionsPerSegment(Branch branch) {
        return Math.max(1, branch.segmentLength() / partitionLength);
    }

    /** First partition of the segment of {@code branch} that partition {@code p} lies in. */
    public int segmentFirstPartition(Branch branch, int p) {
        int per = partitionsPerSegment(branch);
        return p / per * per;
    }

    /** Last partition of that segment (the sequence's last one where the segment is cut short). */
    public int segmentLastPartition(Branch branch, int p) {
        return Math.min(partitions() - 1, segmentFirstPartition(branch, p) + partitionsPerSegment(branch) - 1);
    }

    /**
     * Last partition whose sparsified keys/values of spanning {@code branch} partition {@code p} needs: the
     * segment's last, or {@code p} itself for causal attention. The first is the segment's first.
     */
    public int lastSource(Branch branch, int p) {
        return config.causal() ? p : segmentLastPartition(branch, p);
    }

    /**
     * First partition that needs partition {@code p}'s sparsified keys/values of spanning {@code branch}: the
     * segment's first, or {@code p} itself for causal attention. The last is the segment's last.
     */
    public int firstReceiver(Branch branch, int p) {
        return config.causal() ? p : segmentFirstPartition(branch, p);
    }

    /**
     * Head {@code head}'s rows of partition {@code p} that spanning {@code branch} selects: what the partition
     * sends of it, in its segment's sparse order.
     */
    public DilatedSelection selection(Branch branch, int p, int head) {
        return DilatedSelection.of((int) (start(p) % branch.segmentLength()), length(p), config.offset(branch, head),
                branch.dilation());
    }

    /**
     * Checks that an input of the plan ({@code what}, e.g. {@code qkv}) has one Spark partition per plan
     * partition, partition p holding the plan's partition p.
     */
    public void requirePartitions(String what, int partitions) {
        if (partitions != partitions()) {
            throw new IllegalArgumentException(what + " has " + partitions + " partitions, the plan "
                    + partitions() + " (" + describe() + ")");
        }
    }

    /**
     * Of {@code parts} (exchange parts of any spanning branch), those of spanning branch number {@code branch}
     * that partition {@code p} received, in source order; checks that they are exactly one part from each
     * partition of {@link #segmentFirstPartition} to {@link #lastSource}. One check for the float32 and
     * float64 exchanges, whose part types differ.
     */
    public <P> List<P> received(int branch, int p, List<P> parts, ToIntFunction<P> branchOf,
                                ToIntFunction<P> sourceOf) {
        Branch b = spanning.get(branch);
        List<P> mine = new ArrayList<>();
        for (P part : parts) {
            if (branchOf.applyAsInt(part) == branch) {
                mine.add(part);
            }
        }
        mine.sort(Comparator.comparingInt(sourceOf));
        int first = segmentFirstPartition(b, p);
        int last = lastSource(b, p);
        boolean expected = mine.size() == last - first + 1;
        for (int i = 0; expected && i < mine.size(); i++) {
            expected = sourceOf.applyAsInt(mine.get(i)) == first + i;
        }
        if (!expected) {
            throw new IllegalStateException("partition " + p + ", branch " + b + ": received " + mine.size()
                    + " parts, expected those of partitions " + first + ".." + last);
        }
        return mine;
    }

    /** A readable summary for logs and the CLI. */
    public String describe() {
        StringBuilder s = new StringBuilder();
        s.append(String.format("N=%d, L=%d, %d partition(s); local branches %s", n, partitionLength,
                partitions(), local));
        for (Branch b : spanning) {
            s.append(String.format("; spanning %s over %d partitions", b, partitionsPerSegment(b)));
        }
        return s.toString();
    }

    private static int automaticLength(DilatedAttentionConfig config, long n, long taskBytes, int multipleOf) {
        long bytesPerPosition = 3L * config.rowWidth() * Float.BYTES;
        long target = Math.max(1, taskBytes / bytesPerPosition);
        // Never larger than the sequence needs, rounded up to a power of two.
        target = Math.min(target, Long.highestOneBit(Math.max(1, n - 1)) << 1);
        NavigableSet<Integer> valid = validLengthSet(config, multipleOf);
        Integer below = valid.floor((int) Math.min(Integer.MAX_VALUE, target));
        Integer above = valid.ceiling((int) Math.min(Integer.MAX_VALUE, target));
        if (below == null) {
            return above;
        }
        if (above == null) {
            return below;
        }
        return target - below <= above - target ? below : above;
    }

    /**
     * The smallest length of at least {@code atLeast} that fits every branch, a multiple of {@code multipleOf}
     * where one fits; null when none does.
     */
    public static Integer smallestValid(DilatedAttentionConfig config, int atLeast, int multipleOf) {
        return validLengthSet(config, multipleOf).ceiling(atLeast);
    }

    /** Up to three valid lengths (multiples of {@code multipleOf} where any fit) either side of {@code near}. */
    private static String validLengths(DilatedAttentionConfig config, int near, int multipleOf) {
        NavigableSet<Integer> valid = validLengthSet(config, multipleOf);
        List<Integer> shown = new ArrayList<>();
        Integer lo = valid.floor(near);
        for (int i = 0; i < 3 && lo != null; i++, lo = valid.lower(lo)) {
            shown.add(0, lo);
        }
        Integer hi = valid.higher(near);
        for (int i = 0; i < 3 && hi != null; i++, hi = valid.higher(hi)) {
            shown.add(hi);
        }
        return shown.toString().replaceAll("[\\[\\]]", "");
    }

    /**
     * Lengths that fit every branch: divisors of the smallest segment length that divide all others,
     * and multiples (up to 2^30) of the least common multiple of every segment length.
     */
    /** The branches and the multiple asked for: what {@link #validLengthSet} depends on. */
    private record ValidKey(List<Branch> branches, int multipleOf) {
    }

    /**
     * Found once per key: finding them walks every length up to the longest segment (about a millisecond for
     * config A), and a job plans every sequence of its input.
     */
    private static final Map<ValidKey, NavigableSet<Integer>> VALID = new ConcurrentHashMap<>();

    /**
     * The lengths that fit every branch and are multiples of {@code multipleOf}; all that fit every branch
     * where no such multiple does.
     */
    private static NavigableSet<Integer> validLengthSet(DilatedAttentionConfig config, int multipleOf) {
        return VALID.computeIfAbsent(new ValidKey(config.branches(), multipleOf), key -> {
            TreeSet<Integer> valid = findValid(config);
            TreeSet<Integer> aligned = new TreeSet<>();
            valid.stream().filter(l -> l % multipleOf == 0).forEach(aligned::add);
            return Collections.unmodifiableNavigableSet(aligned.isEmpty() ? valid : aligned);
        });
    }

    private static TreeSet<Integer> findValid(DilatedAttentionConfig config) {
        TreeSet<Integer> valid = new TreeSet<>();
        long lcm = 1;
        for (Branch b : config.branches()) {
            lcm = lcm / gcd(lcm, b.segmentLength()) * b.segmentLength();
            if (lcm > (1 << 30)) {
                lcm = 0;
                break;
            }
        }
        for (int cand = 1; cand <= config.maxSegmentLength(); cand++) {
            if (fits(config, cand)) {
                valid.add(cand);
            }
        }
        for (long m = lcm; lcm > 0 && m <= (1 << 30); m += lcm) {
            if (valid.size() > 4096) {
                break;
            }
            valid.add((int) m);
        }
        return valid;
    }

    private static boolean fits(DilatedAttentionConfig config, int length) {
        for (Branch b : config.branches()) {
            int w = b.segmentLength();
            if (length % w != 0 && w % length != 0) {
                return false;
            }
        }
        return true;
    }

    private static long gcd(long a, long b) {
        return b == 0 ? a : gcd(b, a % b);
    }
}
