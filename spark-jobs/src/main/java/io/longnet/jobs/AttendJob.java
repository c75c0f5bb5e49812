package io.longnet.jobs;

import io.longnet.attention.Backend;
import io.longnet.storage.AtomicOutput;
import io.longnet.attention.Branch;
import io.longnet.attention.DilatedAttentionConfig;
import io.longnet.spark.AttentionPartition;
import io.longnet.spark.PartitionPlan;
import io.longnet.spark.PhaseTimes;
import io.longnet.spark.QkvPartition;
import io.longnet.spark.SequenceParallelAttention;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import org.apache.spark.util.CollectionAccumulator;

/**
 * {@code longnet attend}: dilated attention of one sequence's q, k, v through the sequence-parallel plan,
 * written as o and lse. The CLI parses flags into a {@link Request}; tests call {@link #run} directly.
 */
final class AttendJob {

    /** What to compute; {@code heads} null to take H from the input, {@code partitionLength} 0 to choose. */
    record Request(String qkv, String out, List<Branch> branches, Integer heads, boolean causal,
                   int partitionLength, Backend backend, boolean overwrite) {
    }

    /** What the job measured. */
    record Summary(PartitionPlan plan, double seconds, long maxShuffleReadPerPartition,
                   double meanShuffleReadPerPartition, String backends) {
        double tokensPerSecond() {
            return plan.n() / seconds;
        }
    }

    private AttendJob() {
    }

    static Summary run(SparkSession spark, Request request, PrintStream out) throws IOException {
        long t0 = System.nanoTime();
        java.util.TreeSet<String> backends = new java.util.TreeSet<>();
        var conf = spark.sparkContext().hadoopConfiguration();
        AtomicOutput.requireAbsent(request.out(), conf, request.overwrite());
        QkvInput input = QkvInput.open(request.qkv(), conf);
        QkvInput.Shape shape = input.shape();
        if (request.heads() != null && request.heads() != shape.heads()) {
            throw new IllegalArgumentException("--heads " + request.heads() + " does not match the input's H = "
                    + shape.heads() + " (q, k, v are " + Arrays.toString(shape.dims()) + ")");
        }
        DilatedAttentionConfig config = DilatedAttentionConfig.of(request.branches(), shape.heads(), shape.headDim(),
                request.causal());
        PartitionPlan plan = PartitionPlan.forAttention(spark.sparkContext(), request.backend(), config, shape.n(),
                request.partitionLength());
        out.printf(Locale.ROOT, "plan: %s; H=%d, d=%d, %s, backend %s%n", plan.describe(), config.heads(),
                config.headDim(), config.causal() ? "causal" : "non-causal", request.backend());

        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        jsc.setJobDescription("longnet attend " + config.branches() + " N=" + plan.n());
        jsc.setCallSite("qkv");
        List<String> phases = new ArrayList<>();
        phases.add(QkvInput.READ);
        phases.addAll(SequenceParallelAttention.PHASES);
        phases.add(AttentionOutput.WRITE);
        PhaseTimes times = PhaseTimes.register(spark.sparkContext(), phases);
        JavaRDD<QkvPartition> qkv = input.blocks(spark, plan, times).setName("qkv");
        if (!plan.spanning().isEmpty()) {
            // Every exchange and the attend stage read qkv: keep what fits in memory rather than read and
            // convert the file again for each (what does not fit is read again, never spilled and read back).
            qkv.persist(StorageLevel.MEMORY_ONLY());
        }
        // Which backend computed each partition, for the summary (a set accumulator: a few names).
        CollectionAccumulator<String> ran = spark.sparkContext().collectionAccumulator("backends");
        JavaRDD<AttentionPartition> attended = SequenceParallelAttention.attend(qkv, plan, request.backend(), times)
                .map(b -> {
                    ran.add(b.backend());
                    return b;
                });

        StageMetrics metrics = new StageMetrics(SequenceParallelAttention.ATTEND_STAGE, plan.partitions(),
                plan.n(), out);
        spark.sparkContext().addSparkListener(metrics);
        long planned = System.nanoTime();
        try {
            jsc.setCallSite(SequenceParallelAttention.ATTEND_STAGE);
            AttentionOutput.write(spark, attended, plan, request.out(), metadata(plan, request), times,
                    request.overwrite());
            spark.sparkContext().listenerBus().waitUntilEmpty();
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IOException("Spark's listener bus did not drain", e);
        } finally {
            qkv.unpersist(false);
            spark.sparkContext().removeSparkListener(metrics);
            backends.addAll(ran.value());
            jsc.clearCallSite();
        }
        long end = System.nanoTime();
        Summary summary = new Summary(plan, (end - t0) / 1e9, metrics.maxShuffleRead(),
                metrics.meanShuffleRead(), String.join(", ", backends));
        // Where the time went: the driver's part, every stage, and the tasks' phases (summed over tasks,
        // which run in parallel: compare them with each other, not with the wall time).
        out.printf(Locale.ROOT, "time: %.2f s planning (input header, plan), %.2f s in Spark jobs and the"
                + " output's commit%n", (planned - t0) / 1e9, (end - planned) / 1e9);
        for (String line : metrics.stageLines()) {
            out.println("  " + line);
        }
        out.println("task time by phase: " + times.describe());
        out.printf(Locale.ROOT, "done: %d tokens in %.2f s, %.0f tokens/s; shuffle read per partition: max %d B,"
                + " mean %.0f B; backend: %s; wrote %s%n", plan.n(), summary.seconds(), summary.tokensPerSecond(),
                summary.maxShuffleReadPerPartition(), summary.meanShuffleReadPerPartition(), summary.backends(),
                request.out());
        return summary;
    }

    private static Map<String, String> metadata(PartitionPlan plan, Request request) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("longnet.branches", plan.config().branches().toString().replaceAll("[\\[\\] ]", ""));
        m.put("longnet.causal", Boolean.toString(plan.config().causal()));
        m.put("longnet.head_offset", plan.config().headOffset().name());
        m.put("longnet.source", request.qkv());
        return m;
    }
}
