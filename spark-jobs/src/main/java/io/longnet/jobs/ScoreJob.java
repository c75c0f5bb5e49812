package io.longnet.jobs;

import io.longnet.attention.Backend;
import io.longnet.storage.BlockColumns;
import io.longnet.storage.AtomicOutput;
import io.longnet.datasets.TokenBlocks;
import io.longnet.spark.SequenceSlice;
import io.longnet.spark.TokenSequences;
import io.longnet.spark.ml.LongNetScorer;
import java.io.IOException;
import java.io.PrintStream;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
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
            .add(BlockColumns.SEQ_ID, DataTypes.LongType, false)
            .add("tokens", DataTypes.LongType, false)
            .add("mean_nll", DataTypes.DoubleType, true)
            .add("perplexity", DataTypes.DoubleType, true);
    /** Per document: where it is, as the token dataset's document index says, then its scores. */
    static final StructType DOCUMENTS = new StructType(Stream.of("doc", BlockColumns.SEQ_ID, "path", "line")
            .map(TokenBlocks.DOCUMENTS_SCHEMA::apply).toArray(StructField[]::new))
            .add("tokens", DataTypes.LongType, false)
            .add("mean_nll", DataTypes.DoubleType, true)
            .add("perplexity", DataTypes.DoubleType, true);
    static final StructType LOG_PROBS = new StructType()
            .add(BlockColumns.SEQ_ID, DataTypes.LongType, false)
            .add(BlockColumns.BLOCK, DataTypes.LongType, false)
            .add(BlockColumns.LOG_PROBS, DataTypes.createArrayType(DataTypes.FloatType, false), false);

    record Request(String tokens, String model, String out, boolean perToken, int partitionLength, Backend backend,
                   int checkpointEvery, String checkpointDir, boolean overwrite)
            implements ModelJobInputs.Request {
    }

    record Summary(long sequences, long tokens, double meanNll, double seconds) {
        double perplexity() {
            return Math.exp(meanNll);
        }
    }

    /** Where a sequence's documents lie: parallel arrays sorted by first position. */
    record DocumentRanges(long[] doc, long[] first, long[] length, String[] path, long[] line) implements Serializable {
    }

    private ScoreJob() {
    }

    static Summary run(SparkSession spark, Request r, PrintStream out) throws IOException {
        StageMetrics metrics = new StageMetrics();
        spark.sparkContext().addSparkListener(metrics);
        try {
            return ModelJobInputs.run(spark, r, in -> run(spark, r, out, in, metrics));
        } finally {
            spark.sparkContext().removeSparkListener(metrics);
        }
    }

    private static Summary run(SparkSession spark, Request r, PrintStream out, ModelJobInputs in, StageMetrics metrics)
            throws IOException {
        TokenSequences sequences = in.sequences();
        int blockSize = in.manifest().blockSize();
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        jsc.setJobDescription("longnet score " + r.tokens());

        out.println("score: " + sequences.describe());
        double opened = in.seconds();

        JavaRDD<SequenceSlice> scored = sequences.nextTokenLogProbs(jsc, in.model(), r.checkpointEvery())
                .cache();
        // Per sequence, as the ML stage gives it; its totals are a few numbers per sequence on the driver.
        Dataset<Row> perSequence = LongNetScorer.perSequence(spark, scored, "").cache();
        write(spark, scored, perSequence, r, blockSize);
        Row totals = perSequence.agg(functions.sum("log_likelihood"), functions.sum("predictions")).first();
        perSequence.unpersist();
        scored.unpersist();
        double lpSum = totals.isNullAt(0) ? 0 : totals.getDouble(0);
        long predictions = totals.isNullAt(1) ? 0 : totals.getLong(1);
        ModelJobInputs.printRanOn(sequences, out);
        try {
            spark.sparkContext().listenerBus().waitUntilEmpty();
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IOException("Spark's listener bus did not drain", e);
        }
        // Where the time went: the driver's part, every stage, the tasks' phases (summed over tasks).
        out.printf(Locale.ROOT, "time: %.2f s opening the inputs (%s), %.2f s in Spark jobs and the output's"
                + " commit%n", opened, in.openTimes(), in.seconds() - opened);
        for (String line : metrics.stageLines()) {
            out.println("  " + line);
        }
        out.println("task time by phase: " + sequences.phaseTimes().describe());
        Summary summary = new Summary(sequences.count(), sequences.tokens(),
                predictions == 0 ? Double.NaN : -lpSum / predictions, in.seconds());
        out.printf(Locale.ROOT, "done: %d sequence(s), %d tokens in %.2f s (%.0f tokens/s); mean NLL %.4f nats/token,"
                + " perplexity %.3f; wrote %s%n", summary.sequences(), summary.tokens(), summary.seconds(),
                summary.tokens() / summary.seconds(), summary.meanNll(), summary.perplexity(), r.out());
        return summary;
    }

    private static void write(SparkSession spark, JavaRDD<SequenceSlice> scored, Dataset<Row> perSequence, Request r,
                              int blockSize) throws IOException {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        try (AtomicOutput output = AtomicOutput.begin(r.out(), conf, r.overwrite())) {
            org.apache.hadoop.fs.Path tmp = output.temporary();
            perSequence.select(SCORES.fieldNames()[0], java.util.Arrays.copyOfRange(SCORES.fieldNames(), 1,
                    SCORES.fieldNames().length)).write().parquet(new org.apache.hadoop.fs.Path(tmp, "sequences").toString());
            writeDocuments(spark, scored, r, new org.apache.hadoop.fs.Path(tmp, "documents").toString());
            if (r.perToken()) {
                // Rows of B positions aligned with the token blocks; a sequence's last position predicts nothing,
                // so its last row is one shorter.
                JavaRDD<Row> lp = scored.flatMap(s -> {
                    List<Row> out = new ArrayList<>();
                    for (SequenceSlice b : s.byBlock(blockSize, 1)) {
                        out.add(RowFactory.create(b.seqId(), b.start() / blockSize, b.values()));
                    }
                    return out.iterator();
                });
                spark.createDataFrame(lp, LOG_PROBS).write().parquet(new org.apache.hadoop.fs.Path(tmp, "log_probs").toString());
            }
            output.commit();
        }
    }

    /**
     * Per document: its token count and the mean NLL of the predictions whose target lies inside it
     * (position p predicts p + 1); in a concatenated corpus the documents before it are its context.
     * The document index travels as a broadcast of offsets per sequence (a few numbers per document).
     */
    private static void writeDocuments(SparkSession spark, JavaRDD<SequenceSlice> scored, Request r, String dir)
            throws IOException {
        java.util.Map<Long, java.util.List<Row>> bySeq = new java.util.HashMap<>();
        for (Row d : TokenBlocks.documents(spark, r.tokens()).select("doc", BlockColumns.SEQ_ID, "first", "length", "path", "line")
                .collectAsList()) {
            bySeq.computeIfAbsent(d.getLong(1), k -> new ArrayList<>()).add(d);
        }
        java.util.Map<Long, DocumentRanges> ranges = new java.util.HashMap<>();
        bySeq.forEach((seq, docs) -> {
            docs.sort(java.util.Comparator.comparingLong(d -> d.getLong(2)));
            int n = docs.size();
            DocumentRanges dr = new DocumentRanges(new long[n], new long[n], new long[n], new String[n], new long[n]);
            for (int i = 0; i < n; i++) {
                Row d = docs.get(i);
                dr.doc()[i] = d.getLong(0);
                dr.first()[i] = d.getLong(2);
                dr.length()[i] = d.getLong(3);
                dr.path()[i] = d.getString(4);
                dr.line()[i] = d.getLong(5);
            }
            ranges.put(seq, dr);
        });
        org.apache.spark.broadcast.Broadcast<java.util.Map<Long, DocumentRanges>> rangesB =
                JavaSparkContext.fromSparkContext(spark.sparkContext()).broadcast(ranges);
        JavaRDD<Row> rows = scored.flatMapToPair(s -> {
            List<Tuple2<Tuple2<Long, Integer>, double[]>> out = new ArrayList<>();
            DocumentRanges dr = rangesB.value().get(s.seqId());
            if (dr == null) {
                return out.iterator();
            }
            long end = s.start() + s.values().length;
            int i = java.util.Arrays.binarySearch(dr.first(), s.start());
            i = i >= 0 ? i : Math.max(0, -i - 2);
            for (; i < dr.first().length && dr.first()[i] < end; i++) {
                long from = Math.max(s.start(), dr.first()[i]);
                long to = Math.min(end, dr.first()[i] + dr.length()[i] - 1); // the last position predicts outside
                double sum = 0;
                for (long p = from; p < to; p++) {
                    sum += s.values()[(int) (p - s.start())];
                }
                if (to > from) {
                    out.add(new Tuple2<>(new Tuple2<>(s.seqId(), i), new double[] {sum, to - from}));
                }
            }
            return out.iterator();
        }).reduceByKey((a, b) -> new double[] {a[0] + b[0], a[1] + b[1]}).map(t -> {
            DocumentRanges dr = rangesB.value().get(t._1()._1());
            int i = t._1()._2();
            Double nll = t._2()[1] == 0 ? null : -t._2()[0] / t._2()[1];
            return RowFactory.create(dr.doc()[i], t._1()._1(), dr.path()[i], dr.line()[i], dr.length()[i], nll,
                    nll == null ? null : Math.exp(nll));
        });
        spark.createDataFrame(rows, DOCUMENTS).write().parquet(dir);
    }
}
