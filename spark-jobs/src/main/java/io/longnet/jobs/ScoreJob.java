package io.longnet.jobs;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.size;
import static org.apache.spark.sql.functions.sum;

import io.longnet.attention.AttentionBackends;
import io.longnet.attention.AttentionKernel;
import io.longnet.datasets.HadoopFiles;
import io.longnet.datasets.TokenBlocks;
import io.longnet.datasets.TokenManifest;
import io.longnet.model.LongNetConfig;
import io.longnet.model.LongNetModel;
import io.longnet.spark.PartitionIdPartitioner;
import io.longnet.spark.PartitionPlan;
import io.longnet.spark.SequenceParallelModel;
import io.longnet.spark.SequenceParallelModel.TokenBlock;
import java.io.IOException;
import java.io.PrintStream;
import java.io.Serializable;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import scala.Tuple2;

/**
 * {@code longnet score}: next-token log-probabilities of every sequence of a token dataset under a LongNet
 * model; per sequence, its token count, mean negative log-likelihood and perplexity. Sequences that fit one
 * partition are scored whole inside a task (data-parallel over sequences); longer ones go through the
 * sequence-parallel model (one job each, an exchange shuffle per spanning branch and layer).
 */
final class ScoreJob {

    static final StructType SCORES = new StructType()
            .add("seq_id", DataTypes.LongType, false)
            .add("tokens", DataTypes.LongType, false)
            .add("mean_nll", DataTypes.DoubleType, true)
            .add("perplexity", DataTypes.DoubleType, true);
    static final StructType LOG_PROBS = new StructType()
            .add("seq_id", DataTypes.LongType, false)
            .add("block", DataTypes.LongType, false)
            .add("log_probs", DataTypes.createArrayType(DataTypes.FloatType, false), false);

    record Request(String tokens, String model, String out, boolean perToken, int partitionLength, String backend,
                   int checkpointEvery, boolean overwrite) {
    }

    record Summary(long sequences, long tokens, double meanNll, double seconds) {
        double perplexity() {
            return Math.exp(meanNll);
        }
    }

    /** Log-probabilities of one sequence's positions [start, start + lp.length). */
    record Scored(long seqId, long start, float[] logProbs) implements Serializable {
    }

    private ScoreJob() {
    }

    static Summary run(SparkSession spark, Request r, PrintStream out) throws IOException {
        long t0 = System.nanoTime();
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        AttentionOutput.checkTarget(r.out(), r.overwrite(), conf);
        AttentionBackends.validate(r.backend());
        LongNetModel model = LongNetModel.load(Path.of(r.model()));
        LongNetConfig config = model.config();
        TokenManifest manifest = TokenManifest.read(r.tokens(), conf);
        if (manifest.vocabSize() > config.vocabSize()) {
            throw new IllegalArgumentException("tokens of " + r.tokens() + " come from a vocabulary of "
                    + manifest.vocabSize() + " (" + manifest.tokenizer() + "), the model's has " + config.vocabSize());
        }
        int blockSize = manifest.blockSize();
        Dataset<Row> rows = TokenBlocks.read(spark, r.tokens());
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        jsc.setJobDescription("longnet score " + r.tokens());

        // Sequence lengths: plan metadata for the driver (one number per sequence), not data.
        Map<Long, Long> lengths = new HashMap<>();
        for (Row row : rows.groupBy("seq_id").agg(sum(size(col("tokens")))).collectAsList()) {
            lengths.put(row.getLong(0), row.getLong(1));
        }
        Set<Long> shortOnes = new HashSet<>();
        List<Long> longOnes = new ArrayList<>();
        for (Map.Entry<Long, Long> e : lengths.entrySet()) {
            PartitionPlan plan = PartitionPlan.of(config.attentionConfig(), e.getValue(), r.partitionLength(),
                    PartitionPlan.DEFAULT_TASK_BYTES);
            (plan.partitions() == 1 ? shortOnes : longOnes).add(e.getKey());
        }
        out.printf(Locale.ROOT, "score: %d sequence(s), %d token(s); %d scored whole in a task, %d sequence-parallel%n",
                lengths.size(), lengths.values().stream().mapToLong(Long::longValue).sum(), shortOnes.size(),
                longOnes.size());

        Broadcast<LongNetConfig> configB = jsc.broadcast(config);
        Broadcast<io.longnet.model.ModelWeights> weightsB = jsc.broadcast(model.weights());
        Broadcast<Set<Long>> shortB = jsc.broadcast(shortOnes);
        String backend = r.backend();
        jsc.setCallSite("score whole sequences");
        JavaRDD<Scored> scored = rows.javaRDD()
                .filter(row -> shortB.value().contains(row.getLong(0)))
                .mapToPair(row -> new Tuple2<>(row.getLong(0), new Tuple2<>(row.getLong(1), toInts(row.getList(2)))))
                .groupByKey()
                .mapPartitions(seqs -> {
                    List<Scored> result = new ArrayList<>();
                    LongNetModel m = new LongNetModel(configB.value(), weightsB.value());
                    TaskContext task = TaskContext.get();
                    try (AttentionKernel kernel = AttentionBackends.open(backend, task == null ? 1 : task.cpus(), -1)) {
                        while (seqs.hasNext()) {
                            Tuple2<Long, Iterable<Tuple2<Long, int[]>>> s = seqs.next();
                            int[] ids = concat(s._2());
                            float[] lp = ids.length > 1 ? m.nextTokenLogProbs(ids, kernel) : new float[0];
                            result.add(new Scored(s._1(), 0, lp));
                        }
                    }
                    return result.iterator();
                });
        for (long seq : longOnes) {
            scored = scored.union(sequenceParallel(jsc, rows, config, model, seq, lengths.get(seq), blockSize, r));
        }
        scored = scored.cache();
        write(spark, scored, r, blockSize);
        // The totals, from the cached scores (a few numbers per sequence reach the driver).
        List<Tuple2<Long, double[]>> totals = scored.mapToPair(s -> new Tuple2<>(s.seqId(), new double[] {sumOf(s.logProbs()),
                s.logProbs().length})).reduceByKey((a, b) -> new double[] {a[0] + b[0], a[1] + b[1]}).collect();
        scored.unpersist();
        double lpSum = 0;
        double predictions = 0;
        for (Tuple2<Long, double[]> t : totals) {
            lpSum += t._2()[0];
            predictions += t._2()[1];
        }
        Summary summary = new Summary(lengths.size(), lengths.values().stream().mapToLong(Long::longValue).sum(),
                predictions == 0 ? Double.NaN : -lpSum / predictions, (System.nanoTime() - t0) / 1e9);
        out.printf(Locale.ROOT, "done: %d sequence(s), %d tokens in %.2f s; mean NLL %.4f nats/token, perplexity %.3f;"
                + " wrote %s%n", summary.sequences(), summary.tokens(), summary.seconds(), summary.meanNll(),
                summary.perplexity(), r.out());
        jsc.clearCallSite();
        return summary;
    }

    /** One long sequence through the sequence-parallel model: its blocks regrouped into partitions of L. */
    private static JavaRDD<Scored> sequenceParallel(JavaSparkContext jsc, Dataset<Row> rows, LongNetConfig config,
                                                    LongNetModel model, long seq, long n, int blockSize, Request r) {
        SequenceParallelModel spm = new SequenceParallelModel(jsc, config, model.weights(), n, r.partitionLength(),
                r.backend(), r.checkpointEvery());
        PartitionPlan plan = spm.plan();
        int length = plan.partitionLength();
        if (length % blockSize != 0) {
            throw new IllegalArgumentException("partition length " + length + " is not a multiple of the token"
                    + " dataset's block size " + blockSize);
        }
        int perPartition = length / blockSize;
        jsc.setCallSite("score sequence " + seq + " (" + plan.describe() + ")");
        // Each partition also needs the token after it: the first block of a partition goes to the previous too.
        JavaRDD<TokenBlock> tokens = rows.filter(col("seq_id").equalTo(seq)).javaRDD()
                .flatMapToPair(row -> {
                    long block = row.getLong(1);
                    int p = (int) (block / perPartition);
                    int[] ids = toInts(row.getList(2));
                    List<Tuple2<Integer, Tuple2<Long, int[]>>> to = new ArrayList<>(2);
                    to.add(new Tuple2<>(p, new Tuple2<>(block, ids)));
                    if (block % perPartition == 0 && p > 0) {
                        to.add(new Tuple2<>(p - 1, new Tuple2<>(block, ids)));
                    }
                    return to.iterator();
                })
                .partitionBy(new PartitionIdPartitioner(plan.partitions()))
                .mapPartitionsWithIndex((p, blocks) -> {
                    List<Tuple2<Long, int[]>> mine = new ArrayList<>();
                    int next = -1;
                    long nextBlock = (long) (p + 1) * perPartition;
                    while (blocks.hasNext()) {
                        Tuple2<Long, int[]> b = blocks.next()._2();
                        if (b._1() == nextBlock) {
                            next = b._2()[0];
                        } else {
                            mine.add(b);
                        }
                    }
                    return List.of(new TokenBlock(p, (long) p * length, concat(mine), next)).iterator();
                }, true);
        return spm.nextTokenLogProbs(tokens).map(b -> new Scored(seq, b.start(), b.logProbs()));
    }

    private static void write(SparkSession spark, JavaRDD<Scored> scored, Request r, int blockSize) throws IOException {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        org.apache.hadoop.fs.Path target = new org.apache.hadoop.fs.Path(r.out());
        FileSystem fs = HadoopFiles.withoutChecksums(target.getFileSystem(conf));
        org.apache.hadoop.fs.Path tmp = new org.apache.hadoop.fs.Path(target.getParent(),
                "." + target.getName() + ".longnet-tmp-" + UUID.randomUUID());
        try {
            JavaRDD<Row> perSequence = scored
                    .mapToPair(s -> new Tuple2<>(s.seqId(), new double[] {sumOf(s.logProbs()), s.logProbs().length}))
                    .reduceByKey((a, b) -> new double[] {a[0] + b[0], a[1] + b[1]})
                    .map(t -> {
                        double predictions = t._2()[1];
                        Double nll = predictions == 0 ? null : -t._2()[0] / predictions;
                        return RowFactory.create(t._1(), (long) predictions + 1, nll, nll == null ? null : Math.exp(nll));
                    });
            spark.createDataFrame(perSequence, SCORES).write().parquet(new org.apache.hadoop.fs.Path(tmp, "sequences").toString());
            if (r.perToken()) {
                // Rows of B positions aligned with the token blocks; a sequence's last position predicts nothing,
                // so its last row is one shorter.
                JavaRDD<Row> lp = scored.flatMap(s -> {
                    List<Row> out = new ArrayList<>();
                    float[] v = s.logProbs();
                    for (long at = s.start() / blockSize * blockSize; at < s.start() + v.length; at += blockSize) {
                        List<Float> values = new ArrayList<>(blockSize);
                        for (long p = Math.max(at, s.start()); p < Math.min(at + blockSize, s.start() + v.length); p++) {
                            values.add(v[(int) (p - s.start())]);
                        }
                        out.add(RowFactory.create(s.seqId(), at / blockSize, values.toArray(new Float[0])));
                    }
                    return out.iterator();
                });
                spark.createDataFrame(lp, LOG_PROBS).write().parquet(new org.apache.hadoop.fs.Path(tmp, "log_probs").toString());
            }
            if (fs.exists(target) && !fs.delete(target, true)) {
                throw new IOException("could not replace " + target);
            }
            if (!fs.rename(tmp, target)) {
                throw new IOException("could not move the finished output to " + target);
            }
        } finally {
            fs.delete(tmp, true);
        }
    }

    private static int[] toInts(List<Integer> list) {
        int[] a = new int[list.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = list.get(i);
        }
        return a;
    }

    /** Blocks in order, their tokens end to end. */
    private static int[] concat(Iterable<Tuple2<Long, int[]>> blocks) {
        List<Tuple2<Long, int[]>> sorted = new ArrayList<>();
        blocks.forEach(sorted::add);
        sorted.sort(Comparator.comparingLong(Tuple2::_1));
        int total = 0;
        for (Tuple2<Long, int[]> b : sorted) {
            total += b._2().length;
        }
        int[] out = new int[total];
        int at = 0;
        for (Tuple2<Long, int[]> b : sorted) {
            System.arraycopy(b._2(), 0, out, at, b._2().length);
            at += b._2().length;
        }
        return out;
    }

    private static double sumOf(float[] v) {
        double s = 0;
        for (float x : v) {
            s += x;
        }
        return s;
    }
}
