package io.longnet.jobs;


import io.longnet.attention.Backend;
import io.longnet.attention.CpuAttentionKernel;
import io.longnet.attention.DilatedAttentionConfig;
import io.longnet.attention.bench.AttentionBench;
import io.longnet.spark.PartitionPlan;
import io.longnet.spark.QkvPartition;
import io.longnet.spark.SequenceParallelAttention;
import java.io.PrintStream;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.TimeoutException;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

/**
 * {@code longnet bench attend}: the sequence-parallel job on synthetic inputs (generated inside the
 * tasks, results discarded) against the single-process engine on the same N with as many threads as
 * the master has cores: job time over engine time, tokens/s and shuffle read per partition.
 */
final class AttendBench {

    private AttendBench() {
    }

    record Row(long n, boolean causal, PartitionPlan plan, double jobSeconds, double engineSeconds,
               long maxShuffle, double meanShuffle) {
    }

    static List<Row> run(SparkSession spark, DilatedAttentionConfig base, List<Long> sizes, List<Boolean> causal,
                         int partitionLength, PrintStream out) throws TimeoutException {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        int threads = spark.sparkContext().defaultParallelism();
        out.printf(Locale.ROOT, "bench attend: branches %s, H=%d, d=%d, fp32, master %s, engine threads %d%n",
                base.branches(), base.heads(), base.headDim(), spark.sparkContext().master(), threads);
        out.printf(Locale.ROOT, "%11s %6s %7s %6s %9s %9s %7s %11s %14s %14s%n", "N", "causal", "L", "parts",
                "job s", "engine s", "ratio", "tokens/s", "shuffle max B", "shuffle mean B");
        List<Row> rows = new ArrayList<>();
        for (long n : sizes) {
            for (boolean c : causal) {
                DilatedAttentionConfig config = base.withCausal(c);
                PartitionPlan plan = PartitionPlan.of(config, n, partitionLength, PartitionPlan.DEFAULT_TASK_BYTES);
                StageMetrics metrics = new StageMetrics(SequenceParallelAttention.ATTEND_STAGE, plan.partitions(),
                        n, new PrintStream(PrintStream.nullOutputStream()));
                spark.sparkContext().addSparkListener(metrics);
                double job;
                try {
                    jsc.setJobDescription("longnet bench attend N=" + n);
                    jsc.setCallSite("qkv");
                    JavaRDD<QkvPartition> qkv = plan.partitionIds(spark.sparkContext()).map(p -> synthetic(plan, p));
                    long t0 = System.nanoTime();
                    JavaRDD<?> attended = SequenceParallelAttention.attend(qkv, plan, Backend.CPU);
                    jsc.setCallSite(SequenceParallelAttention.ATTEND_STAGE);
                    attended.foreach(b -> { });
                    job = (System.nanoTime() - t0) / 1e9;
                    spark.sparkContext().listenerBus().waitUntilEmpty();
                } finally {
                    spark.sparkContext().removeSparkListener(metrics);
                    jsc.clearCallSite();
                }
                double engine = engineSeconds(config, n, threads);
                Row row = new Row(n, c, plan, job, engine, metrics.maxShuffleRead(), metrics.meanShuffleRead());
                rows.add(row);
                out.printf(Locale.ROOT, "%11d %6s %7d %6d %9.2f %9.2f %7.2f %11.0f %14d %14.0f%n", n, c,
                        plan.partitionLength(), plan.partitions(), job, engine, job / engine, n / job,
                        row.maxShuffle(), row.meanShuffle());
            }
        }
        return rows;
    }

    /** Random q, k, v of one partition, uniform in (-1, 1), seeded by the partition. */
    static QkvPartition synthetic(PartitionPlan plan, int p) {
        int len = plan.length(p);
        int size = len * plan.config().rowWidth();
        SplittableRandom rnd = new SplittableRandom(p * 0x9E3779B97F4A7C15L);
        float[][] t = new float[3][size];
        for (float[] a : t) {
            AttentionBench.uniform(a, size, rnd.nextLong());
        }
        return new QkvPartition(p, plan.start(p), len, t[0], t[1], t[2]);
    }

    /**
     * The engine alone over n positions, in chunks of whole segments of every branch (at least 2^18
     * positions), fresh inputs per chunk, generation not timed.
     */
    static double engineSeconds(DilatedAttentionConfig config, long n, int threads) {
        int maxW = config.maxSegmentLength();
        int chunk = (int) Math.min(n, Math.max(maxW, (1 << 18) / maxW * maxW));
        int width = config.rowWidth();
        float[][] t = new float[3][chunk * width];
        FloatBuffer o = FloatBuffer.allocate(chunk * width);
        FloatBuffer lse = FloatBuffer.allocate(chunk * config.heads());
        long nanos = 0;
        try (CpuAttentionKernel kernel = new CpuAttentionKernel(threads)) {
            for (long done = 0; done < n; done += chunk) {
                int len = (int) Math.min(chunk, n - done);
                for (int i = 0; i < 3; i++) {
                    AttentionBench.uniform(t[i], len * width, done * 3 + i);
                }
                long t0 = System.nanoTime();
                kernel.forward(config, FloatBuffer.wrap(t[0]), FloatBuffer.wrap(t[1]), FloatBuffer.wrap(t[2]), len,
                        o, lse);
                nanos += System.nanoTime() - t0;
            }
        }
        return nanos / 1e9;
    }

}
