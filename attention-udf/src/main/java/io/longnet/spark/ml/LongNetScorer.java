package io.longnet.spark.ml;

import io.longnet.model.LongNetModel;
import io.longnet.spark.SequenceSlice;
import io.longnet.spark.TokenSequences;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.Identifiable$;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import scala.Tuple2;

/**
 * Log-likelihoods of token sequences under a LongNet model, as a Spark ML {@link
 * org.apache.spark.ml.Transformer}. Input: the token block layout, as for {@link LongNetEncoder}. Output:
 * one row per sequence ({@link #SCHEMA}):
 * <pre>
 * seq_id          long
 * tokens          long     positions of the sequence, n
 * predictions     long     n - 1: every position but the last predicts the next token
 * log_likelihood  double   sum over p &lt; n - 1 of log P(token p+1 | tokens 0..p), in nats (0 when n = 1)
 * mean_nll        double   -log_likelihood / predictions (NULL when n = 1)
 * perplexity      double   exp(mean_nll) (NULL when n = 1)
 * </pre>
 * and, when {@code logProbsCol} is set, that column ({@code array<float>}) with the {@code n - 1}
 * per-token values in position order: the whole sequence's values in one row, so meant for
 * exploration-sized sequences (the {@code longnet score --per-token} job writes them in rows of B instead).
 * The same numbers as {@code longnet score}.
 */
public final class LongNetScorer extends LongNetModelStage<LongNetScorer> {

    private static final long serialVersionUID = 1L;

    /** The per-sequence columns, without the optional per-token one. */
    public static final StructType SCHEMA = new StructType()
            .add(SEQ_ID, DataTypes.LongType, false)
            .add("tokens", DataTypes.LongType, false)
            .add("predictions", DataTypes.LongType, false)
            .add("log_likelihood", DataTypes.DoubleType, false)
            .add("mean_nll", DataTypes.DoubleType, true)
            .add("perplexity", DataTypes.DoubleType, true);

    private final Param<String> logProbsCol;

    public LongNetScorer() {
        this(Identifiable$.MODULE$.randomUID("longNetScorer"));
    }

    public LongNetScorer(String uid) {
        super(uid);
        logProbsCol = new Param<>(this, "logProbsCol", "column to write each sequence's per-token log-probabilities"
                + " to (array<float>, n - 1 values in position order); empty: not written");
        setDefault(logProbsCol, "");
    }

    public Param<String> logProbsCol() {
        return logProbsCol;
    }

    public String getLogProbsCol() {
        return $(logProbsCol);
    }

    public LongNetScorer setLogProbsCol(String value) {
        return setParam(logProbsCol, value);
    }

    @Override
    public StructType transformSchema(StructType schema) {
        String lp = getLogProbsCol();
        validate(schema, lp.isEmpty() ? List.of() : List.of(lp));
        if (!lp.isEmpty() && List.of(SCHEMA.fieldNames()).contains(lp)) {
            throw new IllegalArgumentException("param logProbsCol '" + lp + "' clashes with an output column of "
                    + String.join(", ", SCHEMA.fieldNames()) + "; choose another name");
        }
        return outputSchema(lp);
    }

    private static StructType outputSchema(String logProbsCol) {
        return logProbsCol.isEmpty() ? SCHEMA
                : SCHEMA.add(logProbsCol, DataTypes.createArrayType(DataTypes.FloatType, false), false);
    }

    @Override
    public Dataset<Row> transform(Dataset<?> dataset) {
        transformSchema(dataset.schema());
        LongNetModel model = loadModel();
        SparkSession spark = dataset.sparkSession();
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        TokenSequences sequences = sequences(dataset, model, "LongNetScorer");
        return perSequence(spark, sequences.nextTokenLogProbs(jsc, model, getCheckpointEvery()),
                getLogProbsCol());
    }

    /**
     * Per-sequence totals ({@link #SCHEMA}) of next-token log-probabilities, as {@link
     * TokenSequences#nextTokenLogProbs} gives them; with {@code logProbsCol} non-empty, also each
     * sequence's values in one array column of that name.
     */
    public static Dataset<Row> perSequence(SparkSession spark, JavaRDD<SequenceSlice> logProbs, String logProbsCol) {
        JavaRDD<Row> rows;
        if (logProbsCol.isEmpty()) {
            rows = logProbs.mapToPair(s -> new Tuple2<>(s.seqId(), new double[] {sum(s.values()), s.length()}))
                    .reduceByKey((a, b) -> new double[] {a[0] + b[0], a[1] + b[1]})
                    .map(t -> summary(t._1(), t._2()[0], (long) t._2()[1], null));
        } else {
            rows = logProbs.mapToPair(s -> new Tuple2<>(s.seqId(), s)).groupByKey().map(t -> {
                List<SequenceSlice> slices = new ArrayList<>();
                t._2().forEach(slices::add);
                slices.sort(java.util.Comparator.comparingLong(SequenceSlice::start));
                int total = 0;
                for (SequenceSlice s : slices) {
                    total += s.length();
                }
                float[] all = new float[total];
                int at = 0;
                for (SequenceSlice s : slices) {
                    System.arraycopy(s.values(), 0, all, at, s.length());
                    at += s.length();
                }
                return summary(t._1(), sum(all), total, all);
            });
        }
        return spark.createDataFrame(rows, outputSchema(logProbsCol));
    }

    private static Row summary(long seq, double logLikelihood, long predictions, float[] values) {
        Double nll = predictions == 0 ? null : -logLikelihood / predictions;
        Double perplexity = nll == null ? null : Math.exp(nll);
        return values == null ? RowFactory.create(seq, predictions + 1, predictions, logLikelihood, nll, perplexity)
                : RowFactory.create(seq, predictions + 1, predictions, logLikelihood, nll, perplexity, values);
    }

    private static double sum(float[] v) {
        double s = 0;
        for (float x : v) {
            s += x;
        }
        return s;
    }

    /** Reader for {@link #load(String)}; the params are read back as written. */
    public static MLReader<LongNetScorer> read() {
        return new DefaultParamsReader<>();
    }

    /** Loads a stage written with {@code write().save(path)}. */
    public static LongNetScorer load(String path) {
        return read().load(path);
    }
}
