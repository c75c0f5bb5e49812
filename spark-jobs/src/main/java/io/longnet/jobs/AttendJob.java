package io.longnet.jobs;

import io.longnet.attention.AttentionKernel;
import io.longnet.attention.Backend;
import io.longnet.attention.NonFiniteValue;
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
import java.nio.FloatBuffer;
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
                   int partitionLength, Backend backend, boolean overwrite, boolean keepNonFinite) {

        /** A request that refuses non-finite results. */
        Request(String qkv, String out, List<Branch> branches, Integer heads, boolean causal, int partitionLength,
                Backend backend, boolean overwrite) {
            this(qkv, out, branches, heads, causal, partitionLength, backend, overwrite, false);
        }
    }

    /** How the partitions' data moved. */
    enum DataPath {
        /** Each task mapped its rows of a local input file and computed into the output file's mapped rows. */
        MAPPED("file to file through mapped rows"),
        /** Partitions read into float rows, exchanged through Spark where branches span, written by the tasks. */
        ROWS("rows through Spark");

        private final String description;

        DataPath(String description) {
            this.description = description;
        }

        @Override
        public String toString() {
            return description;
        }
    }

    /** The kernel's own phases ({@link AttentionKernel#PHASES}) where it tells them apart, within "kernel". */
    static final List<String> KERNEL_PHASES = AttentionKernel.PHASES.stream()
            .map(p -> SequenceParallelAttention.KERNEL + ": " + p).toList();

    /** The phase of {@link PhaseTimes} the check of the results for infinities and NaN goes to. */
    static final String CHECK = "results check";

    /** What the job measured. */
    record Summary(PartitionPlan plan, double seconds, long maxShuffleReadPerPartition,
                   double meanShuffleReadPerPartition, String backends, DataPath path) {
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
        List<String> phases = new ArrayList<>();
        phases.add(QkvInput.READ);
        phases.addAll(SequenceParallelAttention.PHASES);
        phases.addAll(KERNEL_PHASES);
        phases.add(CHECK);
        phases.add(AttentionOutput.WRITE);
        PhaseTimes times = PhaseTimes.register(spark.sparkContext(), phases);
        StageMetrics metrics = new StageMetrics(SequenceParallelAttention.ATTEND_STAGE, plan.partitions(),
                plan.n(), out);
        spark.sparkContext().addSparkListener(metrics);
        long planned = System.nanoTime();
        DataPath path = plan.spanning().isEmpty() && input instanceof SafetensorsQkv file && file.mappable(plan)
                && AttentionOutput.mappable(request.out(), plan, conf) ? DataPath.MAPPED : DataPath.ROWS;
        out.println("data path: " + path);
        try {
            if (path == DataPath.MAPPED) {
                jsc.setCallSite(SequenceParallelAttention.ATTEND_STAGE);
                backends.addAll(attendMapped(spark, (SafetensorsQkv) input, plan, request, times));
            } else {
                backends.addAll(attendRows(spark, input, plan, request, times));
            }
            spark.sparkContext().listenerBus().waitUntilEmpty();
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IOException("Spark's listener bus did not drain", e);
        } finally {
            spark.sparkContext().removeSparkListener(metrics);
            jsc.clearCallSite();
        }
        long end = System.nanoTime();
        Summary summary = new Summary(plan, (end - t0) / 1e9, metrics.maxShuffleRead(),
                metrics.meanShuffleRead(), String.join(", ", backends), path);
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

    /**
     * Every branch local, file to file on this machine's disk: one stage whose tasks map their rows of the
     * input, attend them into the output file's mapped rows and check them there. Nothing of a partition is
     * copied onto the heap, and a 16-bit input reaches the kernel as it is stored.
     */
    private static List<String> attendMapped(SparkSession spark, SafetensorsQkv file, PartitionPlan plan,
                                             Request request, PhaseTimes times) throws IOException {
        DilatedAttentionConfig config = plan.config();
        Backend backend = request.backend();
        boolean keep = request.keepNonFinite();
        return AttentionOutput.writeMapped(spark, plan, request.out(), metadata(plan, request), times,
                request.overwrite(), (p, o, lse) -> {
                    long t = System.nanoTime();
                    String ran;
                    NonFiniteValue bad;
                    try (SafetensorsQkv.MappedQkv rows = file.map(plan, p)) {
                        t = times.since(QkvInput.READ, t);
                        try (AttentionKernel kernel = SequenceParallelAttention.openForTask(backend)) {
                            t = times.since(SequenceParallelAttention.OPEN, t);
                            ran = kernel.name();
                            bad = rows.attend(kernel, config, plan.local(), o, lse);
                            times.since(SequenceParallelAttention.KERNEL, t);
                            kernel.phaseNanos().forEach((phase, nanos) -> times.add(KERNEL_PHASES.get(
                                    AttentionKernel.PHASES.indexOf(phase)), nanos));
                        }
                    }
                    if (bad != null && !keep) {
                        throw nonFiniteResult(bad, plan.start(p), config);
                    }
                    return ran;
                });
    }

    /**
     * The general path: partitions as rows of floats (from any file system and format), exchanged for the
     * spanning branches, attended, checked and written by {@link AttentionOutput#write}.
     */
    private static List<String> attendRows(SparkSession spark, QkvInput input, PartitionPlan plan, Request request,
                                           PhaseTimes times) throws IOException {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        jsc.setCallSite("qkv");
        JavaRDD<QkvPartition> qkv = input.blocks(spark, plan, times).setName("qkv");
        if (!plan.spanning().isEmpty()) {
            // Every exchange and the attend stage read qkv: keep what fits in memory rather than read and
            // convert the file again for each (what does not fit is read again, never spilled and read back).
            qkv.persist(StorageLevel.MEMORY_ONLY());
        }
        // Which backend computed each partition, for the summary (a set accumulator: a few names).
        CollectionAccumulator<String> ran = spark.sparkContext().collectionAccumulator("backends");
        boolean keep = request.keepNonFinite();
        JavaRDD<AttentionPartition> attended = SequenceParallelAttention.attend(qkv, plan, request.backend(), times)
                .map(b -> {
                    if (!keep) {
                        long t0 = System.nanoTime();
                        NonFiniteValue bad = NonFiniteValue.firstResult(FloatBuffer.wrap(b.o()), FloatBuffer.wrap(b.lse()));
                        if (bad != null) {
                            throw nonFiniteResult(bad, b.start(), plan.config());
                        }
                        times.since(CHECK, t0);
                    }
                    ran.add(b.backend());
                    return b;
                });
        try {
            jsc.setCallSite(SequenceParallelAttention.ATTEND_STAGE);
            AttentionOutput.write(spark, attended, plan, request.out(), metadata(plan, request), times,
                    request.overwrite());
        } finally {
            qkv.unpersist(false);
        }
        return ran.value();
    }

    /**
     * The error for a result float32 could not hold, {@code bad} counting from position {@code firstPosition}:
     * with finite inputs only an overflow of {@code q·k} (or of the weighted values) gives one.
     */
    static IllegalArgumentException nonFiniteResult(NonFiniteValue bad, long firstPosition,
                                                    DilatedAttentionConfig config) {
        long perPosition = bad.tensor().equals("o") ? config.rowWidth() : config.heads();
        long position = firstPosition + bad.element() / perPosition;
        long head = bad.tensor().equals("o") ? bad.element() / config.headDim() % config.heads()
                : bad.element() % config.heads();
        return new IllegalArgumentException(String.format(Locale.ROOT, "result '%s' is %s at position %d, head %d:"
                + " the attention overflowed float32, so q, k or v are out of range (q·k must stay far below"
                + " 3.4e38); scale them down, or pass --keep-non-finite to write such results", bad.tensor(),
                bad.value(), position, head));
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
