package io.longnet.jobs;

import io.longnet.attention.Backend;
import io.longnet.attention.BranchTemplate;
import io.longnet.attention.CounterQkv;
import io.longnet.attention.OutputChecksum;
import io.longnet.attention.CpuAttentionKernel;
import io.longnet.attention.DilatedAttentionConfig;
import io.longnet.attention.bench.AttentionBench;
import io.longnet.spark.ExchangeMode;
import io.longnet.spark.PartitionPlan;
import io.longnet.spark.PhaseTimes;
import io.longnet.spark.QkvPartition;
import io.longnet.spark.SequenceParallelAttention;
import io.longnet.spark.SyntheticAttention;
import io.longnet.spark.SyntheticPartition;
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
 * the master has cores: job time over engine time, tokens/s and shuffle read per partition. With
 * {@code --synthetic} ({@link #runSynthetic}), the job alone at scale over counter-generated inputs
 * ({@link SyntheticAttention}): checksums, sampled rows verified against float64, and the exchange's shuffle
 * blocks and bytes per partition.
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

    /** What {@code bench attend --synthetic} runs. */
    record SyntheticRequest(BranchTemplate branches, int heads, int dim, List<Long> tokens, List<Boolean> causal,
                            int partitionLength, Backend backend, boolean bf16, long seed, int samples,
                            ExchangeMode exchange) {
    }

    /** One synthetic run: its plan, time, shuffle figures, combined checksum, worst sampled error and partitions. */
    record SyntheticRun(PartitionPlan plan, double jobSeconds, long blocks, long maxBlocks, long maxShuffle,
                        double meanShuffle, OutputChecksum checksum, double worstError, long worstPosition,
                        List<SyntheticPartition> partitions) {
    }

    /** A sampled row whose error exceeds the precision's bound: the run fails. */
    static final class VerificationFailed extends RuntimeException {
        VerificationFailed(String message) {
            super(message);
        }
    }

    /** The worst relative error a sampled row may have: 1e-2 with bf16 inputs, 1e-5 with fp32 ones. */
    static double bound(boolean bf16) {
        return bf16 ? 1e-2 : 1e-5;
    }

    /**
     * Runs every N and causal flag of {@code r}, printing a table row each; throws {@link VerificationFailed}
     * after the row of a run whose worst sampled error exceeds {@link #bound}.
     */
    static List<SyntheticRun> runSynthetic(SparkSession spark, SyntheticRequest r, PrintStream out)
            throws TimeoutException {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        CounterQkv inputs = CounterQkv.of(r.seed(), r.bf16());
        String precision = r.bf16() ? "bf16" : "fp32";
        out.printf(Locale.ROOT, "bench attend --synthetic: branches %s, H=%d, d=%d, %s inputs (seed %d), %d sampled"
                        + " rows per partition, exchange %s, backend %s, master %s%n", r.branches().text(), r.heads(),
                r.dim(), precision, r.seed(), r.samples(), r.exchange(), r.backend(), spark.sparkContext().master());
        out.printf(Locale.ROOT, "%11s %6s %9s %6s %9s %12s %8s %8s %12s %12s %9s  %s%n", "N", "causal", "L", "parts",
                "job s", "tokens/s", "blocks", "max/task", "read max B", "read mean B", "max err", "checksum");
        List<SyntheticRun> runs = new ArrayList<>();
        for (long n : r.tokens()) {
            int length = SyntheticAttention.partitionLength(spark.sparkContext(), r.backend(), r.heads() * r.dim(), n,
                    r.partitionLength());
            for (boolean causal : r.causal()) {
                DilatedAttentionConfig config = DilatedAttentionConfig.of(r.branches().resolve(length, n), r.heads(),
                        r.dim(), causal);
                PartitionPlan plan = PartitionPlan.of(config, n, length, PartitionPlan.DEFAULT_TASK_BYTES);
                StageMetrics metrics = new StageMetrics(SequenceParallelAttention.ATTEND_STAGE, plan.partitions(),
                        n, new PrintStream(PrintStream.nullOutputStream()));
                PhaseTimes times = PhaseTimes.register(spark.sparkContext(), SyntheticAttention.PHASES);
                spark.sparkContext().addSparkListener(metrics);
                List<SyntheticPartition> parts;
                double job;
                try {
                    jsc.setJobDescription("longnet bench attend --synthetic N=" + n + " causal=" + causal);
                    long t0 = System.nanoTime();
                    JavaRDD<SyntheticPartition> attended = SyntheticAttention.attend(spark.sparkContext(), plan,
                            inputs, r.backend(), r.samples(), r.exchange(), times);
                    jsc.setCallSite(SequenceParallelAttention.ATTEND_STAGE);
                    // One small record per partition (a checksum and a few rows), never the sequence.
                    parts = attended.collect();
                    job = (System.nanoTime() - t0) / 1e9;
                    spark.sparkContext().listenerBus().waitUntilEmpty();
                } finally {
                    spark.sparkContext().removeSparkListener(metrics);
                    jsc.clearCallSite();
                }
                SyntheticRun run = summarise(plan, job, metrics, parts);
                runs.add(run);
                out.printf(Locale.ROOT, "%11d %6s %9d %6d %9.2f %12.0f %8d %8d %12d %12.0f %9.1e  %s%n", n, causal,
                        length, plan.partitions(), job, n / job, run.blocks(), run.maxBlocks(), run.maxShuffle(),
                        run.meanShuffle(), run.worstError(), run.checksum().describe());
                out.println("  " + plan.describe() + "; ran on " + parts.get(0).backend() + "; task time: "
                        + times.describe());
                out.println("  " + sample(config, parts.get(0)));
                verify(run, r.bf16());
            }
        }
        return runs;
    }

    /** Throws {@link VerificationFailed}, naming the row, when {@code run}'s worst sampled error exceeds the bound. */
    static void verify(SyntheticRun run, boolean bf16) {
        if (!(run.worstError() <= bound(bf16))) {
            throw new VerificationFailed(String.format(Locale.ROOT, "verification failed: N=%d causal=%s: the sampled"
                    + " row at position %d has relative error %.2e against float64, above the %s bound %.0e",
                    run.plan().n(), run.plan().config().causal(), run.worstPosition(), run.worstError(),
                    bf16 ? "bf16" : "fp32", bound(bf16)));
        }
    }

    private static SyntheticRun summarise(PartitionPlan plan, double job, StageMetrics metrics,
                                          List<SyntheticPartition> parts) {
        OutputChecksum sum = OutputChecksum.ZERO;
        double worst = 0;
        long worstAt = -1;
        for (SyntheticPartition p : parts) {
            sum = sum.plus(p.checksum());
            if (!(p.worstError() <= worst)) {
                worst = p.worstError();
                worstAt = p.worstPosition();
            }
        }
        return new SyntheticRun(plan, job, metrics.totalBlocks(), metrics.maxBlocks(), metrics.maxShuffleRead(),
                metrics.meanShuffleRead(), sum, worst, worstAt, parts);
    }

    /** Partition {@code p}'s first sampled row, head 0: its position, lse and first o values. */
    private static String sample(DilatedAttentionConfig config, SyntheticPartition p) {
        StringBuilder s = new StringBuilder(String.format(Locale.ROOT, "sample: position %d head 0: lse %.6f, o",
                p.samplePositions()[0], p.sampleLse()[0]));
        for (int c = 0; c < Math.min(4, config.headDim()); c++) {
            s.append(String.format(Locale.ROOT, " %.6f", p.sampleO()[c]));
        }
        return s.append(config.headDim() > 4 ? " ..." : "").toString();
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
