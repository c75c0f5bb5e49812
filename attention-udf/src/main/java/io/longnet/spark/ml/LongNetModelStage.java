package io.longnet.spark.ml;

import io.longnet.storage.BlockColumns;
import io.longnet.model.LongNetConfig;
import io.longnet.model.LongNetModel;
import io.longnet.spark.TokenSequences;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.ml.Model;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.util.DefaultParamsWritable;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * What {@link LongNetEncoder} and {@link LongNetScorer} share: a LongNet model directory, the token block
 * input ({@code seq_id long, block long}, and a tokens column of {@code array<int>}, as {@code longnet
 * tokenize} writes it; see {@link TokenSequences} for the layout), and how long sequences are cut for the
 * sequence-parallel plan. Sequences that fit one partition run whole inside a task; longer ones through
 * the sequence-parallel model, one Spark job each. Stages are MLlib {@link Model}s so that
 * {@link LongNetTrainer#fit} can return a scorer of the model it trained.
 *
 * @param <S> the stage itself, so that the setters chain
 */
public abstract sealed class LongNetModelStage<S extends LongNetModelStage<S>> extends Model<S>
        implements DefaultParamsWritable, HasTokensCol<S>, HasPartitionLength<S>, HasBackend<S>,
        HasCheckpointEvery<S>, HasModelPath<S> permits LongNetEncoder, LongNetScorer {

    private static final long serialVersionUID = 1L;

    /** Fixed names of the key columns of the block layout. */
    public static final String SEQ_ID = BlockColumns.SEQ_ID;
    public static final String BLOCK = BlockColumns.BLOCK;

    private final String uid;

    LongNetModelStage(String uid) {
        this.uid = uid;
        declareModelPath();
        declareTokensCol();
        declarePartitionLength();
        declareBackend();
        declareCheckpointEvery();
    }

    @Override
    public String uid() {
        return uid;
    }

    @Override
    public S copy(ParamMap extra) {
        return defaultCopy(extra);
    }

    /** The model directory as a local path (a {@code file:} URI is accepted too). */
    private Path modelDir() {
        String path = getModelPath();
        if (path.isBlank()) {
            throw new IllegalArgumentException("param modelPath is not set: give the directory of a LongNet model"
                    + " (config.json and model.safetensors, e.g. from longnet init-model)");
        }
        return path.startsWith("file:") ? Path.of(URI.create(path)) : Path.of(path);
    }

    /** The model's config, read from {@code modelPath}; throws {@link IllegalArgumentException} when unreadable. */
    public LongNetConfig modelConfig() {
        Path file = modelDir().resolve(LongNetModel.CONFIG_FILE);
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("param modelPath: " + file + " does not exist; modelPath must name"
                    + " the directory of a LongNet model (config.json and model.safetensors)");
        }
        try {
            return LongNetConfig.read(file);
        } catch (IOException e) {
            throw new IllegalArgumentException("param modelPath: cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /** Loads the model (config and weights) on the driver. */
    LongNetModel loadModel() {
        modelConfig();
        try {
            return LongNetModel.load(modelDir());
        } catch (IOException e) {
            throw new IllegalArgumentException("param modelPath: cannot load the model in " + modelDir() + ": "
                    + e.getMessage(), e);
        }
    }

    /**
     * Checks the shared params and input columns against the model's config; returns the config. Output
     * columns named in {@code outputs} must not exist in the input nor be a key column.
     */
    LongNetConfig validate(StructType schema, List<String> outputs) {
        LongNetConfig config = modelConfig();
        validateBackend();
        validatePartitionLength(config.attentionConfig());
        validateCheckpointEvery();
        requireKeyColumns(schema);
        validateTokensCol(schema);
        for (String out : outputs) {
            if (out.isEmpty()) {
                throw new IllegalArgumentException("output column names must not be empty");
            }
        }
        StageColumns.requireNewOutputs(schema, outputs, List.of(SEQ_ID, BLOCK), List.of(getTokensCol()));
        return config;
    }

    /** Checks that {@code schema} has the block layout's key columns, {@code seq_id} and {@code block} (long). */
    static void requireKeyColumns(StructType schema) {
        StageColumns.requireColumn(schema, SEQ_ID, DataTypes.LongType, " (cast it with .cast(\"long\"))");
        StageColumns.requireColumn(schema, BLOCK, DataTypes.LongType, " (cast it with .cast(\"long\"); a DataFrame"
                + " of whole sequences can use withColumn(\"block\", lit(0L)))");
    }

    /** The input's sequences, checked and planned (one small aggregate per sequence reaches the driver). */
    TokenSequences sequences(Dataset<?> dataset, LongNetModel model, String what) {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(dataset.sparkSession().sparkContext());
        String description = jsc.getLocalProperty("spark.job.description");
        jsc.setJobDescription(what + ": sequence lengths");
        try {
            Dataset<Row> rows = dataset.select(functions.col(SEQ_ID), functions.col(BLOCK),
                    functions.col(getTokensCol()).as(BlockColumns.TOKENS));
            return new TokenSequences(rows, 0, model.config(), getPartitionLength(), parsedBackend());
        } finally {
            jsc.setJobDescription(description);
        }
    }
}
