package io.longnet.spark.training;

import io.longnet.attention.Branch;
import io.longnet.attention.DilatedAttentionConfig;
import io.longnet.attention.DilatedAttentionGradients;
import io.longnet.attention.DilatedSelection;
import io.longnet.spark.PartitionIdPartitioner;
import io.longnet.spark.PartitionPlan;
import io.longnet.spark.SpanningExchange;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import scala.Tuple2;

/**
 * Dilated attention and its exact gradients in float64 over one sequence spread over Spark partitions,
 * the training counterpart of {@link io.longnet.spark.SequenceParallelAttention} (same plan, same
 * exchange). The engine is {@link DilatedAttentionGradients}; every input RDD must hold partition
 * {@code p} of the plan as its partition {@code p}, one record each.
 *
 * <p>Forward: local branches in each task; for every spanning branch an {@code exchange} shuffle of the
 * sparsified keys/values, addressed to the partitions of the segment that need them (for causal attention
 * those at or after the sender); then {@code attend forward}, which mixes all branches by lse.
 *
 * <p>Backward (LongNet §3.1's reduce-scatter): the same exchanges; {@code attend backward} computes each
 * partition's query gradient of the spanning branches and the partial gradients of every key/value row it
 * gathered; a {@code return dk/dv} shuffle sends these to the rows' owners, where the last stage adds the
 * local branches' gradients and then the returned parts in a fixed order (branch, then source partition),
 * so results do not depend on scheduling. Per partition the return carries as much as the exchange, plus
 * the partition's own {@code dq} of each spanning branch (which stays on its executor where Spark can).
 *
 * <p>The inputs are read by several stages; cache them when they are expensive to recompute.
 */
public final class SequenceParallelGradients {

    /** Name of the stage that attends in the forward pass (a result stage: callers set it as call site). */
    public static final String FORWARD_STAGE = "attend forward";

    /** Name of the stage that computes the spanning branches' gradients (all of them without spanning ones). */
    public static final String BACKWARD_STAGE = "attend backward";

    /** Name of the stage that sums the returned key/value gradients into each partition's (a result stage). */
    public static final String SUM_STAGE = "sum gradients";

    private SequenceParallelGradients() {
    }

    /** o and lse of every partition of {@code qkv}. */
    public static JavaRDD<TrainingOutput> forward(JavaRDD<TrainingQkv> qkv, PartitionPlan plan) {
        plan.requirePartitions("qkv", qkv.getNumPartitions());
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(qkv.context());
        JavaPairRDD<Integer, TrainingExchangePart> received = exchange(jsc, qkv, plan);
        jsc.setCallSite(FORWARD_STAGE);
        JavaRDD<TrainingOutput> out;
        if (received == null) {
            out = qkv.map(block -> forward(plan, block, List.of()));
        } else {
            out = qkv.zipPartitions(received, (blocks, parts) -> {
                List<TrainingExchangePart> mine = values(parts);
                return List.of(forward(plan, only(blocks, "qkv"), mine)).iterator();
            });
        }
        jsc.clearCallSite();
        return out.setName(FORWARD_STAGE + " " + plan.config().branches());
    }

    /**
     * Gradients with respect to q, k and v of a loss whose gradient with respect to the attention output
     * is {@code dO}, given the forward pass's {@code out} (its o and lse). With spanning branches two stages
     * read every input, so persist {@code out} (and {@code qkv}, {@code dO} where they are expensive):
     * otherwise Spark recomputes them, the forward pass included.
     */
    public static JavaRDD<QkvGradient> backward(JavaRDD<TrainingQkv> qkv, JavaRDD<TrainingOutput> out,
                                                JavaRDD<RowPartition> dO, PartitionPlan plan) {
        plan.requirePartitions("qkv", qkv.getNumPartitions());
        plan.requirePartitions("out", out.getNumPartitions());
        plan.requirePartitions("dO", dO.getNumPartitions());
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(qkv.context());
        JavaPairRDD<Integer, TrainingExchangePart> received = exchange(jsc, qkv, plan);
        // Narrow zips: partition p of each input is partition p of the plan, so no shuffle.
        JavaRDD<BackwardInput> inputs = qkv
                .zipPartitions(out, (a, b) -> List.of(new Tuple2<>(only(a, "qkv"), only(b, "out"))).iterator())
                .zipPartitions(dO, (a, b) -> {
                    Tuple2<TrainingQkv, TrainingOutput> t = a.next();
                    return List.of(BackwardInput.of(plan, t._1(), t._2(), only(b, "dO"))).iterator();
                }).setName("backward inputs");
        JavaRDD<QkvGradient> grads;
        if (received == null) {
            jsc.setCallSite(BACKWARD_STAGE);
            grads = inputs.map(in -> sum(plan, in, List.of())).setName(BACKWARD_STAGE + " " + plan.local());
        } else {
            jsc.setCallSite(BACKWARD_STAGE);
            JavaRDD<Tuple2<Integer, GradientPart>> partial = inputs.zipPartitions(received,
                    (ins, parts) -> spanningBackward(plan, ins.next(), values(parts)));
            partial.setName(BACKWARD_STAGE + " " + plan.spanning());
            String name = "return dk/dv w=" + joined(plan.spanning());
            jsc.setCallSite(name);
            JavaPairRDD<Integer, GradientPart> returned = JavaPairRDD.fromJavaRDD(partial)
                    .partitionBy(new PartitionIdPartitioner(plan.partitions())).setName(name);
            jsc.setCallSite(SUM_STAGE);
            grads = inputs.zipPartitions(returned, (ins, parts) -> List.of(sum(plan, ins.next(), values(parts)))
                    .iterator()).setName(SUM_STAGE + " " + plan.config().branches());
        }
        jsc.clearCallSite();
        return grads;
    }

    /** One {@code exchange} shuffle per spanning branch, unioned partition by partition; null if none. */
    private static JavaPairRDD<Integer, TrainingExchangePart> exchange(JavaSparkContext jsc,
                                                                     JavaRDD<TrainingQkv> qkv, PartitionPlan plan) {
        List<JavaPairRDD<Integer, TrainingExchangePart>> exchanges = SpanningExchange.perBranch(jsc, qkv, plan,
                (branch, block) -> send(plan, branch, block));
        jsc.clearCallSite();
        return SpanningExchange.union(jsc, exchanges);
    }

    /** The parts {@code block.partition()} sends for spanning branch number {@code branch}. */
    private static Iterator<Tuple2<Integer, TrainingExchangePart>> send(PartitionPlan plan, int branch,
                                                                        TrainingQkv block) {
        checkBlock(plan, block);
        DilatedAttentionConfig c = plan.config();
        Branch b = plan.spanning().get(branch);
        int heads = c.heads();
        int d = c.headDim();
        int p = block.partition();
        DilatedSelection[] sel = selections(plan, b, p);
        double[][] keys = new double[heads][];
        double[][] values = new double[heads][];
        for (int h = 0; h < heads; h++) {
            keys[h] = sel[h].gather(block.k(), heads, d, h);
            values[h] = sel[h].gather(block.v(), heads, d, h);
        }
        TrainingExchangePart part = new TrainingExchangePart(branch, p, keys, values);
        List<Tuple2<Integer, TrainingExchangePart>> out = new ArrayList<>();
        for (int dest = plan.firstReceiver(b, p); dest <= plan.segmentLastPartition(b, p); dest++) {
            out.add(new Tuple2<>(dest, part));
        }
        return out.iterator();
    }

    /** Local branches, then every spanning branch from the received parts, mixed by lse. */
    private static TrainingOutput forward(PartitionPlan plan, TrainingQkv block, List<TrainingExchangePart> parts) {
        checkBlock(plan, block);
        DilatedAttentionConfig c = plan.config();
        int n = block.length();
        double[] o = new double[n * c.rowWidth()];
        double[] lse = new double[n * c.heads()];
        try (DilatedAttentionGradients engine = new DilatedAttentionGradients(c, TaskCpus.threads())) {
            engine.forward(plan.local(), block.q(), block.k(), block.v(), n, o, lse);
            for (int branch = 0; branch < plan.spanning().size(); branch++) {
                Branch b = plan.spanning().get(branch);
                List<TrainingExchangePart> mine = plan.received(branch, block.partition(), parts,
                        TrainingExchangePart::branch, TrainingExchangePart::source);
                engine.forwardGathered(b, offsetInSegment(plan, b, block.partition()), block.q(), n,
                        concat(mine, c.heads(), true), concat(mine, c.heads(), false), o, lse);
            }
        }
        return new TrainingOutput(block.partition(), block.start(), n, o, lse);
    }

    /**
     * The spanning branches' gradients of partition {@code in}: for each branch, the partial gradients of
     * the gathered rows, cut by source and addressed to it; the part to itself carries its dq.
     */
    private static Iterator<Tuple2<Integer, GradientPart>> spanningBackward(PartitionPlan plan, BackwardInput in,
                                                                           List<TrainingExchangePart> parts) {
        DilatedAttentionConfig c = plan.config();
        int heads = c.heads();
        TrainingQkv block = in.qkv();
        int n = block.length();
        int p = block.partition();
        List<Tuple2<Integer, GradientPart>> out = new ArrayList<>();
        try (DilatedAttentionGradients engine = new DilatedAttentionGradients(c, TaskCpus.threads())) {
            for (int branch = 0; branch < plan.spanning().size(); branch++) {
                Branch b = plan.spanning().get(branch);
                List<TrainingExchangePart> mine = plan.received(branch, p, parts, TrainingExchangePart::branch,
                        TrainingExchangePart::source);
                double[][] keys = concat(mine, heads, true);
                double[][] values = concat(mine, heads, false);
                double[][] dKeys = new double[heads][];
                double[][] dValues = new double[heads][];
                for (int h = 0; h < heads; h++) {
                    dKeys[h] = new double[keys[h].length];
                    dValues[h] = new double[values[h].length];
                }
                double[] dq = new double[n * c.rowWidth()];
                engine.backwardGathered(b, offsetInSegment(plan, b, p), block.q(), n, keys, values, in.out().o(),
                        in.out().lse(), in.dO().values(), dq, dKeys, dValues);
                int[] at = new int[heads];
                for (TrainingExchangePart source : mine) {
                    double[][] dk = new double[heads][];
                    double[][] dv = new double[heads][];
                    for (int h = 0; h < heads; h++) {
                        int rows = source.keys()[h].length;
                        dk[h] = Arrays.copyOfRange(dKeys[h], at[h], at[h] + rows);
                        dv[h] = Arrays.copyOfRange(dValues[h], at[h], at[h] + rows);
                        at[h] += rows;
                    }
                    out.add(new Tuple2<>(source.source(),
                            new GradientPart(branch, p, dk, dv, source.source() == p ? dq : null)));
                }
            }
        }
        return out.iterator();
    }

    /**
     * Partition {@code in}'s gradients: its local branches, then the returned parts of the spanning branches
     * in branch and source order, scattered into its rows.
     */
    private static QkvGradient sum(PartitionPlan plan, BackwardInput in, List<GradientPart> returned) {
        DilatedAttentionConfig c = plan.config();
        int heads = c.heads();
        int d = c.headDim();
        TrainingQkv block = in.qkv();
        int n = block.length();
        int p = block.partition();
        double[] dq = new double[n * c.rowWidth()];
        double[] dk = new double[n * c.rowWidth()];
        double[] dv = new double[n * c.rowWidth()];
        try (DilatedAttentionGradients engine = new DilatedAttentionGradients(c, TaskCpus.threads())) {
            engine.backward(plan.local(), block.q(), block.k(), block.v(), n, in.out().o(), in.out().lse(),
                    in.dO().values(), dq, dk, dv);
        }
        List<GradientPart> parts = new ArrayList<>(returned);
        parts.sort(Comparator.comparingInt(GradientPart::branch).thenComparingInt(GradientPart::source));
        int next = 0;
        for (int branch = 0; branch < plan.spanning().size(); branch++) {
            Branch b = plan.spanning().get(branch);
            int first = plan.firstReceiver(b, p);
            int last = plan.segmentLastPartition(b, p);
            DilatedSelection[] sel = selections(plan, b, p);
            for (int source = first; source <= last; source++, next++) {
                if (next >= parts.size() || parts.get(next).branch() != branch || parts.get(next).source() != source) {
                    throw new IllegalStateException("partition " + p + ", branch " + b + ": expected key/value "
                            + "gradients from partitions " + first + ".." + last + ", got " + describe(returned));
                }
                GradientPart part = parts.get(next);
                for (int h = 0; h < heads; h++) {
                    int rows = sel[h].count() * d;
                    if (part.dKeys()[h].length != rows || part.dValues()[h].length != rows) {
                        throw new IllegalStateException("partition " + p + ", branch " + b + ", head " + h + ": "
                                + "partition " + source + " returned " + part.dKeys()[h].length / d + " rows, "
                                + "the partition selects " + sel[h].count());
                    }
                    sel[h].scatterAdd(part.dKeys()[h], dk, heads, d, h);
                    sel[h].scatterAdd(part.dValues()[h], dv, heads, d, h);
                }
                if ((part.dq() != null) != (source == p) || (part.dq() != null && part.dq().length != dq.length)) {
                    throw new IllegalStateException("partition " + p + ", branch " + b + ": dq (" + dq.length
                            + " doubles) must come with the partition's own part only (source " + source + ")");
                }
                if (part.dq() != null) {
                    for (int i = 0; i < dq.length; i++) {
                        dq[i] += part.dq()[i];
                    }
                }
            }
        }
        if (next != parts.size()) {
            throw new IllegalStateException("partition " + p + ": unexpected key/value gradients "
                    + describe(returned));
        }
        return new QkvGradient(p, block.start(), n, dq, dk, dv);
    }

    /** Head by head, the rows of partition {@code p} that branch {@code b} selects. */
    private static DilatedSelection[] selections(PartitionPlan plan, Branch b, int p) {
        DilatedAttentionConfig c = plan.config();
        DilatedSelection[] sel = new DilatedSelection[c.heads()];
        for (int h = 0; h < c.heads(); h++) {
            sel[h] = DilatedSelection.of(offsetInSegment(plan, b, p), plan.length(p), c.offset(b, h), b.dilation());
        }
        return sel;
    }

    private static int offsetInSegment(PartitionPlan plan, Branch b, int p) {
        return (int) (plan.start(p) % b.segmentLength());
    }

    private static double[][] concat(List<TrainingExchangePart> parts, int heads, boolean keys) {
        double[][] out = new double[heads][];
        for (int h = 0; h < heads; h++) {
            int total = 0;
            for (TrainingExchangePart p : parts) {
                total += (keys ? p.keys() : p.values())[h].length;
            }
            out[h] = new double[total];
            int at = 0;
            for (TrainingExchangePart p : parts) {
                double[] rows = (keys ? p.keys() : p.values())[h];
                System.arraycopy(rows, 0, out[h], at, rows.length);
                at += rows.length;
            }
        }
        return out;
    }

    /** q, k, v, the forward output and dO of one partition, checked against each other and the plan. */
    private record BackwardInput(TrainingQkv qkv, TrainingOutput out, RowPartition dO) {

        static BackwardInput of(PartitionPlan plan, TrainingQkv qkv, TrainingOutput out, RowPartition dO) {
            checkBlock(plan, qkv);
            DilatedAttentionConfig c = plan.config();
            int p = qkv.partition();
            long elems = (long) qkv.length() * c.rowWidth();
            checkPlace("out", out.partition(), out.start(), out.length(), plan, p);
            checkPlace("dO", dO.partition(), dO.start(), dO.length(), plan, p);
            checkSize("out", p, "o", out.o(), elems);
            checkSize("out", p, "lse", out.lse(), (long) qkv.length() * c.heads());
            checkSize("dO", p, "values", dO.values(), elems);
            return new BackwardInput(qkv, out, dO);
        }
    }

    private static void checkBlock(PartitionPlan plan, TrainingQkv block) {
        int p = block.partition();
        if (p < 0 || p >= plan.partitions()) {
            throw new IllegalArgumentException("qkv block of partition " + p + ": the plan has partitions 0.."
                    + (plan.partitions() - 1));
        }
        checkPlace("qkv", p, block.start(), block.length(), plan, p);
        long elems = (long) block.length() * plan.config().rowWidth();
        checkSize("qkv", p, "q", block.q(), elems);
        checkSize("qkv", p, "k", block.k(), elems);
        checkSize("qkv", p, "v", block.v(), elems);
    }

    private static void checkPlace(String what, int partition, long start, int length, PartitionPlan plan, int p) {
        if (partition != p || start != plan.start(p) || length != plan.length(p)) {
            throw new IllegalArgumentException(what + " block (partition " + partition + ", positions " + start
                    + "+" + length + ") where the plan has partition " + p + " (positions " + plan.start(p) + "+"
                    + plan.length(p) + "): partition p of every input must hold the plan's partition p");
        }
    }

    private static void checkSize(String what, int p, String field, double[] a, long needed) {
        if (a == null || a.length != needed) {
            throw new IllegalArgumentException(what + " block of partition " + p + ": " + field + " holds "
                    + (a == null ? 0 : a.length) + " doubles, needs " + needed + " (length x H x d)");
        }
    }

    /** The one record of a task's partition of an input. */
    private static <T> T only(Iterator<T> records, String what) {
        if (!records.hasNext()) {
            throw new IllegalArgumentException(what + ": a partition holds no block; expected one per partition");
        }
        T first = records.next();
        if (records.hasNext()) {
            throw new IllegalArgumentException(what + ": a partition holds several blocks; expected one per "
                    + "partition (partition p of the plan)");
        }
        return first;
    }

    private static <K, V> List<V> values(Iterator<Tuple2<K, V>> pairs) {
        List<V> out = new ArrayList<>();
        pairs.forEachRemaining(t -> out.add(t._2()));
        return out;
    }

    private static String joined(List<Branch> branches) {
        StringBuilder s = new StringBuilder();
        for (Branch b : branches) {
            s.append(s.length() == 0 ? "" : ",").append(b);
        }
        return s.toString();
    }

    private static String describe(List<GradientPart> parts) {
        StringBuilder s = new StringBuilder("[");
        for (GradientPart part : parts) {
            s.append(s.length() == 1 ? "" : ", ").append("branch ").append(part.branch()).append(" from ")
                    .append(part.source());
        }
        return s.append(']').toString();
    }
}
