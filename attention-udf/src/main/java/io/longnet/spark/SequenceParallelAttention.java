package io.longnet.spark;

import io.longnet.attention.AttentionKernel;
import io.longnet.attention.Backend;
import io.longnet.attention.Branch;
import io.longnet.attention.DilatedAttentionConfig;
import io.longnet.attention.DilatedSelection;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import scala.Tuple2;

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
        Objects.requireNonNull(backend, "backend");
        Objects.requireNonNull(times, "times");
        plan.requirePartitions("qkv", qkv.getNumPartitions());
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(qkv.context());
        List<JavaPairRDD<Integer, ExchangePart>> exchanges = SpanningExchange.perBranch(jsc, qkv, plan,
                (branch, block) -> {
                    long t0 = System.nanoTime();
                    Iterator<Tuple2<Integer, ExchangePart>> parts = send(plan, branch, block);
                    times.since(SEND, t0);
                    return parts;
                });
        jsc.setCallSite(ATTEND_STAGE);
        JavaPairRDD<Integer, ExchangePart> received = SpanningExchange.union(jsc, exchanges);
        JavaRDD<AttentionPartition> out;
        if (received == null) {
            out = qkv.map(block -> compute(plan, backend, block, List.of(), times));
        } else {
            out = qkv.zipPartitions(received, (blocks, parts) -> {
                List<ExchangePart> mine = new ArrayList<>();
                parts.forEachRemaining(t -> mine.add(t._2()));
                List<AttentionPartition> result = new ArrayList<>(1);
                while (blocks.hasNext()) {
                    result.add(compute(plan, backend, blocks.next(), mine, times));
                }
                return result.iterator();
            });
        }
        jsc.clearCallSite();
        return out.setName(ATTEND_STAGE + " " + plan.config().branches());
    }

    /** The parts partition {@code block.partition()} sends for spanning branch number {@code branch}. */
    static Iterator<Tuple2<Integer, ExchangePart>> send(PartitionPlan plan, int branch, QkvPartition block) {
        DilatedAttentionConfig c = plan.config();
        Branch b = plan.spanning().get(branch);
        int heads = c.heads();
        int d = c.headDim();
        int offsetInSegment = (int) (block.start() % b.segmentLength());
        float[][] keys = new float[heads][];
        float[][] values = new float[heads][];
        FloatBuffer k = FloatBuffer.wrap(block.k());
        FloatBuffer v = FloatBuffer.wrap(block.v());
        for (int h = 0; h < heads; h++) {
            DilatedSelection sel = DilatedSelection.of(offsetInSegment, block.length(), c.offset(b, h),
                    b.dilation());
            keys[h] = sel.gather(k, heads, d, h);
            values[h] = sel.gather(v, heads, d, h);
        }
        ExchangePart part = new ExchangePart(branch, block.partition(), keys, values);
        int last = plan.segmentLastPartition(b, block.partition());
        List<Tuple2<Integer, ExchangePart>> out = new ArrayList<>();
        for (int dest = plan.firstReceiver(b, block.partition()); dest <= last; dest++) {
            out.add(new Tuple2<>(dest, part));
        }
        return out.iterator();
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
            for (int branch = 0; branch < plan.spanning().size(); branch++) {
                Branch b = plan.spanning().get(branch);
                List<ExchangePart> mine = plan.received(branch, block.partition(), parts, ExchangePart::branch,
                        ExchangePart::source);
                List<FloatBuffer> keys = new ArrayList<>();
                List<FloatBuffer> values = new ArrayList<>();
                for (int h = 0; h < c.heads(); h++) {
                    keys.add(concat(mine, h, true));
                    values.add(concat(mine, h, false));
                }
                int offsetInSegment = (int) (block.start() % b.segmentLength());
                t = times.since(GATHER, t);
                kernel.attendGathered(c, b, offsetInSegment, q, n, keys, values, ob, lb);
                t = times.since(KERNEL, t);
            }
        }
        return new AttentionPartition(block.partition(), block.start(), n, o, lse, ran);
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

    private static FloatBuffer concat(List<ExchangePart> parts, int head, boolean keys) {
        int total = 0;
        for (ExchangePart p : parts) {
            total += (keys ? p.keys() : p.values())[head].length;
        }
        FloatBuffer out = FloatBuffer.allocate(total);
        for (ExchangePart p : parts) {
            out.put((keys ? p.keys() : p.values())[head]);
        }
        return out.flip();
    }
}
