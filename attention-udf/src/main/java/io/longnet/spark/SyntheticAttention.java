package io.longnet.spark;

import io.longnet.attention.AttentionKernel;
import io.longnet.attention.Backend;
import io.longnet.attention.Branch;
import io.longnet.attention.CounterQkv;
import io.longnet.attention.DilatedAttentionConfig;
import io.longnet.attention.SyntheticOutput;
import io.longnet.attention.SyntheticRowReference;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaRDD;

/**
 * Sequence-parallel attention over synthetic inputs made where they are used (docs/ARCHITECTURE.md §4,
 * synthetic inputs): each task generates its partition's q, k, v from the counter ({@link CounterQkv}; on
 * the device when the kernel has one), sends its sparsified keys and values of the spanning branches through
 * the exchange (made alone, without the rest of the partition), attends, and keeps the checksum of o and lse
 * and a few sampled rows, which it verifies against the float64 reference of those rows. Nothing of the
 * sequence is stored, and a retried task computes the same bits.
 */
public final class SyntheticAttention {

    /** Phases {@link #attend} times: those of the stored-input job, and the verification of the sampled rows. */
    public static final String VERIFY = "verify";
    public static final List<String> PHASES = List.of(SequenceParallelAttention.SEND, SequenceParallelAttention.GATHER,
            SequenceParallelAttention.OPEN, SequenceParallelAttention.KERNEL, VERIFY);

    private SyntheticAttention() {
    }

    /**
     * The partitions of {@code plan} over {@code inputs}, each with {@code samples} sampled rows, computed by
     * {@code backend}, spanning branches exchanged as {@code mode} says; the stage is named
     * {@link SequenceParallelAttention#ATTEND_STAGE}.
     */
    public static JavaRDD<SyntheticPartition> attend(SparkContext sc, PartitionPlan plan, CounterQkv inputs,
                                                     Backend backend, int samples, ExchangeMode mode,
                                                     PhaseTimes times) {
        CounterQkv.requireFits(plan.config(), plan.n());
        if (samples < 1 || samples > 1 << 16) {
            throw new IllegalArgumentException("sampled rows per partition must be 1 to 65536 (got " + samples + ")");
        }
        int heads = plan.config().heads();
        int d = plan.config().headDim();
        return SequenceParallelAttention.exchangeAndAttend(plan.partitionIds(sc), plan, times, mode,
                (branch, p) -> SequenceParallelAttention.part(plan, branch, p, (head, sel, keys) -> inputs.rows(
                        keys ? CounterQkv.K : CounterQkv.V, plan.start(p) + sel.firstRow(), sel.stride(), sel.count(),
                        head, d)),
                (p, parts) -> compute(plan, backend, inputs, samples, p, parts, times))
                .setName(SequenceParallelAttention.ATTEND_STAGE + " synthetic " + plan.config().branches()
                        + " H=" + heads + " d=" + d);
    }

    static SyntheticPartition compute(PartitionPlan plan, Backend backend, CounterQkv inputs, int samples, int p,
                                      List<io.longnet.spark.ExchangePart> parts, PhaseTimes times) {
        DilatedAttentionConfig c = plan.config();
        long start = plan.start(p);
        int[] rows = sampleRows(plan, inputs, p, samples);
        long t = System.nanoTime();
        SyntheticOutput out;
        String ran;
        try (AttentionKernel kernel = SequenceParallelAttention.openForTask(backend)) {
            t = times.since(SequenceParallelAttention.OPEN, t);
            ran = kernel.name();
            var gathered = SequenceParallelAttention.gathered(plan, p, parts);
            t = times.since(SequenceParallelAttention.GATHER, t);
            out = kernel.attendSynthetic(c, plan.local(), inputs, start, plan.length(p), gathered, rows);
            t = times.since(SequenceParallelAttention.KERNEL, t);
        }
        long[] positions = new long[rows.length];
        double worst = -1;
        long worstAt = -1;
        try (SyntheticRowReference reference = new SyntheticRowReference(c, inputs, plan.n())) {
            for (int i = 0; i < rows.length; i++) {
                positions[i] = start + rows[i];
                double e = reference.relativeError(positions[i], out.sampleO(), i * c.rowWidth(), out.sampleLse(),
                        i * c.heads());
                if (!(e <= worst)) {
                    worst = e;
                    worstAt = positions[i];
                }
            }
        }
        times.since(VERIFY, t);
        return new SyntheticPartition(p, start, plan.length(p), out.checksum(), positions, out.sampleO(),
                out.sampleLse(), worst, worstAt, ran);
    }

    /**
     * Partition {@code p}'s sampled rows (block-local), drawn from the counter's sampling stream: even draws
     * anywhere in the partition, odd ones snapped to a row that a dilated branch selects for a drawn head (in
     * turn over the branches with {@code r > 1}), so that the spanning branches' terms are verified too, not only
     * the dense branch's. The same rows on every attempt.
     */
    static int[] sampleRows(PartitionPlan plan, CounterQkv inputs, int p, int samples) {
        DilatedAttentionConfig c = plan.config();
        long start = plan.start(p);
        int length = plan.length(p);
        List<Branch> dilated = new ArrayList<>();
        for (Branch b : c.branches()) {
            if (b.dilation() > 1) {
                dilated.add(b);
            }
        }
        int[] rows = new int[samples];
        for (int i = 0; i < samples; i++) {
            long x = start + inputs.draw(p, 4 * i, length);
            if (i % 2 == 1 && !dilated.isEmpty()) {
                Branch b = dilated.get(i / 2 % dilated.size());
                int head = (int) inputs.draw(p, 4 * i + 1, c.heads());
                long w = b.segmentLength();
                long r = b.dilation();
                long segmentStart = x / w * w;
                long first = segmentStart + c.offset(b, head);
                long snapped = x < first ? first : first + (x - first) / r * r;
                if (snapped < start) {
                    snapped += r;
                }
                if (snapped >= start && snapped < start + length && snapped < segmentStart + w) {
                    x = snapped;
                }
            }
            rows[i] = (int) (x - start);
        }
        return rows;
    }

    /**
     * The partition length for branches written in terms of it ({@link io.longnet.attention.BranchTemplate}):
     * {@code requested}, or when 0 the largest power of two whose q, k, v (float32) fit the task size the plan
     * would choose for {@code backend} ({@link PartitionPlan#GPU_TASK_BYTES} on GPU tasks,
     * {@link PartitionPlan#DEFAULT_TASK_BYTES} otherwise), at most the largest power of two up to {@code n}.
     */
    public static int partitionLength(SparkContext sc, Backend backend, int rowWidth, long n, int requested) {
        if (requested != 0) {
            return requested;
        }
        long taskBytes = TaskGpu.planned(sc, backend, io.longnet.attention.AttentionKernelProvider.class, "backend")
                ? PartitionPlan.GPU_TASK_BYTES : PartitionPlan.DEFAULT_TASK_BYTES;
        long fits = Math.max(1, taskBytes / (3L * rowWidth * Float.BYTES));
        return (int) Math.min(Long.highestOneBit(fits), Long.highestOneBit(Math.max(1, n)));
    }
}
