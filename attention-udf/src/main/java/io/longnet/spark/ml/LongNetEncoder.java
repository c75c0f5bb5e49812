package io.longnet.spark.ml;

import io.longnet.model.LongNetConfig;
import io.longnet.model.LongNetModel;
import io.longnet.spark.SequenceSlice;
import io.longnet.spark.TokenSequences;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.Identifiable$;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Contextual embeddings of token sequences under a LongNet model, as a Spark ML {@link
 * org.apache.spark.ml.Transformer}. Input: the token block layout ({@code seq_id long, block long}, token
 * ids {@code array<int>} in {@code tokensCol}; positions {@code [block * B, block * B + len)}, every block of
 * a sequence full but the last), e.g. {@code TokenBlocks.read} of a dataset made by {@code longnet
 * tokenize}; a DataFrame of whole sequences works with {@code block = 0} while every sequence fits one
 * partition. Output: one row per input block, {@code seq_id, block} and {@code outputCol}
 * ({@code array<array<float>>}): for each position of the block, in order, its {@code d_model} hidden
 * values, so {@code posexplode(hidden)} gives one row per position ({@code block * B + pos}).
 * <p>
 * Param {@code layer}: {@code -1} (the default), the final features (all layers, then the final LayerNorm:
 * what the LM head reads); {@code K} in {@code 0..layers}, the hidden states after K layers (0: the token
 * embeddings), before the final LayerNorm. The same numbers as {@code longnet encode}.
 */
public final class LongNetEncoder extends LongNetModelStage<LongNetEncoder>
        implements HasOutputCol<LongNetEncoder> {

    private static final long serialVersionUID = 1L;

    private final IntParam layer;

    public LongNetEncoder() {
        this(Identifiable$.MODULE$.randomUID("longNetEncoder"));
    }

    public LongNetEncoder(String uid) {
        super(uid);
        layer = new IntParam(this, "layer", "-1: the final features (all layers and the final LayerNorm);"
                + " K in 0..layers: the hidden states after K layers (0: the embeddings)");
        setDefault(outputCol(), "hidden");
        setDefault(layer, -1);
    }

    public IntParam layer() {
        return layer;
    }

    public int getLayer() {
        return (Integer) $(layer);
    }

    public LongNetEncoder setLayer(int value) {
        return setParam(layer, value);
    }

    @Override
    public StructType transformSchema(StructType schema) {
        LongNetConfig config = validate(schema, List.of(getOutputCol()));
        int k = getLayer();
        if (k < -1 || k > config.layers()) {
            throw new IllegalArgumentException("param layer " + k + ": the model has layers 0 (embeddings) to "
                    + config.layers() + "; -1 for the final features");
        }
        return new StructType()
                .add(SEQ_ID, DataTypes.LongType, false)
                .add(BLOCK, DataTypes.LongType, false)
                .add(getOutputCol(), DataTypes.createArrayType(DataTypes.createArrayType(DataTypes.FloatType, false),
                        false), false);
    }

    @Override
    public Dataset<Row> transform(Dataset<?> dataset) {
        StructType outSchema = transformSchema(dataset.schema());
        LongNetModel model = loadModel();
        SparkSession spark = dataset.sparkSession();
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        TokenSequences sequences = sequences(dataset, model, "LongNetEncoder");
        int blockSize = sequences.blockSize();
        int width = model.config().dModel();
        JavaRDD<SequenceSlice> hidden = sequences.hidden(jsc, model, getLayer(), getCheckpointEvery());
        JavaRDD<Row> rows = hidden.flatMap(s -> {
            List<Row> out = new ArrayList<>();
            for (SequenceSlice b : s.byBlock(blockSize, width)) {
                float[][] positions = new float[b.length()][];
                for (int i = 0; i < positions.length; i++) {
                    positions[i] = java.util.Arrays.copyOfRange(b.values(), i * width, (i + 1) * width);
                }
                out.add(RowFactory.create(b.seqId(), b.start() / blockSize, positions));
            }
            return out.iterator();
        });
        return spark.createDataFrame(rows, outSchema);
    }

    /** Reader for {@link #load(String)}; the params are read back as written. */
    public static MLReader<LongNetEncoder> read() {
        return new DefaultParamsReader<>();
    }

    /** Loads a stage written with {@code write().save(path)}. */
    public static LongNetEncoder load(String path) {
        return read().load(path);
    }
}
