package io.longnet.spark;

import io.longnet.attention.AttentionKernel;
import io.longnet.attention.Backend;
import io.longnet.attention.Branch;
import io.longnet.attention.DilatedAttentionConfig;
import io.longnet.attention.DilatedSelection;
import io.longnet.attention.GatheredBranch;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * Dilated attention over one sequence spread over Spark partitions (LongNet §3.1, docs/ARCHITECTURE.md §4): local
 * branches inside each task; for every spanning branch an {@code exchange} shuffle in which each
 * partition sends only its sparsified keys/values, addressed to the partitions of its segment that need
 * them (for causal attention, those at or after it); then an {@code attend} stage that attends each
 * partition's queries and mixes all branches by lse. The driver only plans; data stay in the tasks.
 */
public final class SequenceParallelAttention {

    /**
     * Name of the stage that attends. A result stage is named by the call site of the action that runs
     * it, so callers set this as the call site around their action too.
     */
    public static final String ATTEND_STAGE = "attend";

    /** Phases {@link #attend(JavaRDD, PartitionPlan, Backend, PhaseTimes)} times, in task order. */
    public static final String SEND = "exchange send";
    public static final String GATHER = "exchange gather";
    public static final String OPEN = "backend open";
    public static final String KERNEL = "kernel";
    public static final List<String> PHASES = List.of(SEND, GATHER, OPEN, KERNEL);

    private SequenceParallelAttention() {
    }

    /**
     * Attends {@code qkv}, which must hold partition {@code p} of {@code plan} as its partition {@code p},
     * with the kernel {@code backend} chooses. {@code qkv} is computed once per spanning branch and once to
     * attend: callers for whom that is costly (reading a file) persist it.
     */
    public static JavaRDD<AttentionPartition> attend(JavaRDD<QkvPartition> qkv, PartitionPlan plan, Backend backend) {
        return attend(qkv, plan, backend, PhaseTimes.NONE);
    }

    /** As {@link #attend(JavaRDD, PartitionPlan, Backend)}, adding the tasks' time in {@link #PHASES} to {@code times}. */
    public static JavaRDD<AttentionPartition> attend(JavaRDD<QkvPartition> qkv, PartitionPlan plan, Backend backend,
                                                     PhaseTimes times) {
        return attend(qkv, plan, backend, times, ExchangeMode.AUTO);
    }

    /** As {@link #attend(JavaRDD, PartitionPlan, Backend, PhaseTimes)}, spanning branches exchanged as {@code mode} says. */
    public static JavaRDD<AttentionPartition> attend(JavaRDD<QkvPartition> qkv, PartitionPlan plan, Backend backend,
                                                     PhaseTimes times, ExchangeMode mode) {
        Objects.requireNonNull(backend, "backend");
        Objects.requireNonNull(times, "times");
        plan.requirePartitions("qkv", qkv.getNumPartitions());
        return exchangeAndAttend(qkv, plan, times, mode, (branch, block) -> part(plan, branch, block.partition(),
                        (head, sel, keys) -> sel.gather(FloatBuffer.wrap(keys ? block.k() : block.v()),
                                plan.config().heads(), plan.config().headDim(), head)),
                (block, parts) -> compute(plan, backend, block, parts, times))
                .setName(ATTEND_STAGE + " " + plan.config().branches());
    }

    /** What a partition computes once its exchange parts have arrived. */
    @FunctionalInterface
    interface PartitionAttention<I, O> extends java.io.Serializable {
        O attend(I partition, List<ExchangePart> parts);
    }

    /**
     * The exchanges of {@code plan}'s spanning branches ({@code sender} makes a partition's parts, timed as
     * {@link #SEND}), then {@code attention} of each partition of {@code partitions} with the parts it received,
     * as the stage named {@link #ATTEND_STAGE}: one shape for attention over stored and over synthetic inputs.
     */
    static <I, O> JavaRDD<O> exchangeAndAttend(JavaRDD<I> partitions, PartitionPlan plan, PhaseTimes times,
                                               ExchangeMode mode, SpanningExchange.PartSender<I> sender,
                                               PartitionAttention<I, O> attention) {
        Objects.requireNonNull(mode, "mode");
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(partitions.context());
        List<JavaPairRDD<Integer, ExchangePart>> exchanges = SpanningExchange.forward(jsc, partitions, plan, mode,
                (branch, partition) -> {
                    long t0 = System.nanoTime();
                    ExchangePart part = sender.part(branch, partition);
                    times.since(SEND, t0);
                    return part;
                });
        jsc.setCallSite(ATTEND_STAGE);
        JavaPairRDD<Integer, ExchangePart> received = SpanningExchange.union(jsc, exchanges);
        JavaRDD<O> out;
        if (received == null) {
            out = partitions.map(partition -> attention.attend(partition, List.of()));
        } else {
            out = partitions.zipPartitions(received, (blocks, parts) -> {
                List<ExchangePart> mine = new ArrayList<>();
                parts.forEachRemaining(t -> mine.add(t._2()));
                List<O> result = new ArrayList<>(1);
                while (blocks.hasNext()) {
                    result.add(attention.attend(blocks.next(), mine));
                }
                return result.iterator();
            });
        }
        jsc.clearCallSite();
        return out;
    }

    /** One head's selected rows of a partition's keys ({@code keys}) or values. */
    @FunctionalInterface
    interface HeadRows {
        float[] rows(int head, DilatedSelection selection, boolean keys);
    }

    /** What partition {@code partition} sends for spanning branch number {@code branch}: each head's selected rows. */
    static ExchangePart part(PartitionPlan plan, int branch, int partition, HeadRows rows) {
        DilatedAttentionConfig c = plan.config();
        Branch b = plan.spanning().get(branch);
        int heads = c.heads();
        float[][] keys = new float[heads][];
        float[][] values = new float[heads][];
        for (int h = 0; h < heads; h++) {
            DilatedSelection sel = plan.selection(b, partition, h);
            keys[h] = rows.rows(h, sel, true);
            values[h] = rows.rows(h, sel, false);
        }
        return new ExchangePart(branch, partition, keys, values);
    }

    /** Local branches, then every spanning branch from the received parts, mixed by lse. */
    static AttentionPartition compute(PartitionPlan plan, Backend backend, QkvPartition block, List<ExchangePart> parts,
                                      PhaseTimes times) {
        DilatedAttentionConfig c = plan.config();
        int n = block.length();
        float[] o = new float[n * c.rowWidth()];
        float[] lse = new float[n * c.heads()];
        FloatBuffer q = FloatBuffer.wrap(block.q());
        FloatBuffer ob = FloatBuffer.wrap(o);
        FloatBuffer lb = FloatBuffer.wrap(lse);
        String ran;
        long t = System.nanoTime();
        try (AttentionKernel kernel = openForTask(backend)) {
            t = times.since(OPEN, t);
            ran = kernel.name();
            kernel.forward(c, plan.local(), q, FloatBuffer.wrap(block.k()), FloatBuffer.wrap(block.v()), n, ob, lb);
            t = times.since(KERNEL, t);
            List<GatheredBranch> gathered = gathered(plan, block.partition(), parts);
            t = times.since(GATHER, t);
            for (GatheredBranch g : gathered) {
                kernel.attendGathered(c, g.branch(), g.offsetInSegment(), q, n, g.keys(), g.values(), ob, lb);
            }
            times.since(KERNEL, t);
        }
        return new AttentionPartition(block.partition(), block.start(), n, o, lse, ran);
    }

    /**
     * For every spanning branch of {@code plan}, the keys and values partition {@code p} attends to, each
     * head's concatenated in source order from the {@code parts} it received.
     */
    static List<GatheredBranch> gathered(PartitionPlan plan, int p, List<ExchangePart> parts) {
        List<GatheredBranch> out = new ArrayList<>();
        for (int branch = 0; branch < plan.spanning().size(); branch++) {
            Branch b = plan.spanning().get(branch);
            List<ExchangePart> mine = plan.received(branch, p, parts, ExchangePart::branch, ExchangePart::source);
            List<FloatBuffer> keys = new ArrayList<>();
            List<FloatBuffer> values = new ArrayList<>();
            for (int h = 0; h < plan.config().heads(); h++) {
                keys.add(FloatBuffer.wrap(SpanningExchange.concat(mine, h, true)));
                values.add(FloatBuffer.wrap(SpanningExchange.concat(mine, h, false)));
            }
            out.add(new GatheredBranch(b, (int) (plan.start(p) % b.segmentLength()), keys, values));
        }
        return out;
    }

    /**
     * {@code backend}'s kernel for the running task: on the GPU Spark assigned it, or on its CPUs (all of the
     * machine's outside a task).
     */
    public static AttentionKernel openForTask(Backend backend) {
        TaskContext task = TaskContext.get();
        int threads = task == null ? Runtime.getRuntime().availableProcessors() : task.cpus();
        return backend.open(threads, TaskGpu.ordinal(task));
    }

}
